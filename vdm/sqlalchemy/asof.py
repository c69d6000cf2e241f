"""As-of predicates of every history read, as SQLAlchemy expressions.

Revisions resolve in the core (:func:`vdm.versionreading.resolve_revision`,
re-exported here); this module tells it how to read a :class:`Revision`'s id.

A version is valid from ``revision_id`` until ``expired_id`` (exclusive);
"as of R" is the version with ``revision_id <= R`` and no expiry at or
before R, unless it records a delete.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Table, and_, inspect, or_

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID
from vdm.operations import Operation
from vdm.sqlalchemy import sqlrunner  # noqa: F401 - sessions become vdm.sql sources
from vdm.sqlalchemy.revision import Revision
from vdm.versionreading import register_revision_type
from vdm.versionreading import resolve_revision as resolve_revision

RevisionRef = Revision | int | dt.datetime


def current_as_of(version_table: Table, revision_id: int) -> ColumnElement[bool]:
    """Rows of ``version_table`` that are the live data as of ``revision_id``."""
    c = version_table.c
    return and_(
        c[REVISION_ID] <= revision_id,
        or_(c[EXPIRED_ID].is_(None), c[EXPIRED_ID] > revision_id),
        c[OPERATION_TYPE] != Operation.DELETE,
    )


def _written_id(revision: Revision) -> int | None:
    # The identity holds the id even when the object is detached and
    # expired (e.g. read in a session that has since been closed).
    identity = inspect(revision).identity
    written = identity[0] if identity is not None else revision.__dict__.get("id")
    return None if written is None else int(written)


register_revision_type(Revision, _written_id)
