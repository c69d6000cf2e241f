"""The ``revision`` table and the :class:`Revision` class.

A revision is one atomic changeset.  Its id comes from the one-row
``revision_sequence`` table, whose row is updated (and so locked) until the
transaction commits, so revision ids follow commit order on every database.
On PostgreSQL and MariaDB the id is taken in the final step of the commit
(:mod:`vdm.sqlalchemy.commit`); until then the revision works under a
provisional negative id.  On SQLite, whose writers serialise anyway, it is
taken at the first versioned flush.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BLANK_SCHEMA,
    Column,
    Connection,
    DateTime,
    Executable,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.orm import registry

from vdm.errors import ConfigurationError
from vdm.naming import AUTHOR_LENGTH, REVISION_SEQUENCE_TABLE, REVISION_TABLE
from vdm.revisions import (
    PROVISIONAL_TIMESTAMP,
    changed_metadata,
    check_revision_metadata,
    provisional_revision_id,
)
from vdm.sqlalchemy.types import JSONText, StateType
from vdm.states import State

_metadata = MetaData()
_registry = registry(metadata=_metadata)

#: DATETIME keeps microseconds on MariaDB/MySQL only when asked to.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _revision_columns(extra: type[JSONText] | type[Text] = JSONText) -> list[Column[Any]]:
    # An application's metadata gets ``extra`` as plain Text (the same
    # column), so that Alembic's autogenerate writes a type it can import.
    return [
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("timestamp", Timestamp, nullable=False, index=True),
        Column("author", String(AUTHOR_LENGTH)),
        Column("message", Text),
        Column("state", StateType, nullable=False, default=State.ACTIVE,
               server_default=State.ACTIVE.value),
        Column("extra", extra),
    ]


def _application_revision_columns() -> list[Column[Any]]:
    return _revision_columns(Text)


def _sequence_columns() -> list[Column[Any]]:
    return [
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("last_id", Integer, nullable=False),
    ]


revision_table = Table(REVISION_TABLE, _metadata, *_revision_columns())
revision_sequence_table = Table(REVISION_SEQUENCE_TABLE, _metadata, *_sequence_columns())


def _seed_sequence(target: Table, connection: Connection, **kw: Any) -> None:
    connection.execute(insert(target).values(id=1, last_id=0))


class Revision:
    """One atomic changeset: who (``author``), why (``message``), when.

    Create one and give it to the session before changing versioned
    objects; it is written when the first versioned change is flushed::

        session.revision = Revision(author="me", message="fix typo")

    ``id`` and ``timestamp`` (UTC) are final once the commit has run (on
    PostgreSQL and MariaDB the id is provisional until then: a number from
    :data:`vdm.revisions.PROVISIONAL_IDS_FROM` up, and no timestamp);
    ``extra`` holds JSON metadata such as a request id.
    """

    id: int | None
    timestamp: dt.datetime | None
    author: str | None
    message: str | None
    state: State
    extra: Any

    def __init__(
        self,
        author: str | None = None,
        message: str | None = None,
        extra: Any = None,
        state: State | str = State.ACTIVE,
    ) -> None:
        check_revision_metadata(author, message)
        self.author = author
        self.message = message
        self.extra = extra
        self.state = State.coerce(state)

    def __repr__(self) -> str:
        ident = "uncommitted" if self.id is None else f"id={self.id}"
        return f"<Revision {ident} author={self.author!r} message={self.message!r}>"


_registry.map_imperatively(Revision, revision_table)
event.listen(revision_sequence_table, "after_create", _seed_sequence)


def attach_revision_tables(metadata: MetaData) -> Table:
    """Put the ``revision`` tables into a user's metadata; return ``revision``.

    So ``metadata.create_all()`` (and Alembic autogenerate) sees them.  They
    always live in the database's default schema, also for a
    ``MetaData(schema=...)``: vdm reads and writes them without a schema,
    whatever the schema of the versioned tables.
    """
    for name, columns in ((REVISION_TABLE, _application_revision_columns),
                          (REVISION_SEQUENCE_TABLE, _sequence_columns)):
        existing = metadata.tables.get(name)
        if existing is None:
            copy = Table(name, metadata, *columns(), schema=BLANK_SCHEMA)
            if name == REVISION_SEQUENCE_TABLE:
                event.listen(copy, "after_create", _seed_sequence)
        elif set(existing.c.keys()) != {c.key for c in columns()}:
            raise ConfigurationError(
                f"the metadata already has a table named {name!r} that "
                f"is not vdm's; rename that table, vdm needs the name"
            )
    return metadata.tables[REVISION_TABLE]


def utcnow() -> dt.datetime:
    """The current time in UTC, naive (as the ``timestamp`` column stores it)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


_BUMP = (update(revision_sequence_table).where(revision_sequence_table.c.id == 1)
         .values(last_id=revision_sequence_table.c.last_id + 1))
_BUMP_RETURNING = _BUMP.returning(revision_sequence_table.c.last_id)
_READ = select(revision_sequence_table.c.last_id).where(revision_sequence_table.c.id == 1)
# MariaDB/MySQL have no UPDATE ... RETURNING; LAST_INSERT_ID(expr) hands
# the new id back with the UPDATE's own reply (the cursor's lastrowid).
_BUMP_LAST_INSERT_ID = (
    update(revision_sequence_table).where(revision_sequence_table.c.id == 1)
    .values(last_id=func.last_insert_id(revision_sequence_table.c.last_id + 1))
)
_INSERT = insert(revision_table)
_BUMPED = _BUMP_RETURNING.cte("bumped")
# PostgreSQL takes the id and writes the revision in one round trip; its
# clock is read after the sequence lock is granted, as elsewhere.
_INSERT_BUMPED = (
    insert(revision_table)
    .from_select(
        ["id", "timestamp", "author", "message", "state", "extra"],
        select(
            _BUMPED.c.last_id,
            func.timezone("UTC", func.clock_timestamp()),
            bindparam("author", type_=revision_table.c.author.type),
            bindparam("message", type_=revision_table.c.message.type),
            bindparam("state", type_=revision_table.c.state.type),
            bindparam("extra", type_=revision_table.c.extra.type),
        ),
    )
    .returning(revision_table.c.id, revision_table.c.timestamp)
)


def store_revision_metadata(
    connection: Connection, revision: Revision, stored: dict[str, Any]
) -> dict[str, Any]:
    """Write what changed on ``revision`` since ``stored`` was written; return the new values.

    Called at commit, so that author, message, state or extra set after
    the first flush are what the revision keeps.
    """
    current, changed = changed_metadata(revision, stored)
    if changed:
        connection.execute(
            update(revision_table).where(revision_table.c.id == revision.id).values(changed)
        )
    return current


def _insert_ignoring_clash(dialect: str) -> Executable:
    """INSERT of a revision row that writes nothing when the id is taken."""
    if dialect == "postgresql":
        return postgresql.insert(revision_table).on_conflict_do_nothing()
    return mysql.insert(revision_table).on_duplicate_key_update(id=revision_table.c.id)


def allocate_provisional_revision(connection: Connection, revision: Revision) -> None:
    """Write ``revision`` under a provisional (negative) id, taking no lock.

    Its final id and timestamp come at commit
    (:func:`vdm.sqlalchemy.commit.finalise_revision`).
    """
    statement = _insert_ignoring_clash(connection.dialect.name)
    while True:
        provisional = provisional_revision_id()
        written = connection.execute(statement, {
            "id": provisional, "timestamp": PROVISIONAL_TIMESTAMP,
            "author": revision.author, "message": revision.message,
            "state": revision.state, "extra": revision.extra,
        })
        if written.rowcount:
            break
    revision.id = provisional
    revision.timestamp = None


def allocate_revision(connection: Connection, revision: Revision) -> None:
    """Lock the revision sequence, take the next id and write ``revision``.

    For SQLite, whose database lock makes the first writer the only one
    until it commits: ids follow commit order and the timestamp, taken under
    the lock, never decreases along ids.  (PostgreSQL and MariaDB use
    :func:`allocate_provisional_revision` instead.)
    """
    seq = revision_sequence_table
    fields = {"author": revision.author, "message": revision.message,
              "state": revision.state, "extra": revision.extra}
    if connection.dialect.name == "postgresql":
        written = connection.execute(_INSERT_BUMPED, fields).first()
        if written is not None:
            revision.id, revision.timestamp = written
            return
    if connection.dialect.update_returning:
        new_id = connection.execute(_BUMP_RETURNING).scalar()
    elif connection.dialect.name in ("mysql", "mariadb"):
        bumped = connection.execute(_BUMP_LAST_INSERT_ID)
        new_id = bumped.rowcount and bumped.lastrowid
    else:
        new_id = connection.execute(_BUMP).rowcount and connection.execute(_READ).scalar()
    if not new_id:
        # Tables made without create_all (e.g. by a migration) lack the row.
        start = select(func.coalesce(func.max(revision_table.c.id), 0) + 1)
        connection.execute(insert(seq).values(id=1, last_id=start.scalar_subquery()))
        new_id = connection.execute(_READ).scalar_one()
    timestamp = utcnow()
    connection.execute(_INSERT, {"id": new_id, "timestamp": timestamp, **fields})
    revision.id = new_id
    revision.timestamp = timestamp
