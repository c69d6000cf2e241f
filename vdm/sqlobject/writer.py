"""Writing version rows: set-based statements, one batch per table.

The event handlers (:mod:`vdm.sqlobject.session`) only stamp
``revision_id`` on the rows SQLObject writes and record which ids of which
versioned class were inserted, updated or destroyed.  When the session
flushes (at commit, or before it reads history), :func:`write_versions`
writes their versions with a constant number of statements per table,
whatever the number of objects, by ``INSERT ... SELECT`` from the live
table (or, for destroyed rows, from their current version).

Within one revision each object keeps one version: a later flush replaces
the row this revision wrote earlier, keeping its operation (an object
created in this revision stays an insert), and an object created and
destroyed in the same revision leaves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE
from vdm.operations import Operation
from vdm.sqlobject.declaration import Versioning
from vdm.sqlobject.dialect import chunks, in_clause, literal
from vdm.states import State


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
    operation; it is updated in place.
    """
    created = changes.inserted - changes.deleted
    deleted = changes.deleted
    changed = (created | changes.updated) - deleted
    copies: dict[Operation, set[Any]] = {Operation.INSERT: set(), Operation.UPDATE: set()}
    for key in changed:
        earlier = written.get(key)
        if earlier is Operation.INSERT or (earlier is None and key in created):
            copies[Operation.INSERT].add(key)
        else:
            copies[Operation.UPDATE].add(key)
    # Created and destroyed between two flushes: nothing to record.
    transient = changes.inserted & changes.deleted - set(written)
    deleted = deleted - transient
    vanish = {k for k in deleted if written.get(k) is Operation.INSERT}
    now_deleted = {k for k in deleted if written.get(k) is Operation.UPDATE}
    to_delete = deleted - vanish - now_deleted - {
        k for k in deleted if written.get(k) is Operation.DELETE
    }
    replace = {k for k in changed if k in written}

    vt, idn = v.version_table, v.id_name
    for batch in chunks(replace | vanish):
        conn.query(f"DELETE FROM {vt} WHERE {in_clause(conn, idn, batch)} "
                   f"AND {REVISION_ID} = {rid}")
    for batch in chunks(vanish):
        conn.query(f"UPDATE {vt} SET {EXPIRED_ID} = NULL WHERE "
                   f"{in_clause(conn, idn, batch)} AND {EXPIRED_ID} = {rid}")
    for batch in chunks(now_deleted):
        conn.query(f"UPDATE {vt} SET {OPERATION_TYPE} = {int(Operation.DELETE)} "
                   f"WHERE {in_clause(conn, idn, batch)} AND {REVISION_ID} = {rid}")
    _copy_current_as_delete(conn, v, to_delete, rid)
    for op, keys in copies.items():
        _copy_live(conn, v, keys, rid, op)
    for batch in chunks((changed | to_delete) - set(written)):
        conn.query(
            f"UPDATE {vt} SET {EXPIRED_ID} = {rid} WHERE "
            f"{in_clause(conn, idn, batch)} AND {EXPIRED_ID} IS NULL "
            f"AND {REVISION_ID} <> {rid}"
        )

    for key in vanish:
        del written[key]
    for key in now_deleted | to_delete:
        written[key] = Operation.DELETE
    for op, keys in copies.items():
        for key in keys:
            written[key] = op


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
