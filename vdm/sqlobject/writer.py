"""Writing version rows: set-based statements, one batch per table.

The event handlers (:mod:`vdm.sqlobject.session`) only stamp
``revision_id`` on the rows SQLObject writes and record which ids of which
versioned class were inserted, updated or destroyed.  When the session
flushes (at commit, or before it reads history), :func:`write_versions`
asks :func:`vdm.writeplan.plan_versions` (the core both backends share)
what to write, and writes it with a constant number of statements per
table, whatever the number of objects, by ``INSERT ... SELECT`` from the
live table (or, for destroyed rows, from their current version).

Within one revision each object keeps one version: a later flush replaces
the row this revision wrote earlier, keeping its operation (an object
created in this revision stays an insert), and an object created and
destroyed in the same revision leaves nothing.  The plan reads a key both
destroyed and created in one flush as destroyed *then* created again; the
session flushes before any other order (see :meth:`Session.record`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE
from vdm.operations import Operation
from vdm.sqlobject.declaration import Versioning
from vdm.sqlobject.dialect import chunks, in_clause, literal
from vdm.states import State
from vdm.writeplan import plan_versions


@dataclass
class TableChanges:
    """Ids of one versioned class changed since the last flush."""

    inserted: set[Any] = field(default_factory=set)
    updated: set[Any] = field(default_factory=set)
    deleted: set[Any] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)


def write_versions(
    conn: Any, v: Versioning, changes: TableChanges, rid: int,
    written: dict[Any, Operation],
) -> None:
    """Write the versions of one class's changes for revision ``rid``.

    ``written`` maps the ids this revision already versioned to their
    operation; it is updated in place.  What to write is planned by
    :func:`vdm.writeplan.plan_versions`, as for the SQLAlchemy backend.
    """
    plan = plan_versions(changes.inserted, changes.updated, changes.deleted, written)
    vt, idn = v.version_table, v.id_name
    for batch in chunks(plan.drop_own):
        conn.query(f"DELETE FROM {vt} WHERE {in_clause(conn, idn, batch)} "
                   f"AND {REVISION_ID} = {rid}")
    for batch in chunks(plan.unexpire):
        conn.query(f"UPDATE {vt} SET {EXPIRED_ID} = NULL WHERE "
                   f"{in_clause(conn, idn, batch)} AND {EXPIRED_ID} = {rid}")
    for batch in chunks(plan.mark_deleted):
        conn.query(f"UPDATE {vt} SET {OPERATION_TYPE} = {int(Operation.DELETE)} "
                   f"WHERE {in_clause(conn, idn, batch)} AND {REVISION_ID} = {rid}")
    _copy_current_as_delete(conn, v, plan.copy_current_as_delete, rid)
    for op, keys in plan.copy_live.items():
        _copy_live(conn, v, keys, rid, op)
    for batch in chunks(plan.expire_previous):
        conn.query(
            f"UPDATE {vt} SET {EXPIRED_ID} = {rid} WHERE "
            f"{in_clause(conn, idn, batch)} AND {EXPIRED_ID} IS NULL "
            f"AND {REVISION_ID} <> {rid}"
        )
    written.clear()
    written.update(plan.written)


def _copy_current_as_delete(conn: Any, v: Versioning, keys: set[Any], rid: int) -> None:
    names = v.live_columns
    if not v.stateful:
        names = [*names, STATE]
    names = [n for n in names if n != REVISION_ID]
    cols = ", ".join(names)
    for batch in chunks(keys):
        conn.query(
            f"INSERT INTO {v.version_table} ({cols}, {REVISION_ID}, {OPERATION_TYPE}) "
            f"SELECT {cols}, {rid}, {int(Operation.DELETE)} FROM {v.version_table} "
            f"WHERE {in_clause(conn, v.id_name, batch)} AND {EXPIRED_ID} IS NULL "
            f"AND {REVISION_ID} <> {rid}"
        )


def _copy_live(conn: Any, v: Versioning, keys: set[Any], rid: int, op: Operation) -> None:
    names = v.live_columns
    target = [*names, OPERATION_TYPE]
    source = [*names, str(int(op))]
    if not v.stateful:
        target.append(STATE)
        source.append(literal(conn, State.ACTIVE))
    for batch in chunks(keys):
        conn.query(
            f"INSERT INTO {v.version_table} ({', '.join(target)}) "
            f"SELECT {', '.join(source)} FROM {v.table} "
            f"WHERE {in_clause(conn, v.id_name, batch)}"
        )
