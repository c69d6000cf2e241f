"""Taking back the versions of a revision that changed nothing.

A value changed in one flush and set back in a later one, an object
destroyed and created again with its old values, ``delete()`` then
``undelete()``: the revision's version of the object equals the version it
replaced.  :func:`drop_net_no_ops` finds such versions after they are
written and takes them back, the same way for both backends: the version
goes, the one before is current again, and the live row gets its old
``revision_id`` back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID
from vdm.operations import Operation
from vdm.sql import Sql, sql_of
from vdm.verifying import as_text, is_distinct
from vdm.versionwrite import (
    CHUNK,
    VersionedTable,
    bound_keys,
    chunks,
    key_tuple,
    keys_in,
    versioned_table,
)


def _unchanged_sql(sql: Sql, t: VersionedTable) -> str:
    """Keys, both versions' values and the previous revision of the
    versions of ``:rid`` (updates) whose values look equal to those of the
    version they replaced (a WHERE clause more conditions may follow).

    The version replaced is the one ``:rid`` expired, or, on MariaDB/MySQL
    when its closing waits for the final step of the commit, the other
    current one.
    """
    compared = t.version_columns

    def value(alias: str, column: str) -> str:
        expr = f"{alias}.{column}"
        return as_text(sql.dialect, expr) if column in t.as_text else expr

    same = " AND ".join(f"NOT ({is_distinct(sql.dialect, value('o', c), value('p', c))})"
                        for c in compared)
    on = " AND ".join(f"p.{c} = o.{c}" for c in t.key_columns)
    return (
        f"SELECT {', '.join('o.' + c for c in t.key_columns)}, "
        f"{', '.join('o.' + c for c in compared)}, {', '.join('p.' + c for c in compared)}, "
        f"p.{REVISION_ID} FROM {t.version_table} o JOIN {t.version_table} p ON {on} "
        f"AND (p.{EXPIRED_ID} = o.{REVISION_ID} OR (p.{EXPIRED_ID} IS NULL "
        f"AND p.{REVISION_ID} <> o.{REVISION_ID})) WHERE o.{REVISION_ID} = :rid "
        f"AND o.{OPERATION_TYPE} = {int(Operation.UPDATE)} "
        f"AND p.{OPERATION_TYPE} <> {int(Operation.DELETE)} AND {same}"
    )


def drop_net_no_ops(
    source: Any, table: Any, rid: int, written: dict[Any, Operation],
    keys: Iterable[Any] | None = None, size: int = CHUNK,
) -> dict[Any, int]:
    """Take back the versions of revision ``rid`` that changed nothing.

    Looks at the updates among ``written`` (the keys this revision
    versioned, and how), or only at ``keys`` when given.  Values are
    compared in SQL, then again in Python, so that a case-insensitive
    collation or a padded comparison cannot take a real change for none.
    Returns ``{key: revision id restored}``; ``written`` loses those keys.
    """
    sql, t = sql_of(source), versioned_table(table)
    updates = [k for k in (written if keys is None else keys)
               if written.get(k) is Operation.UPDATE]
    if not updates:
        return {}
    # Rows give keys as the database stores them; the caller's keys are
    # found back through them.
    as_given = {key_tuple(b): k for k, b in zip(updates, bound_keys(t, updates), strict=True)}
    statement = _unchanged_sql(sql, t)
    width, n = len(t.version_columns), len(t.key_columns)
    rows: list[tuple[Any, ...]] = []
    if keys is None:
        rows = sql.rows(statement, {"rid": rid})
    else:
        for batch in chunks(updates, size):
            where, params = keys_in(t.key_columns, bound_keys(t, batch), "o.")
            rows += sql.rows(f"{statement} AND {where}", {**params, "rid": rid})
    found: dict[Any, int] = {}
    for row in rows:
        key = as_given.get(tuple(row[:n]))
        if key is not None and row[n:n + width] == row[n + width:n + 2 * width]:
            found[key] = int(row[-1])
    if found:
        _take_back(sql, t, rid, found, size)
        for key in found:
            written.pop(key, None)
    return found


def _take_back(sql: Sql, t: VersionedTable, rid: int, found: dict[Any, int],
               size: int) -> None:
    """Delete ``rid``'s versions of ``found``, make the ones before current
    and give the live rows their revision: rows found by their full key."""
    vt = t.version_table
    with_revision = (*t.key_columns, REVISION_ID)
    by_previous: dict[int, list[Any]] = {}
    for key, previous in found.items():
        by_previous.setdefault(previous, []).append(key)
    for batch in chunks(found, size):
        bound = bound_keys(t, batch)
        where, params = keys_in(t.key_columns, bound)
        sql.execute(f"DELETE FROM {vt} WHERE {where} AND {REVISION_ID} = :rid",
                    {**params, "rid": rid})
        where, params = keys_in(with_revision, [
            (*key_tuple(b), found[k]) for k, b in zip(batch, bound, strict=True)])
        sql.execute(f"UPDATE {vt} SET {EXPIRED_ID} = NULL WHERE {where}", params)
    if t.stamped:
        for previous, keys in sorted(by_previous.items()):
            for batch in chunks(keys, size):
                where, params = keys_in(t.key_columns, bound_keys(t, batch))
                sql.execute(f"UPDATE {t.table} SET {REVISION_ID} = :previous WHERE {where}",
                            {**params, "previous": previous})
