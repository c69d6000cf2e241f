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

from typing import Any

from sqlalchemy import (
    Connection,
    Executable,
    Integer,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)

from vdm.errors import ConfigurationError
from vdm.naming import EXPIRED_ID, REVISION_ID
from vdm.operations import Operation

# Whether a database defers ids to commit is the core's; importable from here.
from vdm.revisionlife import defers_revision_id as defers_revision_id
from vdm.revisions import PROVISIONAL_IDS_FROM, is_provisional
from vdm.sqlalchemy.revision import (
    Revision,
    revision_sequence_table,
    revision_table,
    utcnow,
)
from vdm.sqlalchemy.writer import expire_deferred

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


def _rewrite(table: Any, column: str) -> Any:
    return (update(table).where(table.c[column] == bindparam("vdm_provisional", type_=Integer))
            .values({column: bindparam("vdm_final", type_=Integer)}))


def _tables_to_rewrite(written: dict[Any, dict[Any, Operation]]) -> tuple[list[Any], list[Any]]:
    """The version tables and the live tables whose rows carry the provisional id."""
    versions: dict[str, Any] = {}
    live: dict[str, Any] = {}
    for versioning, keys in written.items():
        if not keys:
            continue
        versions[versioning.version_table.fullname] = versioning.version_table
        if REVISION_ID in versioning.table.c:
            live[versioning.table.fullname] = versioning.table
    # One fixed order, so two commits never lock them crosswise.
    return ([versions[n] for n in sorted(versions)], [live[n] for n in sorted(live)])


def _rewrite_statements(version_tables: list[Any], live_tables: list[Any]) -> list[Any]:
    """The rewrites, one statement per column (an insert may close a
    version too: that of a destroyed key)."""
    return ([_rewrite(vt, column) for vt in version_tables for column in (REVISION_ID, EXPIRED_ID)]
            + [_rewrite(table, REVISION_ID) for table in live_tables])


_one_statement: dict[tuple[str, ...], Executable] = {}


def _final_statement(version_tables: list[Any], live_tables: list[Any]) -> Executable:
    """PostgreSQL: the whole final step after the sequence bump, one statement.

    The revision row is written, every rewrite made and the provisional row
    deleted by data-modifying CTEs; the foreign keys are checked at the end
    of the statement, when all of it is done.  The timestamp is read in the
    statement, which (begun after the sequence lock was granted) sees the
    revision committed before.
    """
    key = (*(t.fullname for t in version_tables), "", *(t.fullname for t in live_tables))
    statement = _one_statement.get(key)
    if statement is None:
        # Literals, not bound values: the statement binds only its own
        # named parameters (anonymous ones go astray in cached DML CTEs).
        now = func.timezone(literal_column("'UTC'"), func.clock_timestamp())
        latest = select(func.max(revision_table.c.timestamp)).where(
            revision_table.c.id < literal_column(str(PROVISIONAL_IDS_FROM))).scalar_subquery()
        one: Any = literal_column("1")
        written = (
            insert(revision_table)
            .from_select(
                ["id", "timestamp", "author", "message", "state", "extra"],
                select(
                    bindparam("vdm_final", type_=Integer),
                    func.greatest(now, func.coalesce(latest, now)),
                    # Named apart from every column: the CTEs' UPDATEs
                    # would take a parameter named like a column as a value.
                    *(bindparam(f"vdm_{c}", type_=revision_table.c[c].type)
                      for c in ("author", "message", "state", "extra")),
                ),
            )
            .returning(revision_table.c.timestamp)
            .cte("final_revision")
        )
        ctes = [
            rewrite.returning(one).cte(f"rewrite_{i}")
            for i, rewrite in enumerate(_rewrite_statements(version_tables, live_tables))
        ]
        gone = delete(revision_table).where(
            revision_table.c.id == bindparam("vdm_provisional", type_=Integer)
        ).returning(one).cte("provisional_gone")
        statement = select(written.c.timestamp).add_cte(*ctes, gone)
        _one_statement[key] = statement
    return statement


def finalise_revision(
    connection: Connection, revision: Revision, written: dict[Any, dict[Any, Operation]],
    expire_later: dict[Any, set[Any]] | None = None,
) -> None:
    """Give ``revision`` (written under a provisional id) its final id and timestamp.

    ``written`` maps each versioning the transaction wrote to the keys and
    operations it versioned; their version tables and (for tables carrying
    ``revision_id``) their live tables are rewritten.  ``expire_later``
    (MariaDB/MySQL) holds keys whose previous versions are closed now.  Sets
    ``revision.id`` and ``revision.timestamp``.
    """
    provisional = revision.id
    assert provisional is not None and is_provisional(provisional)
    postgresql = connection.dialect.name == "postgresql"
    previous = None
    if connection.dialect.update_returning:
        final = connection.execute(_BUMP_RETURNING).scalar()
        if not postgresql:
            # A fresh statement, so a fresh snapshot: it sees the revision
            # committed by the writer that held the lock before us.
            previous = connection.execute(_LATEST_TIMESTAMP).scalar()
    else:
        connection.execute(_BUMP)
        row = connection.execute(_READ_LOCKED).first()
        final, previous = (row[0], row[1]) if row is not None else (None, None)
        if final is not None and final > 1 and previous is None:
            # No revision just below (the first one, or a gap): a plain
            # read, since a locking one could wait for provisional rows.
            previous = connection.execute(_LATEST_TIMESTAMP).scalar()
    if final is None:
        final = _seed_sequence(connection)
    if is_provisional(final):
        raise ConfigurationError(
            f"revision id {final} reaches the range vdm keeps for provisional "
            f"ids ({PROVISIONAL_IDS_FROM} and up)")
    for versioning, keys in (expire_later or {}).items():
        # Only keys the revision still versions (a savepoint rolled back
        # may have taken some away).
        still = {k for k in keys if k in written.get(versioning, {})}
        if still:
            expire_deferred(connection, versioning, still, provisional)
    version_tables, live_tables = _tables_to_rewrite(written)
    fields = {"author": revision.author, "message": revision.message,
              "state": revision.state, "extra": revision.extra}
    params = {"vdm_provisional": provisional, "vdm_final": final}
    if postgresql:
        timestamp = connection.execute(
            _final_statement(version_tables, live_tables),
            {**params, **{f"vdm_{k}": v for k, v in fields.items()}}).scalar_one()
    else:
        timestamp = utcnow()
        if previous is not None and previous > timestamp:
            # Another server's (or an adjusted) clock: never go back along ids.
            timestamp = previous
        connection.execute(insert(revision_table),
                           {"id": final, "timestamp": timestamp, **fields})
        for statement in _rewrite_statements(version_tables, live_tables):
            connection.execute(statement, params)
        connection.execute(delete(revision_table).where(revision_table.c.id == provisional))
    revision.id = final
    revision.timestamp = timestamp


def _seed_sequence(connection: Connection) -> int:
    """Create the sequence row a migration left out, after the highest id."""
    start = select(func.coalesce(func.max(revision_table.c.id), 0) + 1).where(
        revision_table.c.id < PROVISIONAL_IDS_FROM)
    connection.execute(insert(_seq).values(id=1, last_id=start.scalar_subquery()))
    found: int = connection.execute(select(_seq.c.last_id).where(_seq.c.id == 1)).scalar_one()
    return found
