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
destroyed in the same revision leaves nothing.  A change undone within
the revision (a value set and set back, ``delete()`` then ``undelete()``)
leaves nothing either (:func:`drop_net_noops`).  The plan reads a key both
destroyed and created in one flush as destroyed *then* created again; the
session flushes before any other order (see :meth:`Session.record`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE
from vdm.operations import Operation
from vdm.sqlobject.dialect import chunks, in_clause, literal
from vdm.sqlobject.registry import Versioning
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
    current: dict[Any, Any] | None = None,
    expire_later: set[Any] | None = None,
) -> None:
    """Write the versions of one class's changes for revision ``rid``.

    ``written`` maps the ids this revision already versioned to their
    operation; it is updated in place.  What to write is planned by
    :func:`vdm.writeplan.plan_versions`, as for the SQLAlchemy backend.

    With ``expire_later`` (MySQL/MariaDB, whose searches by key range lock
    gaps until commit), previous versions are closed by their full primary
    key where ``current`` (id -> revision of the current version) knows
    it; the other ids go into ``expire_later``, for :func:`expire_previous`
    in the final step of the commit.
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
    expire = plan.expire_previous
    if expire_later is not None:
        known = {k: current[k] for k in expire if current and k in current}
        for key, previous in sorted(known.items(), key=repr):
            conn.query(
                f"UPDATE {vt} FORCE INDEX (PRIMARY) SET {EXPIRED_ID} = {rid} WHERE "
                f"{idn} = {literal(conn, key)} AND {REVISION_ID} = {int(previous)} "
                f"AND {EXPIRED_ID} IS NULL")
        expire_later |= expire - set(known)
    else:
        expire_previous(conn, v, expire, rid)
    written.clear()
    written.update(plan.written)


def expire_previous(conn: Any, v: Versioning, keys: set[Any], rid: int) -> None:
    """Close the current versions of ``keys`` other than ``rid``'s own."""
    for batch in chunks(keys):
        conn.query(
            f"UPDATE {v.version_table} SET {EXPIRED_ID} = {rid} WHERE "
            f"{in_clause(conn, v.id_name, batch)} AND {EXPIRED_ID} IS NULL "
            f"AND {REVISION_ID} <> {rid}"
        )


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


def drop_net_noops(
    conn: Any, v: Versioning, candidates: set[Any], rid: int,
    written: dict[Any, Operation],
) -> dict[Any, int]:
    """Forget the changes of ``candidates`` that this revision undid again.

    ``candidates`` are ids this revision updated more than once (a single
    real update cannot end where it started).  Those whose live row equals
    the version current before the revision are no change at all: the
    version this revision wrote for them (by an earlier flush) goes, the
    one before is current again, and the live row gets its old
    ``revision_id`` back.  Values are compared in Python, not SQL, so that
    a case-insensitive collation or padded comparison cannot take a real
    change for none.  Returns ``{id: revision_id restored}``; ``written``
    is updated in place.
    """
    names = [c for c in v.live_columns if c != REVISION_ID]
    undone: dict[Any, int] = {}
    for batch in chunks(candidates):
        rows = conn.queryAll(
            f"SELECT {', '.join('l.' + n for n in names)}, "
            f"{', '.join('p.' + n for n in names)}, p.{REVISION_ID} "
            f"FROM {v.table} l JOIN {v.version_table} p ON p.{v.id_name} = l.{v.id_name} "
            f"AND p.{REVISION_ID} <> {rid} AND (p.{EXPIRED_ID} IS NULL OR "
            f"p.{EXPIRED_ID} = {rid}) AND p.{OPERATION_TYPE} <> {int(Operation.DELETE)} "
            f"WHERE {in_clause(conn, 'l.' + v.id_name, batch)}"
        )
        width = len(names)
        for row in rows:
            if tuple(row[:width]) == tuple(row[width:2 * width]):
                undone[row[0]] = int(row[-1])
    if not undone:
        return undone
    versioned = [k for k in undone if k in written]
    for batch in chunks(versioned):
        conn.query(f"DELETE FROM {v.version_table} WHERE "
                   f"{in_clause(conn, v.id_name, batch)} AND {REVISION_ID} = {rid}")
        conn.query(f"UPDATE {v.version_table} SET {EXPIRED_ID} = NULL WHERE "
                   f"{in_clause(conn, v.id_name, batch)} AND {EXPIRED_ID} = {rid}")
    by_previous: dict[int, list[Any]] = {}
    for key, previous in undone.items():
        by_previous.setdefault(previous, []).append(key)
        written.pop(key, None)
    for previous, keys in by_previous.items():
        for batch in chunks(keys):
            conn.query(f"UPDATE {v.table} SET {REVISION_ID} = {previous} "
                       f"WHERE {in_clause(conn, v.id_name, batch)}")
    return undone


def drop_recreated_noops(
    conn: Any, v: Versioning, recreated: set[Any], rid: int,
    written: dict[Any, Operation],
) -> dict[Any, int]:
    """Forget objects this revision destroyed and then created again unchanged.

    Their version of ``rid`` (an update after the destroy) equals the one
    the destroy expired: it goes, that one is current again and the live
    row gets its old ``revision_id`` back.  Returns ``{id: revision_id
    restored}``; ``written`` is updated in place.
    """
    names = [c for c in v.version_columns
             if c not in (REVISION_ID, EXPIRED_ID, OPERATION_TYPE)]
    undone: dict[Any, int] = {}
    for batch in chunks(recreated):
        rows = conn.queryAll(
            f"SELECT {', '.join('o.' + n for n in names)}, "
            f"{', '.join('p.' + n for n in names)}, p.{REVISION_ID} "
            f"FROM {v.version_table} o JOIN {v.version_table} p "
            f"ON p.{v.id_name} = o.{v.id_name} AND p.{EXPIRED_ID} = {rid} "
            f"AND p.{OPERATION_TYPE} <> {int(Operation.DELETE)} "
            f"WHERE o.{REVISION_ID} = {rid} AND {in_clause(conn, 'o.' + v.id_name, batch)}"
        )
        width = len(names)
        for row in rows:
            if tuple(row[:width]) == tuple(row[width:2 * width]):
                undone[row[names.index(v.id_name)]] = int(row[-1])
    for key, previous in undone.items():
        ident = literal(conn, key)
        conn.query(f"DELETE FROM {v.version_table} WHERE {v.id_name} = {ident} "
                   f"AND {REVISION_ID} = {rid}")
        conn.query(f"UPDATE {v.version_table} SET {EXPIRED_ID} = NULL WHERE "
                   f"{v.id_name} = {ident} AND {REVISION_ID} = {previous}")
        conn.query(f"UPDATE {v.table} SET {REVISION_ID} = {previous} "
                   f"WHERE {v.id_name} = {ident}")
        written.pop(key, None)
    return undone
