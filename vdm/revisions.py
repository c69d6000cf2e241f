"""What a revision carries, and the checks on it, shared by both backends."""

from __future__ import annotations

import copy
import datetime as dt
import secrets
from typing import Any

from vdm.errors import InvalidInputError
from vdm.naming import AUTHOR_LENGTH
from vdm.states import State


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


def revision_metadata(revision: Any) -> dict[str, Any]:
    """What a revision row keeps besides id and timestamp (a copy, on both backends)."""
    return {"author": revision.author, "message": revision.message,
            "state": State.coerce(revision.state), "extra": copy.deepcopy(revision.extra)}


def changed_metadata(
    revision: Any, stored: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(current, changed)``: the revision's metadata now, and what differs from ``stored``.

    What is on a revision at commit is what is stored, so each backend
    writes ``changed`` before committing; the values are checked first.

        >>> class Rev: author, message, state, extra = "me", "typo", "active", None
        >>> stored = revision_metadata(Rev())
        >>> Rev.message = "fix typo"
        >>> changed_metadata(Rev(), stored)[1]
        {'message': 'fix typo'}
    """
    current = revision_metadata(revision)
    changed = {k: v for k, v in current.items() if stored.get(k) != v}
    if changed:
        check_revision_metadata(current["author"], current["message"])
    return current, changed


#: Revision ids from here up are provisional: a writing transaction's id
#: until the final step of its commit gives it the next real one.  Above
#: every real id, a provisional revision reads as "later than any committed
#: one" (as-of reads of committed revisions within the transaction skip its
#: own changes), and real ids stay below it (a billion revisions).
PROVISIONAL_IDS_FROM = 2**30

#: The timestamp a revision row carries while its id is provisional: far
#: below every real one, so such rows never sit among the latest revisions.
PROVISIONAL_TIMESTAMP = dt.datetime(1970, 1, 1)


def provisional_revision_id() -> int:
    """A provisional id for a revision, until commit gives it its final one.

    Random, so taking one needs no lock; the ``revision`` table's primary
    key refuses the (one in a billion) clash with another open revision,
    and the caller draws again.

        >>> PROVISIONAL_IDS_FROM <= provisional_revision_id() < 2**31
        True
    """
    return PROVISIONAL_IDS_FROM + secrets.randbelow(2**31 - PROVISIONAL_IDS_FROM)


def is_provisional(revision_id: int | None) -> bool:
    """True for an id :func:`provisional_revision_id` gave."""
    return revision_id is not None and revision_id >= PROVISIONAL_IDS_FROM


class RevisionFields:
    """The constructor and repr both backends' ``Revision`` classes share.

    ``author``, ``message``, ``extra`` (JSON metadata) and ``state`` are the
    revision's own; ``id`` and ``timestamp`` are set by the backend when the
    revision is written.
    """

    id: int | None
    timestamp: dt.datetime | None
    author: str | None
    message: str | None
    state: State
    extra: Any

    def __init__(
        self,
        author: str | None = None,
        message: str | None = None,
        extra: Any = None,
        state: State | str = State.ACTIVE,
    ) -> None:
        check_revision_metadata(author, message)
        self.author = author
        self.message = message
        self.extra = extra
        self.state = State.coerce(state)

    def __repr__(self) -> str:
        ident = "uncommitted" if self.id is None else f"id={self.id}"
        return f"<Revision {ident} author={self.author!r} message={self.message!r}>"
