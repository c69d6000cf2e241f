"""A revision's life on the write path, once for both backends.

A writing transaction needs a revision row before its first version row.
Its id comes from the one-row ``revision_sequence`` table: bumping that row
locks it until the transaction ends, so writers queue and ids follow commit
order.  Either the id is taken at the first versioned write
(:func:`allocate_revision`), or the transaction works under a provisional
id, which takes no lock (:func:`allocate_provisional_revision`), and the
final step of its commit takes the real one.  At commit the revision row
keeps the author, message, state and extra the revision has then
(:func:`store_revision_metadata`).

Everything here is SQL text over the :class:`vdm.sql.Sql` of the caller's
session or connection, on the schema :mod:`vdm.naming` names; the revision
object is either backend's ``Revision`` (``id``, ``timestamp``, ``author``,
``message``, ``state``, ``extra``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from vdm.naming import REVISION_SEQUENCE_TABLE, REVISION_TABLE
from vdm.revisions import (
    PROVISIONAL_IDS_FROM,
    PROVISIONAL_TIMESTAMP,
    changed_metadata,
    provisional_revision_id,
)
from vdm.sql import MYSQL, POSTGRESQL, SQLITE, scalar, sql_of
from vdm.states import State

T = TypeVar("T")

#: Databases whose writers may work under a provisional id until commit
#: (SQLite's database lock lets one writer at a time anyway).
DEFERRING_DIALECTS = frozenset({POSTGRESQL, MYSQL})

#: The revision table's columns, in the order vdm writes them.
REVISION_COLUMNS = ("id", "timestamp", "author", "message", "state", "extra")

# SQLite answers UPDATE ... RETURNING from 3.35 on.
_SQLITE_RETURNING = sqlite3.sqlite_version_info >= (3, 35)

_SEQ, _REV = REVISION_SEQUENCE_TABLE, REVISION_TABLE
_BUMP = f"UPDATE {_SEQ} SET last_id = last_id + 1 WHERE id = 1"
_READ = f"SELECT last_id FROM {_SEQ} WHERE id = 1"
# Tables made without vdm's DDL (e.g. by a migration) may lack the row:
# it starts after the highest real id.
_SEED = (f"INSERT INTO {_SEQ} (id, last_id) SELECT 1, COALESCE(MAX(id), 0) + 1 "
         f"FROM {_REV} WHERE id < {PROVISIONAL_IDS_FROM}")
_VALUES = ", ".join(f":{c}" for c in REVISION_COLUMNS)
_INSERT = f"INSERT INTO {_REV} ({', '.join(REVISION_COLUMNS)}) VALUES ({_VALUES})"
# PostgreSQL takes the id and writes the row in one round trip; its clock
# is read once the sequence lock is granted.
_INSERT_BUMPED = (
    f"WITH bumped AS ({_BUMP} RETURNING last_id) "
    f"INSERT INTO {_REV} ({', '.join(REVISION_COLUMNS)}) "
    f"SELECT last_id, timezone('UTC', clock_timestamp()), "
    f"CAST(:author AS VARCHAR), CAST(:message AS TEXT), CAST(:state AS VARCHAR), "
    f"CAST(:extra AS TEXT) FROM bumped RETURNING id, timestamp"
)
# A provisional id may (one in a billion) be another open revision's.
_INSERT_UNLESS_TAKEN = {
    MYSQL: f"{_INSERT} ON DUPLICATE KEY UPDATE id = id",
    POSTGRESQL: f"{_INSERT} ON CONFLICT DO NOTHING",
    SQLITE: f"{_INSERT} ON CONFLICT DO NOTHING",
}


def utcnow() -> dt.datetime:
    """The current time in UTC, naive (as the ``timestamp`` column stores it)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


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


def json_text(value: Any) -> str | None:
    """JSON metadata (a revision's ``extra``) as its column stores it."""
    return None if value is None else json.dumps(value, sort_keys=True)


def defers_revision_id(source: Any) -> bool:
    """True when ``source``'s database can take revision ids at commit."""
    return sql_of(source).dialect in DEFERRING_DIALECTS


def _column_value(dialect: str, column: str, value: Any) -> Any:
    """``value`` of the revision ``column`` as the schema stores it."""
    if column == "state":
        return State.coerce(value).value
    if column == "extra":
        return json_text(value)
    if column == "timestamp" and dialect == SQLITE and value is not None:
        # Text, as SQLite keeps it; always with microseconds.
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _row(dialect: str, revision: Any, rid: int, timestamp: dt.datetime) -> dict[str, Any]:
    values = {"id": rid, "timestamp": timestamp, "author": revision.author,
              "message": revision.message, "state": revision.state,
              "extra": revision.extra}
    return {c: _column_value(dialect, c, v) for c, v in values.items()}


def insert_revision(source: Any, revision: Any, rid: int, timestamp: dt.datetime) -> None:
    """Write ``revision``'s row under id ``rid`` and ``timestamp``."""
    sql = sql_of(source)
    sql.execute(_INSERT, _row(sql.dialect, revision, rid, timestamp))


def allocate_provisional_revision(source: Any, revision: Any) -> None:
    """Write ``revision`` under a provisional id, taking no lock.

    The id is random (:func:`vdm.revisions.provisional_revision_id`); one
    another open revision holds is drawn again.  The final id and the
    timestamp come in the final step of the commit.
    """
    sql = sql_of(source)
    statement = _INSERT_UNLESS_TAKEN[sql.dialect]
    while True:
        provisional = provisional_revision_id()
        if sql.execute(statement, _row(sql.dialect, revision, provisional,
                                       PROVISIONAL_TIMESTAMP)):
            break
    revision.id = provisional
    revision.timestamp = None


def allocate_revision(
    source: Any, revision: Any, bump: Callable[[], int | None] | None = None
) -> None:
    """Lock the revision sequence, take the next id and write ``revision``.

    The lock is held until the transaction ends, so ids follow commit order
    and the timestamp, taken under the lock, never decreases along ids.
    ``bump``, when given, bumps the sequence and returns the new id (None if
    the row is missing) in one round trip where the seam cannot (MariaDB's
    ``LAST_INSERT_ID(expr)`` answer).
    """
    sql = sql_of(source)
    if sql.dialect == POSTGRESQL:
        fields = _row(sql.dialect, revision, 0, PROVISIONAL_TIMESTAMP)
        del fields["id"], fields["timestamp"]
        found = sql.rows(_INSERT_BUMPED, fields)
        if found:
            revision.id, revision.timestamp = int(found[0][0]), found[0][1]
            return
    if bump is not None:
        new_id = bump()
    elif sql.dialect == POSTGRESQL or (sql.dialect == SQLITE and _SQLITE_RETURNING):
        new_id = scalar(sql, f"{_BUMP} RETURNING last_id")
    else:
        new_id = sql.execute(_BUMP) and scalar(sql, _READ)
    if not new_id:
        sql.execute(_SEED)
        new_id = scalar(sql, _READ)
    timestamp = utcnow()
    insert_revision(sql, revision, int(new_id), timestamp)
    revision.id = int(new_id)
    revision.timestamp = timestamp


def store_revision_metadata(
    source: Any, revision: Any, stored: dict[str, Any]
) -> dict[str, Any]:
    """Write what changed on ``revision`` since ``stored`` was written; return
    the metadata now stored.

    Called at commit, so that author, message, state or extra set after the
    first write are what the revision keeps.
    """
    current, changed = changed_metadata(revision, stored)
    if changed:
        sql = sql_of(source)
        assignments = ", ".join(f"{c} = :{c}" for c in changed)
        sql.execute(
            f"UPDATE {_REV} SET {assignments} WHERE id = :vdm_id",
            {**{c: _column_value(sql.dialect, c, v) for c, v in changed.items()},
             "vdm_id": revision.id},
        )
    return current
