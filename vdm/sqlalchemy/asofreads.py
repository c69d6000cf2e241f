"""Running a statement as of a revision: the versions it loads are the read's own.

Below the version class (:mod:`vdm.sqlalchemy.versions`) and the readers
that use it (versioned links, plain many-to-many links, the whole-model
view), so none of them imports another in a circle.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable
from sqlalchemy.orm import Session

from vdm.versionreading import VersionReading

#: The execution option naming the revision a statement's versions are read as of
#: (:mod:`vdm.sqlalchemy.versions` binds each version it loads to it).
AS_OF_OPTION = "vdm_as_of"


def _bound(value: Any, revision_id: int, session: Session) -> Any:
    # Only vdm.sqlalchemy's versions come out of a Session.
    if not isinstance(value, VersionReading):
        return value
    version: Any = value
    return version._bound_as_of(revision_id, session)


def scalars_as_of(session: Session, statement: Executable, revision_id: int,
                  params: dict[str, Any] | None = None) -> list[Any]:
    """Run ``statement`` and bind every version it returns to ``revision_id``.

    One statement; the versions it loads are the read's own objects (they
    leave the identity map), so two as-of reads never share a version and
    binding costs nothing beyond the ORM's own loading.
    """
    with session.no_autoflush:
        rows = session.scalars(statement, params,
                               execution_options={AS_OF_OPTION: revision_id}).all()
    return [_bound(row, revision_id, session) for row in rows]


def relationship_as_of(session: Session, query: Any, revision_id: int, prop: Any) -> Any:
    """What relationship ``prop`` of a version holds as of ``revision_id``,
    ``query`` selecting its targets: the query itself for a dynamic or
    write-only relationship, else the list, or the one object (or None).
    """
    if prop.lazy in ("dynamic", "write_only"):
        return query
    rows = scalars_as_of(session, query, revision_id)
    if prop.uselist:
        return rows
    return rows[0] if rows else None


def rows_as_of(session: Session, statement: Executable, revision_id: int) -> list[tuple[Any, ...]]:
    """Like :func:`scalars_as_of` for statements returning several columns."""
    with session.no_autoflush:
        rows = session.execute(statement, execution_options={AS_OF_OPTION: revision_id}).all()
    return [tuple(_bound(v, revision_id, session) for v in row) for row in rows]
