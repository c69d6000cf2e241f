"""What a version row records: an insert, an update or a (hard) delete."""

from __future__ import annotations

from enum import IntEnum


class Operation(IntEnum):
    """The ``operation_type`` of a version row (stored as 0, 1 or 2)."""

    INSERT = 0
    UPDATE = 1
    DELETE = 2
