"""The stale-write check: what a session read of a row must still be true.

A versioned row carries ``revision_id``, the revision that wrote it.  A
session that read a row at one revision and writes it must find it at that
revision still; otherwise another transaction changed (or deleted) it in
between, and the write would silently undo that change.  The rows are read
with a locking read (``SELECT ... FOR UPDATE``), which sees the latest
committed data on every database and keeps them locked until commit, so a
second writer waits, then finds them changed.

Both backends find which rows their unit of work is about to write and
what ``revision_id`` each was read at; :func:`locked_revisions` reads the
rows and :func:`check_unchanged` compares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from vdm.errors import ConflictError
from vdm.naming import REVISION_ID
from vdm.sql import MYSQL, SQLITE, sql_of
from vdm.versionwrite import CHUNK, chunks, keys_in

#: Stands for a ``revision_id`` the session never loaded: the row is only
#: checked to exist.
UNKNOWN = object()


def _lock_suffix(dialect: str, shared: bool) -> str:
    if dialect == SQLITE:
        return ""  # SQLite's writer holds the whole database
    if shared:
        return " LOCK IN SHARE MODE" if dialect == MYSQL else " FOR SHARE"
    return " FOR UPDATE"


def locked_revisions(
    source: Any, table: str, key_columns: tuple[str, ...], keys: Iterable[Any],
    shared: bool = False, on_primary_key: bool = False, size: int = CHUNK,
) -> dict[Any, Any]:
    """``{key: revision_id}`` of the rows of ``table`` with ``keys``, locked
    until commit (``shared``: against writers only).

    Keys come back as tuples (a one-column key too).  ``on_primary_key``
    (when the key is the table's primary key) makes MariaDB/MySQL read
    through it: it would rather scan the covering ``revision_id`` index,
    locking every row of it, and concurrent writers then deadlock.
    """
    sql = sql_of(source)
    hint = " FORCE INDEX (PRIMARY)" if on_primary_key and sql.dialect == MYSQL else ""
    found: dict[Any, Any] = {}
    for batch in chunks(keys, size):
        where, params = keys_in(key_columns, batch)
        for row in sql.rows(
                f"SELECT {', '.join(key_columns)}, {REVISION_ID} FROM {table}{hint} "
                f"WHERE {where}{_lock_suffix(sql.dialect, shared)}", params):
            found[tuple(row[:-1])] = row[-1]
    return found


def deleted_meanwhile(described: str, obj: Any) -> ConflictError:
    """The conflict of writing ``obj`` (``described``) whose row another
    transaction deleted after this session read it."""
    return ConflictError(
        f"{described} was deleted by another transaction after this "
        f"session read it; reload your data and decide again",
        obj=obj,
    )


def changed_meanwhile(described: str, obj: Any, now: Any, loaded: Any,
                      advice: str) -> ConflictError:
    """The conflict of writing ``obj`` (``described``), read at revision
    ``loaded``, that revision ``now`` changed since; ``advice`` says how to
    read it again with the backend at hand."""
    return ConflictError(
        f"{described} was changed by revision {now} after this session read "
        f"it (at revision {loaded}); {advice} and apply your change again",
        obj=obj, revision=now,
    )


def check_unchanged(
    expected: dict[Any, tuple[Any, Any]], found: dict[Any, Any],
    describe: Callable[[Any], str], advice: str,
) -> None:
    """Raise :class:`vdm.ConflictError` unless each key of ``expected``
    (``{key: (obj, revision_id read or UNKNOWN)}``) is in ``found`` (``{key:
    revision_id now}``, from :func:`locked_revisions`) at the revision read."""
    for key, (obj, loaded) in expected.items():
        if key not in found:
            raise deleted_meanwhile(describe(key), obj)
        if loaded is not UNKNOWN and found[key] != loaded:
            raise changed_meanwhile(describe(key), obj, found[key], loaded, advice)
