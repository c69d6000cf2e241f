"""The final step of a commit: a provisional revision id becomes the real one.

On PostgreSQL and MariaDB/MySQL a writing transaction works under a
*provisional* revision id, a random number above every real id that takes
no lock (:func:`vdm.revisions.provisional_revision_id`): its revision row, its
version rows and the live rows it changed carry it.  Only at commit, after
the last flush, :func:`finalise_revision` locks the ``revision_sequence``
row, takes the next id, stamps the timestamp (never below the previous
revision's) and rewrites the provisional id in the revision row, in the
version rows (``revision_id`` and ``expired_id``) and in the live rows of
the tables the transaction wrote.  The commit that follows releases the
lock, so writers serialise only for these few statements and ids follow
commit order.

SQLite has one writer at a time (its database lock, held from a
transaction's first write to its commit), so there the id is final from the
first flush and nothing is rewritten.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Connection,
    Executable,
    Integer,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from vdm.errors import ConfigurationError
from vdm.naming import EXPIRED_ID, REVISION_ID
from vdm.operations import Operation
from vdm.revisions import PROVISIONAL_IDS_FROM, is_provisional
from vdm.sqlalchemy.revision import (
    Revision,
    revision_sequence_table,
    revision_table,
    utcnow,
)
from vdm.sqlalchemy.writer import cached_on, expire_deferred

#: Dialects whose writers work under a provisional id until commit.
DEFERRED_DIALECTS = frozenset({"postgresql", "mysql", "mariadb"})


def defers_revision_id(connection: Connection) -> bool:
    """True when revision ids are taken at commit on ``connection``'s database."""
    return connection.dialect.name in DEFERRED_DIALECTS


_seq = revision_sequence_table
_BUMP = (update(_seq).where(_seq.c.id == 1).values(last_id=_seq.c.last_id + 1))
_BUMP_RETURNING = _BUMP.returning(_seq.c.last_id)
_previous = revision_table.alias("previous")
# MariaDB has no UPDATE ... RETURNING: the id is read back, together with
# the previous revision's timestamp, by a locking read (a plain read would
# use the transaction's snapshot, which may predate that revision).
_READ_LOCKED = (
    select(_seq.c.last_id, _previous.c.timestamp)
    .select_from(_seq.outerjoin(_previous, _previous.c.id == _seq.c.last_id - 1))
    .where(_seq.c.id == 1)
    .with_for_update(read=True)
)
_LATEST_TIMESTAMP = select(func.max(revision_table.c.timestamp)).where(
    revision_table.c.id < PROVISIONAL_IDS_FROM)


def _rewrite(table: Any, column: str) -> Executable:
    return (update(table).where(table.c[column] == bindparam("provisional", type_=Integer))
            .values({column: bindparam("final", type_=Integer)}))


def _rewrites(versioning: Any, expired: bool) -> list[Executable]:
    """The statements moving one table's rows from the provisional id to the final one."""
    def build() -> dict[bool, list[Executable]]:
        vt = versioning.version_table
        found: dict[bool, list[Executable]] = {}
        for with_expired in (False, True):
            statements = [_rewrite(vt, REVISION_ID)]
            if with_expired:
                statements.append(_rewrite(vt, EXPIRED_ID))
            found[with_expired] = statements
        return found
    return cached_on(versioning, "_final_rewrites", build)[expired]


def finalise_revision(
    connection: Connection, revision: Revision, written: dict[Any, dict[Any, Operation]],
    expire_later: dict[Any, set[Any]] | None = None,
) -> None:
    """Give ``revision`` (written under a provisional id) its final id and timestamp.

    ``written`` maps each versioning the transaction wrote to the keys and
    operations it versioned; their version tables and (for tables carrying
    ``revision_id``) their live tables are rewritten.  Sets ``revision.id``
    and ``revision.timestamp``.
    """
    provisional = revision.id
    assert is_provisional(provisional)
    if connection.dialect.update_returning:
        final = connection.execute(_BUMP_RETURNING).scalar()
        # A fresh statement, so a fresh snapshot: it sees the revision
        # committed by the writer that held the lock before us.
        previous = connection.execute(_LATEST_TIMESTAMP).scalar()
    else:
        connection.execute(_BUMP)
        row = connection.execute(_READ_LOCKED).first()
        final, previous = (row[0], row[1]) if row is not None else (None, None)
        if final is not None and previous is None:
            # No revision just below (the first one, or a gap): a plain
            # read, since a locking one could wait for provisional rows.
            previous = connection.execute(_LATEST_TIMESTAMP).scalar()
    if final is None:
        final = _seed_sequence(connection)
    for versioning, keys in (expire_later or {}).items():
        # Only keys the revision still versions (a savepoint rolled back
        # may have taken some away).
        still = {k for k in keys if k in written.get(versioning, {})}
        if still:
            expire_deferred(connection, versioning, still, provisional)
    if is_provisional(final):
        raise ConfigurationError(
            f"revision id {final} reaches the range vdm keeps for provisional "
            f"ids ({PROVISIONAL_IDS_FROM} and up)")
    timestamp = utcnow()
    if previous is not None and previous > timestamp:
        # Another server's (or an adjusted) clock: never go back along ids.
        timestamp = previous
    connection.execute(insert(revision_table), {
        "id": final, "timestamp": timestamp, "author": revision.author,
        "message": revision.message, "state": revision.state, "extra": revision.extra,
    })
    params = {"provisional": provisional, "final": final}
    live_tables: dict[Any, Any] = {}
    for versioning, keys in written.items():
        if not keys:
            continue
        # (An insert may close a version too: that of a destroyed key.)
        for statement in _rewrites(versioning, True):
            connection.execute(statement, params)
        if REVISION_ID in versioning.table.c:
            live_tables[versioning.table] = versioning.table
    for table in _ordered(live_tables.values()):
        connection.execute(_live_rewrite(table), params)
    connection.execute(delete(revision_table).where(revision_table.c.id == provisional))
    revision.id = final
    revision.timestamp = timestamp


_live_rewrites: dict[Any, Executable] = {}


def _live_rewrite(table: Any) -> Executable:
    statement = _live_rewrites.get(table)
    if statement is None:
        statement = _live_rewrites[table] = _rewrite(table, REVISION_ID)
    return statement


def _ordered(tables: Iterable[Any]) -> list[Any]:
    """Tables in one fixed order, so two commits never lock them crosswise."""
    return sorted(tables, key=lambda t: t.fullname)


def _seed_sequence(connection: Connection) -> int:
    """Create the sequence row a migration left out, after the highest id."""
    start = select(func.coalesce(func.max(revision_table.c.id), 0) + 1).where(
        revision_table.c.id < PROVISIONAL_IDS_FROM)
    connection.execute(insert(_seq).values(id=1, last_id=start.scalar_subquery()))
    found: int = connection.execute(select(_seq.c.last_id).where(_seq.c.id == 1)).scalar_one()
    return found

