"""Checks on what a revision carries, shared by both backends."""

from __future__ import annotations

from typing import Any

from vdm.errors import InvalidInputError
from vdm.naming import AUTHOR_LENGTH


def check_revision_metadata(author: Any, message: Any) -> None:
    """Raise :class:`InvalidInputError` unless author and message can be stored.

        >>> check_revision_metadata("me", "fix typo")
        >>> check_revision_metadata(42, None)
        Traceback (most recent call last):
        ...
        vdm.errors.InvalidInputError: Revision author must be a str, not int
    """
    for name, value in (("author", author), ("message", message)):
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(
                f"Revision {name} must be a str, not {type(value).__name__}"
            )
    if author is not None and len(author) > AUTHOR_LENGTH:
        raise InvalidInputError(
            f"Revision author is {len(author)} characters long; "
            f"the revision table keeps at most {AUTHOR_LENGTH}"
        )
