"""Writing version rows: set-based statements, one batch per table.

The event handlers (:mod:`vdm.sqlobject.session`) only stamp
``revision_id`` on the rows SQLObject writes and record which ids of which
versioned class were inserted, updated or destroyed.  When the session
flushes (at commit, or before it reads history), the core's
:func:`vdm.versionwrite.write_versions` (imported here under its name)
writes their versions with a constant number of statements per table,
whatever the number of objects, by ``INSERT ... SELECT`` from the live
table (or, for destroyed rows, from their current version).

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

from typing import Any

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID
from vdm.operations import Operation
from vdm.sqlobject.dialect import chunks, in_clause, literal
from vdm.sqlobject.registry import Versioning
from vdm.versionwrite import TableChanges as TableChanges
from vdm.versionwrite import expire_previous as expire_previous
from vdm.versionwrite import write_versions as write_versions


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
