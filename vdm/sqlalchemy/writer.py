"""Writing version rows: set-based statements, one batch per table.

The flush hooks (:mod:`vdm.sqlalchemy.session`) only record which keys of
which versioned table were inserted, updated or deleted;
:func:`write_versions` asks :func:`vdm.writeplan.plan_versions` what to
write and runs the plan with a constant number of statements per table,
whatever the number of objects: rows are copied from the live table (or,
for deletes, from the current version) by ``INSERT ... SELECT``.

The statements of each table are built once (:class:`TableStatements`)
with expanding key lists, so a flush only binds parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, partial
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Executable,
    Insert,
    Integer,
    and_,
    bindparam,
    delete,
    literal,
    null,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE
from vdm.operations import Operation
from vdm.sqlalchemy.registry import Key, Versioning
from vdm.sqlalchemy.types import comparable
from vdm.states import State
from vdm.versionwrite import TableChanges as TableChanges
from vdm.versionwrite import chunks as key_chunks
from vdm.writeplan import plan_versions

#: Keys per statement; keeps IN lists well inside every database's limits.
CHUNK = 1000


#: :func:`vdm.versionwrite.chunks` of :data:`CHUNK`.
chunks = partial(key_chunks, size=CHUNK)


def _keys_in(columns: list[Any], name: str = "keys") -> Any:
    """``columns IN :name`` with one expanding parameter."""
    if len(columns) == 1:
        return columns[0].in_(bindparam(name, expanding=True))
    return tuple_(*columns).in_(bindparam(name, expanding=True))


class TableStatements:
    """The statements that write one table's versions, built once."""

    def __init__(self, versioning: Versioning) -> None:
        self.v = versioning

    def keys_param(self, batch: list[Key]) -> list[Any]:
        """The ``keys`` parameter for a batch (scalars for one-column keys)."""
        if len(self.v.key_names) == 1:
            return [k[0] for k in batch]
        return batch

    @cached_property
    def _vt_keys(self) -> Any:
        return _keys_in([self.v.version_table.c[n] for n in self.v.key_names])

    @cached_property
    def _live_keys(self) -> Any:
        return _keys_in([self.v.table.c[n] for n in self.v.key_names])

    @cached_property
    def drop_own(self) -> Executable:
        vt = self.v.version_table
        return delete(vt).where(self._vt_keys, vt.c[REVISION_ID] == bindparam("rid"))

    @cached_property
    def unexpire(self) -> Executable:
        vt = self.v.version_table
        return (update(vt).where(self._vt_keys, vt.c[EXPIRED_ID] == bindparam("rid"))
                .values({EXPIRED_ID: None}))

    @cached_property
    def mark_deleted(self) -> Executable:
        vt = self.v.version_table
        return (update(vt).where(self._vt_keys, vt.c[REVISION_ID] == bindparam("rid"))
                .values({OPERATION_TYPE: Operation.DELETE}))

    @cached_property
    def copy_current_as_delete(self) -> Executable:
        vt = self.v.version_table
        names = [c.key for c in vt.c if c.key not in (REVISION_ID, EXPIRED_ID, OPERATION_TYPE)]
        source = select(
            *(vt.c[n] for n in names),
            bindparam("rid", type_=Integer),
            literal(Operation.DELETE, vt.c[OPERATION_TYPE].type),
        ).where(self._vt_keys, vt.c[EXPIRED_ID].is_(None), vt.c[REVISION_ID] != bindparam("rid"))
        return vt.insert().from_select(
            [vt.c[n] for n in (*names, REVISION_ID, OPERATION_TYPE)], source)

    def copy_live(self, op: Operation) -> Executable:
        """Copy live rows as versions with operation ``op``."""
        return self._copy_live[op]

    @cached_property
    def _copy_live(self) -> dict[Operation, Insert]:
        vt = self.v.version_table
        source_from, columns = live_source(self.v)
        target = [vt.c[key] for key, _ in columns] + [vt.c[OPERATION_TYPE]]
        statements: dict[Operation, Insert] = {}
        for op in (Operation.INSERT, Operation.UPDATE):
            source = (
                select(*(expr for _, expr in columns), literal(op, vt.c[OPERATION_TYPE].type))
                .select_from(source_from).where(self._live_keys)
            )
            statements[op] = vt.insert().from_select(target, source)
        return statements

    @cached_property
    def expire_previous(self) -> Executable:
        vt = self.v.version_table
        return (update(vt)
                .where(self._vt_keys, vt.c[EXPIRED_ID].is_(None),
                       vt.c[REVISION_ID] != bindparam("rid"))
                .values({EXPIRED_ID: bindparam("rid")}))

    def copy_revision(self, op: Operation, merged: bool) -> Executable:
        """Copy every live row stamped with revision ``:rid`` and not yet
        versioned by it, closing their previous versions.

        The fast path of a flush whose changes to this table are all one
        operation: the live table's ``revision_id`` index finds the rows, so
        no key list is sent.  ``merged`` (PostgreSQL) makes it one statement.
        """
        return self._copy_revision[(op, merged)]

    @cached_property
    def _copy_revision(self) -> dict[tuple[Operation, bool], Executable]:
        vt = self.v.version_table
        expire: Any = self.expire_stamped
        statements: dict[tuple[Operation, bool], Executable] = {}
        for op in (Operation.INSERT, Operation.UPDATE):
            target, source = self._stamped_source(op)
            copy = vt.insert().from_select(target, source)
            statements[(op, False)] = copy
            statements[(op, True)] = copy.add_cte(
                expire.returning(vt.c[REVISION_ID]).cte("expired"))
        return statements

    def _stamped_source(self, op: Operation) -> tuple[list[Any], Any]:
        """The version columns and the SELECT of the live rows stamped
        ``:rid`` that have no version of that revision yet."""
        vt, live = self.v.version_table, self.v.table
        names = [c.key for c in live.c]
        key_live = [live.c[n] for n in self.v.key_names]
        key_vt = [vt.c[n] for n in self.v.key_names]
        versioned = (
            select(literal(1))
            .where(*(a == b for a, b in zip(key_vt, key_live, strict=True)),
                   vt.c[REVISION_ID] == live.c[REVISION_ID])
            .exists()
        )
        extra: list[Any] = [literal(op, vt.c[OPERATION_TYPE].type)]
        target = [vt.c[n] for n in (*names, OPERATION_TYPE)]
        if not self.v.stateful:
            extra.append(literal(State.ACTIVE, vt.c[STATE].type))
            target.append(vt.c[STATE])
        source = select(*(live.c[n] for n in names), *extra).where(
            live.c[REVISION_ID] == bindparam("rid"), ~versioned)
        return target, source

    def copy_revision_upsert(self, op: Operation) -> Executable:
        """SQLite: :meth:`copy_revision` and :attr:`expire_stamped` as one statement.

        One ``INSERT ... SELECT`` adds the new versions and, for each
        previous version to close, a copy of it whose primary key is taken:
        ``ON CONFLICT DO UPDATE`` then only sets that version's
        ``expired_id``.  SQLite reads the whole SELECT before writing, so
        both parts see the table as it was before the statement.
        """
        return self._copy_revision_upsert[op]

    @cached_property
    def _copy_revision_upsert(self) -> dict[Operation, Executable]:
        vt, live = self.v.version_table, self.v.table
        key_vt = [vt.c[n] for n in self.v.key_names]
        stamped_keys = select(*(live.c[n] for n in self.v.key_names)).where(
            live.c[REVISION_ID] == bindparam("rid"))
        keys_vt = key_vt[0] if len(key_vt) == 1 else tuple_(*key_vt)
        statements: dict[Operation, Executable] = {}
        for op in (Operation.INSERT, Operation.UPDATE):
            target, source = self._stamped_source(op)
            expired = EXPIRED_ID
            new = source.add_columns(null().label(expired))
            previous = (
                select(*(vt.c[c.key] for c in target),
                       bindparam("rid", type_=Integer).label(expired))
                .where(keys_vt.in_(stamped_keys), vt.c[EXPIRED_ID].is_(None),
                       vt.c[REVISION_ID] != bindparam("rid"))
            )
            insert = sqlite_insert(vt).from_select(
                [*target, vt.c[EXPIRED_ID]], union_all(new, previous))
            statements[op] = insert.on_conflict_do_update(
                index_elements=[vt.c[n] for n in (*self.v.key_names, REVISION_ID)],
                set_={EXPIRED_ID: insert.excluded[EXPIRED_ID]},
            )
        return statements

    @cached_property
    def expire_exact(self) -> Executable:
        """Close one key's version of revision ``:_current`` (a full primary key)."""
        vt = self.v.version_table
        statement = (update(vt)
                     .where(*(vt.c[n] == bindparam(f"_k_{n}") for n in self.v.key_names),
                            vt.c[REVISION_ID] == bindparam("_current"),
                            vt.c[EXPIRED_ID].is_(None))
                     .values({EXPIRED_ID: bindparam("rid")}))
        # The primary key locks just this row; MariaDB may otherwise read
        # the revision_id index, locking the gap where the final step of
        # another commit writes its new id.
        found: Executable = _on_primary_key(statement)
        return found

    @cached_property
    def expire_stamped(self) -> Executable:
        """Close the previous versions of the live rows stamped ``:rid``."""
        vt, live = self.v.version_table, self.v.table
        key_vt = [vt.c[n] for n in self.v.key_names]
        stamped = select(*(live.c[n] for n in self.v.key_names)).where(
            live.c[REVISION_ID] == bindparam("rid"))
        keys_vt = key_vt[0] if len(key_vt) == 1 else tuple_(*key_vt)
        return (update(vt)
                .where(keys_vt.in_(stamped), vt.c[EXPIRED_ID].is_(None),
                       vt.c[REVISION_ID] != bindparam("rid"))
                .values({EXPIRED_ID: bindparam("rid")}))

    def copy_live_and_expire(self, op: Operation) -> Executable:
        """:meth:`copy_live` and :attr:`expire_previous` as one statement.

        For PostgreSQL, whose data-modifying CTEs save a round trip; both
        parts see the table as it was before the statement.
        """
        return self._copy_live_and_expire[op]

    @cached_property
    def _copy_live_and_expire(self) -> dict[Operation, Executable]:
        vt = self.v.version_table
        expire = (
            update(vt)
            .where(_keys_in([vt.c[n] for n in self.v.key_names], "expire_keys"),
                   vt.c[EXPIRED_ID].is_(None), vt.c[REVISION_ID] != bindparam("rid"))
            .values({EXPIRED_ID: bindparam("rid")})
            .returning(vt.c[REVISION_ID])
            .cte("expired")
        )
        return {op: statement.add_cte(expire)
                for op, statement in self._copy_live.items()}


def _on_primary_key(statement: Any) -> Any:
    """``statement`` made to find its rows through the primary key on MariaDB/MySQL."""
    for dialect in ("mysql", "mariadb"):
        statement = statement.with_hint("FORCE INDEX (PRIMARY)", dialect_name=dialect)
    return statement


def live_source(v: Any) -> tuple[Any, list[tuple[str, Any]]]:
    """Where a table's versions are copied from: a FROM clause and the
    ``(version column, expression)`` pairs to copy.

    A versioned table copies its own columns, plus ``state`` ``active``
    when it has none and the revision id when it has no ``revision_id``
    (an association table); a class may supply its own (``copy_source()``:
    a subclass table in joined inheritance takes both from its base table).
    """
    custom = getattr(v, "copy_source", None)
    if custom is not None:
        found: tuple[Any, list[tuple[str, Any]]] = custom()
        return found
    live, vt = v.table, v.version_table
    columns: list[tuple[str, Any]] = [(c.key, c) for c in live.c]
    if not v.stateful:
        columns.append((STATE, literal(State.ACTIVE, vt.c[STATE].type)))
    if REVISION_ID not in live.c:
        columns.append((REVISION_ID, bindparam("rid", type_=Integer)))
    return live, columns


def stamped(v: Any) -> bool:
    """True when the live rows of ``v``'s table carry their own revision stamp."""
    return REVISION_ID in v.table.c and getattr(v, "copy_source", None) is None


T = TypeVar("T")


def cached_on(owner: Any, name: str, build: Callable[[], T]) -> T:
    """``build()`` once per ``owner`` (a versioning record), kept in its ``__dict__``."""
    if name not in owner.__dict__:
        owner.__dict__[name] = build()
    found: T = owner.__dict__[name]
    return found


def keyed_runner(connection: Connection, st: TableStatements,
                 revision_id: int) -> Callable[[Executable, set[Key]], None]:
    """Runs one of ``st``'s statements for a set of keys, a chunk at a time,
    with the revision id bound."""
    def run(statement: Executable, keys: set[Key]) -> None:
        for batch in chunks(keys):
            connection.execute(statement, {"keys": st.keys_param(batch), "rid": revision_id})
    return run


def retire_versions(run: Callable[[Executable, set[Key]], None], st: TableStatements,
                    plan: Any) -> None:
    """A version plan's steps before live rows are copied: drop the
    revision's own versions, reopen, mark deleted, record deletes."""
    run(st.drop_own, plan.drop_own)
    run(st.unexpire, plan.unexpire)
    run(st.mark_deleted, plan.mark_deleted)
    run(st.copy_current_as_delete, plan.copy_current_as_delete)


def statements_for(versioning: Versioning) -> TableStatements:
    """The (cached) statements of one versioned table."""
    return cached_on(versioning, "_statements", lambda: TableStatements(versioning))


def write_versions(
    connection: Connection,
    versioning: Versioning,
    changes: TableChanges,
    revision_id: int,
    written: dict[Key, Operation],
    current: dict[Key, Any] | None = None,
    expire_later: set[Key] | None = None,
) -> None:
    """Write the versions of one table's changes for revision ``revision_id``.

    ``written`` maps the keys this revision already versioned to their
    operation; it is updated in place.  ``current`` maps keys to the
    revision of their current version, where the stale check found it.
    On MariaDB/MySQL, keys whose previous version must be closed but whose
    revision is not known go into ``expire_later``: the final step of the
    commit closes them (:func:`expire_deferred`).
    """
    plan = plan_versions(changes.inserted, changes.updated, changes.deleted, written)
    st = statements_for(versioning)
    run = keyed_runner(connection, st, revision_id)
    retire_versions(run, st, plan)
    copies = [(op, keys) for op, keys in plan.copy_live.items() if keys]
    if connection.dialect.name in ("mysql", "mariadb"):
        # InnoDB locks every index record a statement scans, and the gaps
        # between them, until commit: concurrent writers would wait for
        # each other.  So rows are found by their keys, and previous
        # versions closed by their full primary key where it is known.
        for op, keys in copies:
            run(st.copy_live(op), keys)
        known = {k: current[k] for k in plan.expire_previous if current and k in current}
        if known:
            connection.execute(st.expire_exact, [
                {**{f"_k_{n}": v for n, v in zip(versioning.key_names, key, strict=True)},
                 "_current": rev, "rid": revision_id}
                for key, rev in sorted(known.items(), key=repr)])
        unknown = plan.expire_previous - set(known)
        if expire_later is None:
            run(st.expire_previous, unknown)
        else:
            expire_later |= unknown
        written.clear()
        written.update(plan.written)
        return
    if len(copies) == 1 and stamped(versioning) and not (
            plan.copy_current_as_delete or plan.mark_deleted or plan.unexpire):
        # Every change of this flush is one operation: find the rows by
        # their revision stamp instead of sending the keys.
        op = copies[0][0]
        if connection.dialect.name == "sqlite":
            connection.execute(st.copy_revision_upsert(op), {"rid": revision_id})
        else:
            merged = connection.dialect.name == "postgresql"
            if not merged:
                connection.execute(st.expire_stamped, {"rid": revision_id})
            connection.execute(st.copy_revision(op, merged), {"rid": revision_id})
        written.clear()
        written.update(plan.written)
        return
    expire = plan.expire_previous
    if (connection.dialect.name == "postgresql" and copies and expire
            and max(len(expire), *(len(k) for _, k in copies)) <= CHUNK):
        for op, keys in copies[:-1]:
            run(st.copy_live(op), keys)
        op, keys = copies[-1]
        connection.execute(st.copy_live_and_expire(op), {
            "keys": st.keys_param(sorted(keys, key=repr)),
            "expire_keys": st.keys_param(sorted(expire, key=repr)),
            "rid": revision_id,
        })
    else:
        for op, keys in copies:
            run(st.copy_live(op), keys)
        run(st.expire_previous, expire)
    written.clear()
    written.update(plan.written)


def expire_deferred(connection: Connection, versioning: Versioning, keys: set[Key],
                    revision_id: int) -> None:
    """Close the previous versions of ``keys`` (the final step on MariaDB/MySQL).

    A search by key range locks the gaps around it until commit, which is
    harmless only once the commit is next.
    """
    st = statements_for(versioning)
    for batch in chunks(keys):
        connection.execute(st.expire_previous,
                           {"keys": st.keys_param(batch), "rid": revision_id})


def _net_no_op_query(v: Versioning) -> Executable:
    """Keys whose version of ``:rid`` equals the version it expired, with that one's revision."""
    vt = v.version_table
    prev = vt.alias("previous")
    compared = [c.key for c in vt.c if c.key not in (REVISION_ID, EXPIRED_ID, OPERATION_TYPE)]
    return (
        select(*(vt.c[n] for n in v.key_names), prev.c[REVISION_ID])
        .select_from(vt.join(prev, and_(
            *(prev.c[n] == vt.c[n] for n in v.key_names),
            prev.c[EXPIRED_ID] == vt.c[REVISION_ID],
        )))
        .where(vt.c[REVISION_ID] == bindparam("rid"),
               vt.c[OPERATION_TYPE] == Operation.UPDATE,
               prev.c[OPERATION_TYPE] != Operation.DELETE,
               *(comparable(vt.c[n]).is_not_distinct_from(comparable(prev.c[n]))
                 for n in compared))
    )


def drop_net_no_ops(
    connection: Connection, versioning: Versioning, revision_id: int,
    written: dict[Key, Operation],
) -> dict[Key, int]:
    """Take back the versions of ``revision_id`` that changed nothing.

    A value changed in one flush and set back in a later one (or a link
    removed and re-added) leaves a version equal to the previous one: it is
    deleted, the previous version becomes current again and the live row
    keeps its old ``revision_id``.  Returns ``{key: that revision id}``;
    ``written`` loses those keys.
    """
    if Operation.UPDATE not in written.values():
        return {}
    st = statements_for(versioning)
    query = st.__dict__.get("_net_no_op")
    if query is None:
        query = st.__dict__["_net_no_op"] = _net_no_op_query(versioning)
    found = {tuple(row[:-1]): int(row[-1])
             for row in connection.execute(query, {"rid": revision_id})}
    if not found:
        return {}
    v, vt, live = versioning, versioning.version_table, versioning.table

    def match(table: Any) -> Any:
        return and_(*(table.c[n] == bindparam(f"_k_{n}") for n in v.key_names))

    params = [{**{f"_k_{n}": k for n, k in zip(v.key_names, key, strict=True)},
               "_own": revision_id, "_prev": prev} for key, prev in found.items()]
    connection.execute(delete(vt).where(match(vt), vt.c[REVISION_ID] == bindparam("_own")),
                       params)
    connection.execute(update(vt).where(match(vt), vt.c[REVISION_ID] == bindparam("_prev"))
                       .values({EXPIRED_ID: None}), params)
    connection.execute(update(live).where(match(live)).values({REVISION_ID: bindparam("_prev")}),
                       params)
    for key in found:
        written.pop(key, None)
    return found
