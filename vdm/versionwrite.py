"""Writing version rows for a flush, as SQL over the seam.

A backend's flush hooks record which keys of a versioned table were
inserted, updated and deleted (a :class:`TableChanges`);
:func:`write_versions` asks :func:`vdm.writeplan.plan_versions` what that
means for the revision's version rows and writes it with a constant number
of statements per table and batch of keys, whatever the number of objects:
rows are copied from the live table (or, for deletes, from the current
version) by ``INSERT ... SELECT``, and the versions they replace are closed
(:func:`expire_previous`).

A table is given as its :class:`vdm.tables.TableRecord` or as a backend's
versioning record carrying one (``.tables_record``).  Keys are tuples in
the order of :attr:`~vdm.tables.TableRecord.key_columns`; a plain value
stands for a one-column key.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE
from vdm.operations import Operation
from vdm.sql import MYSQL, sql_of
from vdm.states import State
from vdm.tables import TableRecord
from vdm.writeplan import plan_versions

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


def _key_tuple(key: Any) -> tuple[Hashable, ...]:
    return key if isinstance(key, tuple) else (key,)


def keys_in(columns: tuple[str, ...], keys: Iterable[Any],
            prefix: str = "") -> tuple[str, dict[str, Any]]:
    """SQL saying ``columns`` hold one of ``keys``, and its parameters.

        >>> keys_in(("id",), [1, 2])
        ('id IN (:k0_0, :k1_0)', {'k0_0': 1, 'k1_0': 2})
    """
    params: dict[str, Any] = {}
    tests: list[list[str]] = []
    for i, key in enumerate(keys):
        row = []
        for j, (column, value) in enumerate(zip(columns, _key_tuple(key), strict=True)):
            name = f"k{i}_{j}"
            params[name] = value
            row.append(f"{prefix}{column} = :{name}")
        tests.append(row)
    if len(columns) == 1:
        listed = ", ".join(f":k{i}_0" for i in range(len(tests)))
        return f"{prefix}{columns[0]} IN ({listed})", params
    return "(" + " OR ".join(f"({' AND '.join(row)})" for row in tests) + ")", params


def live_columns(record: TableRecord) -> list[str]:
    """The live table's own columns but ``revision_id``, the key first."""
    return list(dict.fromkeys([*record.key_columns, *record.columns.values()]))


def _version_columns(record: TableRecord) -> list[str]:
    """What a version copies of the current version (for a delete)."""
    return [*live_columns(record), *([] if record.stateful else [STATE])]


def expire_previous(source: Any, table: Any, keys: set[Any], rid: int,
                    size: int = CHUNK) -> None:
    """Close the current versions of ``keys`` other than revision ``rid``'s own."""
    sql, record = sql_of(source), table_record(table)
    for batch in chunks(keys, size):
        where, params = keys_in(record.key_columns, batch)
        sql.execute(
            f"UPDATE {record.version_table} SET {EXPIRED_ID} = :rid WHERE {where} "
            f"AND {EXPIRED_ID} IS NULL AND {REVISION_ID} <> :rid", {**params, "rid": rid})


def copy_live(source: Any, table: Any, keys: set[Any], rid: int,
              op: Operation, stamped: bool = True, size: int = CHUNK) -> None:
    """Copy the live rows of ``keys`` as versions with operation ``op``.

    A live table without its own ``revision_id`` (``stamped`` false) gets
    ``rid`` in its versions; one without ``state`` gets ``active``.
    """
    sql, record = sql_of(source), table_record(table)
    names = live_columns(record)
    target = [*names, REVISION_ID, OPERATION_TYPE]
    selected = [*names, REVISION_ID if stamped else ":rid", ":op"]
    if not record.stateful:
        target.append(STATE)
        selected.append(":active")
    for batch in chunks(keys, size):
        where, params = keys_in(record.key_columns, batch)
        sql.execute(
            f"INSERT INTO {record.version_table} ({', '.join(target)}) "
            f"SELECT {', '.join(selected)} FROM {record.table} WHERE {where}",
            {**params, "rid": rid, "op": int(op), "active": State.ACTIVE.value})


def _copy_current_as_delete(sql: Any, record: TableRecord, keys: set[Any], rid: int,
                            size: int) -> None:
    names = ", ".join(_version_columns(record))
    for batch in chunks(keys, size):
        where, params = keys_in(record.key_columns, batch)
        sql.execute(
            f"INSERT INTO {record.version_table} ({names}, {REVISION_ID}, {OPERATION_TYPE}) "
            f"SELECT {names}, :rid, :op FROM {record.version_table} WHERE {where} "
            f"AND {EXPIRED_ID} IS NULL AND {REVISION_ID} <> :rid",
            {**params, "rid": rid, "op": int(Operation.DELETE)})


def write_versions(
    source: Any, table: Any, changes: TableChanges, rid: int,
    written: dict[Any, Operation],
    current: dict[Any, Any] | None = None,
    expire_later: set[Any] | None = None,
    stamped: bool = True,
    size: int = CHUNK,
) -> None:
    """Write the versions of one table's changes for revision ``rid``.

    ``written`` maps the keys this revision already versioned to their
    operation; it is updated in place.

    With ``expire_later`` (MariaDB/MySQL, whose searches by key range lock
    gaps until commit), previous versions are closed by their full primary
    key where ``current`` (key -> revision of the current version) knows
    it; the other keys go into ``expire_later``, for the final step of the
    commit to close with :func:`expire_previous`.
    """
    sql, record = sql_of(source), table_record(table)
    plan = plan_versions(changes.inserted, changes.updated, changes.deleted, written)
    vt = record.version_table
    steps = (
        (plan.drop_own, f"DELETE FROM {vt} WHERE {{}} AND {REVISION_ID} = :rid"),
        (plan.unexpire, f"UPDATE {vt} SET {EXPIRED_ID} = NULL WHERE {{}} "
                        f"AND {EXPIRED_ID} = :rid"),
        (plan.mark_deleted, f"UPDATE {vt} SET {OPERATION_TYPE} = {int(Operation.DELETE)} "
                            f"WHERE {{}} AND {REVISION_ID} = :rid"),
    )
    for keys, statement in steps:
        for batch in chunks(keys, size):
            where, params = keys_in(record.key_columns, batch)
            sql.execute(statement.format(where), {**params, "rid": rid})
    _copy_current_as_delete(sql, record, plan.copy_current_as_delete, rid, size)
    for op, keys in plan.copy_live.items():
        copy_live(sql, record, keys, rid, op, stamped, size)
    expire = plan.expire_previous
    if expire_later is not None:
        known = {k: current[k] for k in expire if current and k in current}
        hint = " FORCE INDEX (PRIMARY)" if sql.dialect == MYSQL else ""
        for key, previous in sorted(known.items(), key=repr):
            where, params = keys_in(record.key_columns, [key])
            sql.execute(
                f"UPDATE {vt}{hint} SET {EXPIRED_ID} = :rid WHERE {where} "
                f"AND {REVISION_ID} = :previous AND {EXPIRED_ID} IS NULL",
                {**params, "rid": rid, "previous": int(previous)})
        expire_later |= expire - set(known)
    else:
        expire_previous(sql, record, expire, rid, size)
    written.clear()
    written.update(plan.written)
