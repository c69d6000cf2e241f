"""As-of predicates and revision resolution shared by every history read.

A version is valid from ``revision_id`` until ``expired_id`` (exclusive);
"as of R" is the version with ``revision_id <= R`` and no expiry at or
before R, unless it records a delete.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, inspect, or_, select
from sqlalchemy.orm import Session

from vdm.errors import InvalidInputError, RevisionNotFoundError
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID
from vdm.operations import Operation
from vdm.sqlalchemy.revision import Revision, revision_table

RevisionRef = Revision | int | dt.datetime


def current_as_of(version_table: Table, revision_id: int) -> ColumnElement[bool]:
    """Rows of ``version_table`` that are the live data as of ``revision_id``."""
    c = version_table.c
    return and_(
        c[REVISION_ID] <= revision_id,
        or_(c[EXPIRED_ID].is_(None), c[EXPIRED_ID] > revision_id),
        c[OPERATION_TYPE] != Operation.DELETE,
    )


def resolve_revision(session: Session, revision: RevisionRef | None) -> int:
    """Turn a :class:`Revision`, an id or a datetime into a revision id.

    ``None`` means the youngest revision.  Raises
    :class:`RevisionNotFoundError` when nothing matches.
    """
    if isinstance(revision, Revision):
        # The identity holds the id even when the object is detached and
        # expired (e.g. read in a session that has since been closed).
        identity = inspect(revision).identity
        written = identity[0] if identity is not None else revision.__dict__.get("id")
        if written is None:
            raise RevisionNotFoundError(
                f"{revision!r} has not been written yet; flush or commit "
                f"its changes before reading history as of it",
                revision=revision,
            )
        # A Revision from another database may carry an id unknown here.
        return resolve_revision(session, int(written))
    if revision is None:
        youngest = session.execute(select(func.max(revision_table.c.id))).scalar()
        if youngest is None:
            raise RevisionNotFoundError(
                "the database has no revision yet; commit one first"
            )
        return int(youngest)
    if isinstance(revision, dt.datetime):
        return _revision_at(session, revision)
    if isinstance(revision, bool) or not isinstance(revision, int):
        raise InvalidInputError(
            f"a revision is a Revision, an id (int) or a datetime, "
            f"not {type(revision).__name__}"
        )
    found = session.execute(
        select(revision_table.c.id).where(revision_table.c.id == revision)
    ).scalar()
    if found is None:
        raise RevisionNotFoundError(
            f"there is no revision with id {revision}; use an id from "
            f"the history (Repository.history())",
            revision=revision,
        )
    return revision


def _revision_at(session: Session, when: dt.datetime) -> int:
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    found = session.execute(
        select(func.max(revision_table.c.id)).where(
            revision_table.c.timestamp <= when
        )
    ).scalar()
    if found is None:
        raise RevisionNotFoundError(
            f"there is no revision at or before {when.isoformat()} (UTC); "
            f"the history starts later",
            revision=when,
        )
    return int(found)


def revision_value(obj: Any) -> Any:
    """``obj.revision_id`` without loading anything."""
    versioning = getattr(type(obj), "__versioning__", None)
    return obj.__dict__.get(versioning.revision_id_key if versioning else REVISION_ID)
