"""Writing version rows: set-based statements, one batch per table.

The flush hooks (:mod:`vdm.sqlalchemy.session`) only record which keys of
which versioned table were inserted, updated or deleted; :func:`write_versions`
then writes their versions with a constant number of statements per table,
whatever the number of objects: rows are copied from the live table (or,
for deletes, from the current version) by ``INSERT ... SELECT``.

Within one revision each object keeps one version: a later flush replaces
the row this revision wrote earlier, keeping its operation (an object
created in this revision stays an insert), and an object created and
destroyed in the same revision leaves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, literal, select, update

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE
from vdm.operations import Operation
from vdm.sqlalchemy.mapping import Key, Versioning
from vdm.states import State

#: Keys per statement; keeps IN lists well inside every database's limits.
CHUNK = 500


@dataclass
class TableChanges:
    """Keys of one versioned table changed by the flush under way."""

    inserted: set[Key] = field(default_factory=set)
    updated: set[Key] = field(default_factory=set)
    deleted: set[Key] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)


def chunks(keys: Iterable[Key]) -> Iterator[list[Key]]:
    """Split ``keys`` into lists of at most :data:`CHUNK`."""
    batch: list[Key] = []
    for key in sorted(keys, key=repr):
        batch.append(key)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def write_versions(
    connection: Connection,
    versioning: Versioning,
    changes: TableChanges,
    revision_id: int,
    written: dict[Key, Operation],
) -> None:
    """Write the versions of one table's changes for revision ``revision_id``.

    ``written`` maps the keys this revision already versioned to their
    operation; it is updated in place.
    """
    # An object deleted and re-created in one flush is an update of it.
    recreated = changes.deleted & changes.inserted
    deleted = changes.deleted - recreated
    copies: dict[Operation, set[Key]] = {Operation.INSERT: set(), Operation.UPDATE: set()}
    for key in changes.inserted | changes.updated:
        earlier = written.get(key)
        if earlier is Operation.INSERT:
            copies[Operation.INSERT].add(key)
        elif earlier is not None or key in recreated or key in changes.updated:
            copies[Operation.UPDATE].add(key)
        else:
            copies[Operation.INSERT].add(key)

    vanish = {k for k in deleted if written.get(k) is Operation.INSERT}
    now_deleted = {k for k in deleted if written.get(k) is Operation.UPDATE}
    to_delete = deleted - vanish - now_deleted
    replace = {k for k in changes.inserted | changes.updated if k in written}

    _drop_own_rows(connection, versioning, replace | vanish, revision_id)
    _unexpire(connection, versioning, vanish, revision_id)
    _mark_deleted(connection, versioning, now_deleted, revision_id)
    _copy_current_as_delete(connection, versioning, to_delete, revision_id)
    for op, keys in copies.items():
        _copy_live(connection, versioning, keys, revision_id, op)
    _expire_previous(
        connection, versioning,
        (changes.inserted | changes.updated | to_delete) - set(written),
        revision_id,
    )

    for key in vanish:
        del written[key]
    for key in now_deleted | to_delete:
        written[key] = Operation.DELETE
    for op, keys in copies.items():
        for key in keys:
            written[key] = op


def _drop_own_rows(conn: Connection, v: Versioning, keys: set[Key], rid: int) -> None:
    vt = v.version_table
    for batch in chunks(keys):
        conn.execute(
            delete(vt).where(v.version_key_clause(batch), vt.c[REVISION_ID] == rid)
        )


def _unexpire(conn: Connection, v: Versioning, keys: set[Key], rid: int) -> None:
    vt = v.version_table
    for batch in chunks(keys):
        conn.execute(
            update(vt)
            .where(v.version_key_clause(batch), vt.c[EXPIRED_ID] == rid)
            .values({EXPIRED_ID: None})
        )


def _mark_deleted(conn: Connection, v: Versioning, keys: set[Key], rid: int) -> None:
    vt = v.version_table
    for batch in chunks(keys):
        conn.execute(
            update(vt)
            .where(v.version_key_clause(batch), vt.c[REVISION_ID] == rid)
            .values({OPERATION_TYPE: Operation.DELETE})
        )


def _copy_current_as_delete(
    conn: Connection, v: Versioning, keys: set[Key], rid: int
) -> None:
    vt = v.version_table
    bookkeeping = (REVISION_ID, EXPIRED_ID, OPERATION_TYPE)
    names = [c.name for c in vt.c if c.name not in bookkeeping]
    for batch in chunks(keys):
        source = select(
            *(vt.c[n] for n in names),
            literal(rid, vt.c[REVISION_ID].type),
            literal(Operation.DELETE, vt.c[OPERATION_TYPE].type),
        ).where(
            v.version_key_clause(batch),
            vt.c[EXPIRED_ID].is_(None),
            vt.c[REVISION_ID] != rid,
        )
        conn.execute(
            vt.insert().from_select([*names, REVISION_ID, OPERATION_TYPE], source)
        )


def _copy_live(
    conn: Connection, v: Versioning, keys: set[Key], rid: int, op: Operation
) -> None:
    vt = v.version_table
    live = v.table
    names = [c.name for c in live.c]
    extra: list[Any] = [literal(op, vt.c[OPERATION_TYPE].type)]
    target = [*names, OPERATION_TYPE]
    if not v.stateful:
        extra.append(literal(State.ACTIVE, vt.c[STATE].type))
        target.append(STATE)
    for batch in chunks(keys):
        source = select(*(live.c[n] for n in names), *extra).where(
            v.live_key_clause(batch)
        )
        conn.execute(vt.insert().from_select(target, source))


def _expire_previous(conn: Connection, v: Versioning, keys: set[Key], rid: int) -> None:
    vt = v.version_table
    for batch in chunks(keys):
        conn.execute(
            update(vt)
            .where(
                v.version_key_clause(batch),
                vt.c[EXPIRED_ID].is_(None),
                vt.c[REVISION_ID] != rid,
            )
            .values({EXPIRED_ID: rid})
        )
