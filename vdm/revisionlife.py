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
from collections.abc import Callable
from typing import Any

from vdm.errors import ConfigurationError, RevisionInUseError
from vdm.naming import EXPIRED_ID, REVISION_ID, REVISION_SEQUENCE_TABLE, REVISION_TABLE
from vdm.revisions import (
    PROVISIONAL_IDS_FROM,
    PROVISIONAL_TIMESTAMP,
    changed_metadata,
    is_provisional,
    provisional_revision_id,
    revision_metadata,
)
from vdm.sql import MYSQL, POSTGRESQL, SQLITE, Sql, scalar, sql_of
from vdm.states import State
from vdm.versionwrite import expire_previous, table_record

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


def json_text(value: Any) -> str | None:
    """JSON metadata (a revision's ``extra``) as its column stores it."""
    return None if value is None else json.dumps(value, sort_keys=True)


def refuse_written(revision: Any) -> None:
    """Raise :class:`vdm.errors.RevisionInUseError` if ``revision`` is
    already written: a revision covers one transaction."""
    if getattr(revision, "id", None) is not None:
        raise RevisionInUseError(
            f"{revision!r} is already written; a revision covers one "
            f"transaction, create a new Revision for these changes",
            revision=revision,
        )


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


def _insert(sql: Sql, revision: Any, rid: int, timestamp: dt.datetime) -> None:
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
    _insert(sql, revision, int(new_id), timestamp)
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


#: The version table and, when its rows carry ``revision_id``, the live
#: table of one versioned table, as the SQL names them.
RewrittenTables = tuple[str, str | None]

_LATEST = f"SELECT MAX(timestamp) FROM {_REV} WHERE id < {PROVISIONAL_IDS_FROM}"
# MariaDB/MySQL: the id is read back with the previous revision's timestamp
# by a locking read (a plain one would use the transaction's snapshot,
# which may predate that revision).
_READ_LOCKED = (f"SELECT s.last_id, p.timestamp FROM {_SEQ} s LEFT OUTER JOIN {_REV} p "
                f"ON p.id = s.last_id - 1 WHERE s.id = 1 LOCK IN SHARE MODE")
_final_statements: dict[tuple[str, ...], str] = {}


def _rewrites(version_tables: list[str], live_tables: list[str]) -> list[str]:
    """One UPDATE per column carrying the provisional id (an insert may
    close a version too: that of a destroyed key)."""
    def rewrite(table: str, column: str) -> str:
        return (f"UPDATE {table} SET {column} = CAST(:vdm_final AS INTEGER) "
                f"WHERE {column} = CAST(:vdm_provisional AS INTEGER)")
    return ([rewrite(t, c) for t in version_tables for c in (REVISION_ID, EXPIRED_ID)]
            + [rewrite(t, REVISION_ID) for t in live_tables])


def _final_statement(version_tables: list[str], live_tables: list[str]) -> str:
    """PostgreSQL: the whole final step after the sequence bump, one statement.

    Data-modifying CTEs write the revision row, make every rewrite and
    delete the provisional row; foreign keys are checked when all of it is
    done.  The clock and the previous revision are read in the statement,
    which (begun once the sequence lock was granted) sees the revision
    committed before.
    """
    key = (*version_tables, "", *live_tables)
    statement = _final_statements.get(key)
    if statement is None:
        now = "timezone('UTC', clock_timestamp())"
        ctes = [
            f"final_revision AS (INSERT INTO {_REV} ({', '.join(REVISION_COLUMNS)}) "
            f"SELECT CAST(:vdm_final AS INTEGER), GREATEST({now}, COALESCE(({_LATEST}), {now})), "
            f"CAST(:vdm_author AS VARCHAR), CAST(:vdm_message AS TEXT), "
            f"CAST(:vdm_state AS VARCHAR), CAST(:vdm_extra AS TEXT) RETURNING timestamp)",
            *(f"rewrite_{i} AS ({rewrite} RETURNING 1)"
              for i, rewrite in enumerate(_rewrites(version_tables, live_tables))),
            f"provisional_gone AS (DELETE FROM {_REV} WHERE id = "
            f"CAST(:vdm_provisional AS INTEGER) RETURNING 1)",
        ]
        statement = f"WITH {', '.join(ctes)} SELECT timestamp FROM final_revision"
        _final_statements[key] = statement
    return statement


def finalise_revision(
    source: Any, revision: Any, written: dict[Any, dict[Any, Any]],
    expire_later: dict[Any, set[Any]] | None = None,
    tables_of: Callable[[Any], RewrittenTables] | None = None,
    expire: Callable[[Any, Any, set[Any], int], None] = expire_previous,
) -> None:
    """Give ``revision`` (written under a provisional id) its final id and timestamp.

    Locks the revision sequence until the commit that follows, takes the
    next id, stamps the timestamp (never below the previous revision's:
    another server's clock may lag) and rewrites the provisional id in the
    revision row, in the version rows and in the live rows of the tables
    the transaction wrote: ``written`` maps each table (a backend's
    versioning record) to the keys it versioned; ``tables_of`` names its
    tables (by default those of its :class:`vdm.tables.TableRecord`, the
    live rows carrying ``revision_id``).  ``expire_later`` (MariaDB/MySQL)
    holds keys whose previous versions are closed now, under the lock, by
    ``expire(sql, table, keys, provisional)``.
    """
    sql = sql_of(source)
    provisional = revision.id
    assert provisional is not None and provisional >= PROVISIONAL_IDS_FROM
    previous = None
    if sql.dialect == MYSQL:
        sql.execute(_BUMP)
        found = sql.rows(_READ_LOCKED)
        final, previous = found[0] if found else (None, None)
        if final is not None and final > 1 and previous is None:
            # No revision just below (the first one, or a gap): a plain
            # read, since a locking one could wait for provisional rows.
            previous = scalar(sql, _LATEST)
    else:
        if sql.dialect == POSTGRESQL or _SQLITE_RETURNING:
            final = scalar(sql, f"{_BUMP} RETURNING last_id")
        else:
            final = sql.execute(_BUMP) and scalar(sql, _READ)
        if sql.dialect != POSTGRESQL:
            # A fresh statement, so a fresh snapshot: it sees the revision
            # committed by the writer that held the lock before.
            previous = scalar(sql, _LATEST)
    if final is None:
        sql.execute(_SEED)
        final = scalar(sql, _READ)
    final = int(final)
    if final >= PROVISIONAL_IDS_FROM:
        raise ConfigurationError(
            f"revision id {final} reaches the range vdm keeps for provisional "
            f"ids ({PROVISIONAL_IDS_FROM} and up)")
    for table, keys in (expire_later or {}).items():
        # Only keys the revision still versions (a savepoint rolled back
        # may have taken some away).
        still = {k for k in keys if k in written.get(table, {})}
        if still:
            expire(sql, table, still, provisional)
    version_tables: set[str] = set()
    live_tables: set[str] = set()
    for table, versioned in written.items():
        if versioned:
            version_table, live_table = (tables_of or _record_tables)(table)
            version_tables.add(version_table)
            if live_table is not None:
                live_tables.add(live_table)
    # One fixed order, so two commits never lock them crosswise.
    versions, lives = sorted(version_tables), sorted(live_tables)
    params = {"vdm_provisional": provisional, "vdm_final": final}
    if sql.dialect == POSTGRESQL:
        fields = _row(sql.dialect, revision, final, PROVISIONAL_TIMESTAMP)
        timestamp = scalar(sql, _final_statement(versions, lives), {
            **params, **{f"vdm_{c}": fields[c] for c in ("author", "message", "state", "extra")}})
    else:
        timestamp = utcnow()
        previous = as_datetime(previous)
        if previous is not None and previous > timestamp:
            timestamp = previous
        _insert(sql, revision, final, timestamp)
        for statement in _rewrites(versions, lives):
            sql.execute(statement, params)
        sql.execute(f"DELETE FROM {_REV} WHERE id = :vdm_provisional", params)
    revision.id = final
    revision.timestamp = timestamp


def take_back_revision(source: Any, revision: Any) -> None:
    """Remove the row of ``revision``, which wrote nothing in the end, and
    give back the id it took from the sequence (a provisional id took none).

    The sequence row stays locked from the bump until the commit, so no
    other writer can have taken a later id meanwhile.
    """
    sql = sql_of(source)
    sql.execute(f"DELETE FROM {_REV} WHERE id = :vdm_id", {"vdm_id": revision.id})
    if not is_provisional(revision.id):
        sql.execute(f"UPDATE {_SEQ} SET last_id = last_id - 1 WHERE id = 1 "
                    f"AND last_id = :vdm_id", {"vdm_id": revision.id})


def end_revision(
    source: Any, revision: Any, written: dict[Any, dict[Any, Any]],
    stored: dict[str, Any], expire_later: dict[Any, set[Any]] | None = None,
    tables_of: Callable[[Any], RewrittenTables] | None = None,
    expire: Callable[[Any, Any, set[Any], int], None] = expire_previous,
) -> tuple[bool, dict[str, Any]]:
    """The revision's part of a commit, once the last versions are written.

    A revision whose versions all cancelled out (``written`` holds no key)
    leaves no row (:func:`take_back_revision`); one written under a
    provisional id gets its final id (:func:`finalise_revision`); any
    other has its author, message, state and extra stored as they are now
    (:func:`store_revision_metadata`).  Returns (whether it was taken
    back, the metadata now stored).
    """
    if not any(written.values()):
        take_back_revision(source, revision)
        return True, stored
    if is_provisional(revision.id):
        finalise_revision(source, revision, written, expire_later, tables_of, expire)
        return False, revision_metadata(revision)
    return False, store_revision_metadata(source, revision, stored)


def _record_tables(table: Any) -> RewrittenTables:
    record = table_record(table)
    return record.version_table, record.table


def as_datetime(value: Any) -> dt.datetime | None:
    """A timestamp read back (SQLite gives text) as a naive datetime."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))
