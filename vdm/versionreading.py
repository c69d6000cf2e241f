"""What every version knows about its own change, on both backends.

A backend's version class provides ``operation_type``, ``field_values``
(``{field: value}`` of the object's own columns and ``state``),
``previous`` (the version it replaced, or None) and
``__versioning__.fields``; this mixin turns them into ``changeset`` and
``diff`` with the same meaning everywhere.
"""

from __future__ import annotations

from typing import Any, ClassVar

from vdm.difftext import diff_values, version_changeset
from vdm.operations import Operation


class VersionReading:
    """Mixin of both backends' version classes: ``changeset`` and ``diff``."""

    operation_type: Operation
    __versioning__: ClassVar[Any]

    @property
    def field_values(self) -> dict[str, Any]:
        """``{field: value}`` for the object's own columns and ``state``."""
        raise NotImplementedError

    @property
    def previous(self) -> Any:
        """The version this one replaced, or None."""
        raise NotImplementedError

    @property
    def changeset(self) -> dict[str, list[Any]]:
        """``{field: [old, new]}`` for the fields this version changed."""
        def previous() -> tuple[Operation, dict[str, Any]] | None:
            found = self.previous
            return None if found is None else (found.operation_type, found.field_values)

        return version_changeset(self.operation_type, self.field_values, previous,
                                 list(type(self).__versioning__.fields))

    def diff(self, other: Any = None) -> dict[str, str]:
        """``{field: text}`` from ``other`` (default: the previous version) to this one."""
        if other is None:
            other = self.previous
        old = other.field_values if other is not None else {}
        return diff_values(old, self.field_values, list(type(self).__versioning__.fields))
