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

from functools import partial
from typing import Any

from sqlalchemy import (
    BLANK_SCHEMA,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    func,
    insert,
    update,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import registry

from vdm import revisionlife as life
from vdm.errors import ConfigurationError
from vdm.naming import AUTHOR_LENGTH, REVISION_SEQUENCE_TABLE, REVISION_TABLE

# The lifecycle lives in the core; these names stay importable from here.
from vdm.revisionlife import allocate_provisional_revision as allocate_provisional_revision
from vdm.revisionlife import store_revision_metadata as store_revision_metadata
from vdm.revisionlife import utcnow as utcnow
from vdm.revisions import RevisionFields
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


class Revision(RevisionFields):
    """One atomic changeset: who (``author``), why (``message``), when.

    Create one and give it to the session before changing versioned
    objects; it is written when the first versioned change is flushed::

        session.revision = Revision(author="me", message="fix typo")

    ``id`` and ``timestamp`` (UTC) are final once the commit has run (on
    PostgreSQL and MariaDB the id is provisional until then: a number from
    :data:`vdm.revisions.PROVISIONAL_IDS_FROM` up, and no timestamp);
    ``extra`` holds JSON metadata such as a request id.
    """


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


# MariaDB/MySQL have no UPDATE ... RETURNING; LAST_INSERT_ID(expr) hands
# the new id back with the UPDATE's own reply (the cursor's lastrowid).
_BUMP_LAST_INSERT_ID = (
    update(revision_sequence_table).where(revision_sequence_table.c.id == 1)
    .values(last_id=func.last_insert_id(revision_sequence_table.c.last_id + 1))
)


def allocate_revision(connection: Connection, revision: Revision) -> None:
    """Lock the revision sequence, take the next id and write ``revision``
    (:func:`vdm.revisionlife.allocate_revision`; on MariaDB/MySQL the id
    comes back with the sequence bump's own reply)."""
    bump = None
    if connection.dialect.name in ("mysql", "mariadb"):
        bump = partial(_bump_last_insert_id, connection)
    life.allocate_revision(connection, revision, bump)


def _bump_last_insert_id(connection: Connection) -> int | None:
    bumped = connection.execute(_BUMP_LAST_INSERT_ID)
    return bumped.rowcount and bumped.lastrowid
