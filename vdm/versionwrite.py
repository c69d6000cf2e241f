"""Writing version rows for a flush, as SQL over the seam.

A backend's flush hooks record which keys of a versioned table were
inserted, updated and deleted (a :class:`TableChanges`);
:func:`write_versions` asks :func:`vdm.writeplan.plan_versions` what that
means for the revision's version rows and writes it with a constant number
of statements per table and batch of keys, whatever the number of objects:
rows are copied from the live table (or, for deletes, from the current
version) by ``INSERT ... SELECT``, and the versions they replace are closed.
Each database gets its shortest safe form (:func:`write_plan`).

A table is given as a :class:`VersionedTable` (names as the backend's SQL
writes them: quoted, with their schema) or as a :class:`vdm.tables.TableRecord`
or a backend's versioning record carrying one (``.tables_record``), whose
names are written as they are.  Keys are tuples in the order of the key
columns; a plain value stands for a one-column key.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE
from vdm.operations import Operation
from vdm.sql import MYSQL, POSTGRESQL, SQLITE, Sql, execute_many, sql_of
from vdm.states import State
from vdm.tables import TableRecord
from vdm.writeplan import WritePlan, plan_versions

#: Keys per statement unless a backend says otherwise.
CHUNK = 500

T = TypeVar("T")


@dataclass
class TableChanges:
    """Keys of one versioned table changed since the last flush."""

    inserted: set[Any] = field(default_factory=set)
    updated: set[Any] = field(default_factory=set)
    deleted: set[Any] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)


@dataclass(frozen=True)
class VersionedTable:
    """A live table and its version table, as the SQL writing versions names them.

    Names go into the SQL as given: a backend passes them quoted as its
    dialect quotes them, tables with their schema.
    """

    #: The live table and the version table.
    table: str
    version_table: str
    #: Primary key columns, in key order (the same in both tables).
    key_columns: tuple[str, ...]
    #: The live columns a version copies, the key first, ``revision_id`` not
    #: among them (``state`` is, when the live table has it).
    columns: tuple[str, ...]
    #: Whether the live rows carry their own ``revision_id`` (an association
    #: table's do not: its versions get the revision's id).
    stamped: bool = True
    #: Whether the live table has a ``state`` column.
    stateful: bool = False
    #: A subclass's table in joined inheritance: the base table whose row
    #: holds the object's ``revision_id`` and ``state`` (keys in the same order).
    base: VersionedTable | None = None
    #: Columns compared as text (PostgreSQL has no ``=`` for ``json``).
    as_text: frozenset[str] = frozenset()
    #: A key as the database stores it (a backend's type conversion of key
    #: values), when that is not the key itself.
    bind_key: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None

    @property
    def version_columns(self) -> tuple[str, ...]:
        """The version's own columns but the bookkeeping (what a no-op compares)."""
        return self.columns if self.stateful else (*self.columns, STATE)


def cached_on(owner: Any, name: str, build: Callable[[], T]) -> T:
    """``build()`` once per ``owner`` (a versioning record), kept in its ``__dict__``."""
    if name not in owner.__dict__:
        owner.__dict__[name] = build()
    found: T = owner.__dict__[name]
    return found


def chunks(values: Iterable[T], size: int) -> Iterator[list[T]]:
    """Split ``values``, sorted (so the SQL is deterministic), into lists of
    at most ``size``: long IN lists stay inside every database's limits.

        >>> list(chunks([3, 1, 2], 2))
        [[1, 2], [3]]
    """
    batch: list[T] = []
    for value in sorted(values, key=repr):
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def table_record(table: Any) -> TableRecord:
    """The :class:`TableRecord` of ``table`` (one, or a versioning record)."""
    return table if isinstance(table, TableRecord) else table.tables_record


def key_tuple(key: Any) -> tuple[Hashable, ...]:
    """``key`` as a tuple (a plain value is a one-column key)."""
    return key if isinstance(key, tuple) else (key,)


def keys_in(columns: tuple[str, ...], keys: Iterable[Any],
            prefix: str = "", name: str = "k") -> tuple[str, dict[str, Any]]:
    """SQL saying ``columns`` hold one of ``keys``, and its parameters
    (called ``name`` and numbers).

        >>> keys_in(("id",), [1, 2])
        ('id IN (:k0_0, :k1_0)', {'k0_0': 1, 'k1_0': 2})
    """
    params: dict[str, Any] = {}
    tests: list[list[str]] = []
    for i, key in enumerate(keys):
        row = []
        for j, (column, value) in enumerate(zip(columns, key_tuple(key), strict=True)):
            param = f"{name}{i}_{j}"
            params[param] = value
            row.append(f"{prefix}{column} = :{param}")
        tests.append(row)
    if len(columns) == 1:
        listed = ", ".join(f":{name}{i}_0" for i in range(len(tests)))
        return f"{prefix}{columns[0]} IN ({listed})", params
    return "(" + " OR ".join(f"({' AND '.join(row)})" for row in tests) + ")", params


def live_columns(record: TableRecord) -> list[str]:
    """The live table's own columns but ``revision_id``, the key first."""
    return list(dict.fromkeys([*record.key_columns, *record.columns.values()]))


def versioned_table(table: Any) -> VersionedTable:
    """``table`` as a :class:`VersionedTable`: itself, or built once from a
    :class:`TableRecord` (or a record carrying one), names as written."""
    if isinstance(table, VersionedTable):
        return table

    def build() -> VersionedTable:
        record = table_record(table)
        schema = "" if record.schema is None else f"{record.schema}."
        return VersionedTable(
            table=schema + record.table, version_table=schema + record.version_table,
            key_columns=record.key_columns, columns=tuple(live_columns(record)),
            stateful=record.stateful)

    return cached_on(table, "_vdm_versioned_table", build)


def bound_keys(t: VersionedTable, keys: Iterable[Any]) -> list[Any]:
    """``keys`` as the database stores them (see :attr:`VersionedTable.bind_key`)."""
    bind = t.bind_key
    return list(keys) if bind is None else [bind(key_tuple(k)) for k in keys]


def _joined(alias: str, other: str, columns: tuple[str, ...],
            other_columns: tuple[str, ...] | None = None) -> str:
    return " AND ".join(f"{alias}.{a} = {other}.{b}" for a, b in zip(
        columns, other_columns or columns, strict=True))


def _copy(t: VersionedTable) -> tuple[str, str, str]:
    """A copy of live rows (alias ``l``) as versions with operation ``:op``:
    the version columns, the values copied and the FROM clause."""
    target = [*t.columns, REVISION_ID, OPERATION_TYPE]
    values = [*(f"l.{c}" for c in t.columns), f"l.{REVISION_ID}" if t.stamped else ":rid", ":op"]
    source = f"{t.table} l"
    if t.base is not None:
        # A joined subclass's row: revision and state are its base row's.
        on = _joined("b", "l", t.base.key_columns, t.key_columns)
        source += f" JOIN {t.base.table} b ON {on}"
        values[len(t.columns)] = f"b.{REVISION_ID}"
    if not t.stateful:
        target.append(STATE)
        values.append(f"b.{STATE}" if t.base is not None and t.base.stateful else ":active")
    return ", ".join(target), ", ".join(values), source


def _copy_params(rid: int, op: Operation) -> dict[str, Any]:
    return {"rid": rid, "op": int(op), "active": State.ACTIVE.value}


def _key_list(columns: tuple[str, ...], prefix: str = "") -> str:
    listed = ", ".join(prefix + c for c in columns)
    return listed if len(columns) == 1 else f"({listed})"


def _run_keyed(sql: Sql, t: VersionedTable, statement: Callable[[str], str],
               keys: Iterable[Any], params: dict[str, Any], size: int,
               prefix: str = "") -> None:
    """Run ``statement(key test)`` a batch of keys at a time."""
    for batch in chunks(keys, size):
        where, bound = keys_in(t.key_columns, bound_keys(t, batch), prefix)
        sql.execute(statement(where), {**bound, **params})


def _expire_sql(t: VersionedTable, where: str) -> str:
    return (f"UPDATE {t.version_table} SET {EXPIRED_ID} = :rid WHERE {where} "
            f"AND {EXPIRED_ID} IS NULL AND {REVISION_ID} <> :rid")


def expire_previous(source: Any, table: Any, keys: set[Any], rid: int,
                    size: int = CHUNK) -> None:
    """Close the current versions of ``keys`` other than revision ``rid``'s own."""
    t = versioned_table(table)
    _run_keyed(sql_of(source), t, lambda where: _expire_sql(t, where), keys, {"rid": rid}, size)


def _copy_live_sql(t: VersionedTable) -> Callable[[str], str]:
    """Copy live rows as versions with operation ``:op`` (see :func:`_copy`)."""
    target, values, source = _copy(t)
    insert = f"INSERT INTO {t.version_table} ({target}) SELECT {values} FROM {source} WHERE "
    return lambda where: insert + where


def _copy_deleted_sql(t: VersionedTable) -> Callable[[str], str]:
    """Copy the current versions as delete versions of ``:rid``."""
    vt, names = t.version_table, ", ".join(t.version_columns)
    return (lambda w: f"INSERT INTO {vt} ({names}, {REVISION_ID}, {OPERATION_TYPE}) "
                      f"SELECT {names}, :rid, {int(Operation.DELETE)} FROM {vt} WHERE {w} "
                      f"AND {EXPIRED_ID} IS NULL AND {REVISION_ID} <> :rid")


def _retire(sql: Sql, t: VersionedTable, plan: WritePlan, rid: int, size: int) -> None:
    """A plan's steps before versions are copied: drop the revision's own
    versions, reopen, mark deleted."""
    vt, params, delete = t.version_table, {"rid": rid}, int(Operation.DELETE)
    steps: list[tuple[set[Any], Callable[[str], str]]] = [
        (plan.drop_own, lambda w: f"DELETE FROM {vt} WHERE {w} AND {REVISION_ID} = :rid"),
        (plan.unexpire, lambda w: f"UPDATE {vt} SET {EXPIRED_ID} = NULL WHERE {w} "
                                  f"AND {EXPIRED_ID} = :rid"),
        (plan.mark_deleted, lambda w: f"UPDATE {vt} SET {OPERATION_TYPE} = {delete} "
                                      f"WHERE {w} AND {REVISION_ID} = :rid"),
    ]
    for keys, statement in steps:
        _run_keyed(sql, t, statement, keys, params, size)


#: One INSERT of a plan: its keys, its statement (given the key test), its
#: parameters and the prefix of its key columns.
_Copy = tuple[set[Any], Callable[[str], str], dict[str, Any], str]


def _copies(t: VersionedTable, plan: WritePlan, rid: int) -> list[_Copy]:
    """The INSERTs of a plan, in order: delete versions, then live rows."""
    found: list[_Copy] = []
    if plan.copy_current_as_delete:
        found.append((plan.copy_current_as_delete, _copy_deleted_sql(t), {"rid": rid}, ""))
    for op, keys in plan.copy_live.items():
        if keys:
            found.append((keys, _copy_live_sql(t), _copy_params(rid, op), "l."))
    return found


def _stamped_copy(t: VersionedTable) -> tuple[str, str, str]:
    """The version columns, the values and the ``FROM ... WHERE`` of the
    live rows stamped ``:rid`` that have no version of that revision yet."""
    target, values, source = _copy(t)
    unversioned = (f"NOT EXISTS (SELECT 1 FROM {t.version_table} v WHERE "
                   f"{_joined('v', 'l', t.key_columns)} AND v.{REVISION_ID} = l.{REVISION_ID})")
    return target, values, f"FROM {source} WHERE l.{REVISION_ID} = :rid AND {unversioned}"


def _stamped_keys(t: VersionedTable, prefix: str = "") -> str:
    """The keys (columns named with ``prefix``) are those of live rows stamped ``:rid``."""
    live = ", ".join(f"l.{c}" for c in t.key_columns)
    return (f"{_key_list(t.key_columns, prefix)} IN "
            f"(SELECT {live} FROM {t.table} l WHERE l.{REVISION_ID} = :rid)")


def _copy_stamped(sql: Sql, t: VersionedTable, op: Operation, rid: int) -> None:
    """Version every live row stamped ``rid`` and not yet versioned by it,
    closing the previous versions: the live table's ``revision_id`` index
    finds the rows, so no key list is sent."""
    target, values, rows = _stamped_copy(t)
    vt, params = t.version_table, _copy_params(rid, op)
    if sql.dialect == SQLITE:
        # One statement: the new versions and, for each previous version to
        # close, a copy of it whose primary key is taken, so ON CONFLICT DO
        # UPDATE only sets its expired_id.  SQLite reads the whole SELECT
        # before writing: both parts see the table as it was.
        previous = ", ".join(f"v.{c}" for c in target.split(", "))
        sql.execute(
            f"INSERT INTO {vt} ({target}, {EXPIRED_ID}) SELECT {values}, NULL {rows} "
            f"UNION ALL SELECT {previous}, :rid FROM {vt} v WHERE {_stamped_keys(t, 'v.')} "
            f"AND v.{EXPIRED_ID} IS NULL AND v.{REVISION_ID} <> :rid "
            f"ON CONFLICT ({', '.join(t.key_columns)}, {REVISION_ID}) "
            f"DO UPDATE SET {EXPIRED_ID} = excluded.{EXPIRED_ID}", params)
        return
    expire = _expire_sql(t, _stamped_keys(t))
    insert = f"INSERT INTO {vt} ({target}) SELECT {values} {rows}"
    if sql.dialect == POSTGRESQL:
        # Data-modifying CTEs save a round trip; both parts see the table
        # as it was before the statement.
        sql.execute(f"WITH expired AS ({expire}) {insert}", params)
        return
    sql.execute(expire, params)
    sql.execute(insert, params)


def _key_equals(t: VersionedTable) -> str:
    """SQL: the key columns equal ``:k0``, ``:k1``... (see :func:`_key_rows`)."""
    return " AND ".join(f"{c} = :k{i}" for i, c in enumerate(t.key_columns))


def _key_rows(t: VersionedTable, keys: list[Any]) -> list[dict[str, Any]]:
    """The parameters of :func:`_key_equals` for each of ``keys``."""
    return [{f"k{i}": v for i, v in enumerate(key_tuple(bound))} for bound in bound_keys(t, keys)]


def _expire_exact(sql: Sql, t: VersionedTable, known: dict[Any, Any], rid: int) -> None:
    """Close each key's version of its known current revision, by full primary key."""
    # FORCE INDEX: the primary key locks just this row; MariaDB may otherwise
    # read the revision_id index, locking the gap where another commit's
    # final step writes its new id.
    keys = sorted(known, key=repr)
    execute_many(sql, f"UPDATE {t.version_table} FORCE INDEX (PRIMARY) SET {EXPIRED_ID} = :rid "
                      f"WHERE {_key_equals(t)} AND {REVISION_ID} = :previous "
                      f"AND {EXPIRED_ID} IS NULL",
                 [{**row, "rid": rid, "previous": int(known[key])}
                  for key, row in zip(keys, _key_rows(t, keys), strict=True)])


def write_plan(
    source: Any, table: Any, plan: WritePlan, rid: int,
    current: dict[Any, Any] | None = None,
    expire_later: set[Any] | None = None,
    size: int = CHUNK,
) -> None:
    """Run a :class:`vdm.writeplan.WritePlan` of one table for revision ``rid``.

    On MariaDB/MySQL previous versions are closed by their full primary key
    where ``current`` (key -> revision of the current version) knows it;
    the other keys go into ``expire_later`` when given, for the final step
    of the commit to close with :func:`expire_previous`.
    """
    sql, t = sql_of(source), versioned_table(table)
    _retire(sql, t, plan, rid, size)
    copies = _copies(t, plan, rid)
    expire = plan.expire_previous
    if sql.dialect == MYSQL:
        # InnoDB locks every index record a statement scans, and the gaps
        # between them, until commit: concurrent writers would wait for
        # each other.  So rows are found by their keys.
        _run_copies(sql, t, copies, size)
        known = {k: current[k] for k in expire if current and k in current}
        if known:
            _expire_exact(sql, t, known, rid)
        if expire_later is None:
            expire_previous(sql, t, expire - set(known), rid, size)
        else:
            expire_later |= expire - set(known)
    elif len(live_ops := [op for op, keys in plan.copy_live.items() if keys]) == 1 \
            and t.stamped and t.base is None \
            and not (plan.copy_current_as_delete or plan.mark_deleted or plan.unexpire):
        # Every change of this flush is one operation: find the rows by
        # their revision stamp instead of sending the keys.
        _copy_stamped(sql, t, live_ops[0], rid)
    elif (sql.dialect == POSTGRESQL and copies and expire
          and max(len(expire), *(len(c[0]) for c in copies)) <= size):
        # The last copy closes the previous versions in the same statement
        # (a data-modifying CTE); both see the table as it was before it.
        _run_copies(sql, t, copies[:-1], size)
        keys, statement, params, prefix = copies[-1]
        where, bound = keys_in(t.key_columns, bound_keys(t, sorted(keys, key=repr)), prefix)
        closing, closed = keys_in(t.key_columns, bound_keys(t, sorted(expire, key=repr)),
                                  name="e")
        sql.execute(f"WITH expired AS ({_expire_sql(t, closing)}) {statement(where)}",
                    {**bound, **closed, **params})
    else:
        _run_copies(sql, t, copies, size)
        expire_previous(sql, t, expire, rid, size)


def _run_copies(sql: Sql, t: VersionedTable, copies: list[_Copy], size: int) -> None:
    for keys, statement, params, prefix in copies:
        _run_keyed(sql, t, statement, keys, params, size, prefix)


def write_versions(
    source: Any, table: Any, changes: TableChanges, rid: int,
    written: dict[Any, Operation],
    current: dict[Any, Any] | None = None,
    expire_later: set[Any] | None = None,
    size: int = CHUNK,
) -> None:
    """Write the versions of one table's changes for revision ``rid``.

    ``written`` maps the keys this revision already versioned to their
    operation; it is updated in place.  ``current`` and ``expire_later``:
    see :func:`write_plan`.
    """
    plan = plan_versions(changes.inserted, changes.updated, changes.deleted, written)
    write_plan(source, table, plan, rid, current, expire_later, size)
    written.clear()
    written.update(plan.written)
