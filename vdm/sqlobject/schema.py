"""Creating the tables of versioned classes: live, version and revision.

:func:`create_tables` writes the same schema as the SQLAlchemy backend's
``Base.metadata.create_all()``:

* the live table, created by SQLObject from the class's columns, with
  ``revision_id`` referencing ``revision(id)`` and indexed
  (``ix_<table>_revision_id``);
* ``<table>_revision``: every live column (types only: no unique
  constraints, no foreign keys to live tables, nothing required but the
  key), then ``expired_id``, ``operation_type`` and, for classes that are
  not stateful, ``state``; primary key = the live key + ``revision_id``;
  indexed on ``revision_id`` and ``expired_id``;
* ``revision`` and ``revision_sequence`` (:mod:`vdm.sqlobject.revision`).

    create_tables(connection, [License, Book, Author])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vdm.errors import ConfigurationError
from vdm.naming import (
    EXPIRED_ID,
    OPERATION_TYPE,
    REVISION_ID,
    REVISION_SEQUENCE_TABLE,
    REVISION_TABLE,
    STATE,
    STATE_LENGTH,
    live_revision_index_name,
    version_expired_index_name,
    version_revision_index_name,
)
from vdm.sqlobject.dialect import MYSQL, db_name, table_exists
from vdm.sqlobject.registry import Versioning, versioning_of
from vdm.sqlobject.revision import create_revision_tables


def _id_type(conn: Any, cls: Any) -> str:
    if cls.sqlmeta.idType is str:
        # MySQL cannot index TEXT without a length.
        return "VARCHAR(255)" if db_name(conn) == MYSQL else "TEXT"
    return "INTEGER"


def _column_type(conn: Any, column: Any) -> str:
    name = db_name(conn)
    method = getattr(column, f"_{name}Type", None) or column._sqlType
    return str(method())


def version_table_ddl(conn: Any, versioning: Versioning) -> list[str]:
    """``CREATE`` statements of the version table of ``versioning``'s class."""
    cls: Any = versioning.cls
    vt = versioning.version_table
    lines = [f"{versioning.id_name} {_id_type(conn, cls)} NOT NULL"]
    for column in cls.sqlmeta.columnList:
        if column.dbName == REVISION_ID:
            lines.append(f"{REVISION_ID} INTEGER NOT NULL")
        else:
            lines.append(f"{column.dbName} {_column_type(conn, column)}")
    lines.append(f"{EXPIRED_ID} INTEGER")
    lines.append(f"{OPERATION_TYPE} INTEGER NOT NULL")
    if not versioning.stateful:
        lines.append(f"{STATE} VARCHAR({STATE_LENGTH})")
    lines.append(f"PRIMARY KEY ({versioning.id_name}, {REVISION_ID})")
    lines.append(f"FOREIGN KEY ({REVISION_ID}) REFERENCES {REVISION_TABLE} (id)")
    lines.append(f"FOREIGN KEY ({EXPIRED_ID}) REFERENCES {REVISION_TABLE} (id)")
    body = ",\n    ".join(lines)
    return [
        f"CREATE TABLE {vt} (\n    {body}\n)",
        f"CREATE INDEX {version_revision_index_name(versioning.table)} "
        f"ON {vt} ({REVISION_ID})",
        f"CREATE INDEX {version_expired_index_name(versioning.table)} "
        f"ON {vt} ({EXPIRED_ID})",
    ]


def _live_table(conn: Any, cls: Any, versioning: Versioning | None) -> list[str]:
    sql, constraints = conn.createTableSQL(cls)
    if versioning is not None:
        sql = sql.rstrip()
        if not sql.endswith(")"):
            raise ConfigurationError(
                f"cannot add vdm's revision_id foreign key to SQLObject's "
                f"CREATE TABLE of {cls.__name__}: {sql!r}", cls=cls,
            )
        sql = (sql[:-1].rstrip() + f",\n    FOREIGN KEY ({REVISION_ID}) "
               f"REFERENCES {REVISION_TABLE} (id)\n)")
    conn.query(sql)
    return list(constraints)


def create_tables(conn: Any, classes: Iterable[type], if_not_exists: bool = True,
                  apply_constraints: bool = True) -> list[str]:
    """Create the tables of ``classes`` and the revision tables.

    ``classes`` may mix versioned and plain SQLObject classes; foreign-key
    constraints are added after every table exists, so order does not
    matter.  Existing tables are left alone.  Plain classes are created
    the SQLObject way (``createTable``), so their ``ManyToMany``
    intermediate tables are created too.  With ``apply_constraints=False``
    the foreign-key constraints are returned instead of run (as SQLObject's
    ``createTable(applyConstraints=False)`` does).
    """
    create_revision_tables(conn)
    constraints: list[str] = []
    for cls in classes:
        so_cls: Any = cls
        table = so_cls.sqlmeta.table
        versioning = versioning_of(cls)
        if versioning is None:
            constraints.extend(so_cls.createTable(
                ifNotExists=if_not_exists, applyConstraints=False, connection=conn) or [])
            continue
        if if_not_exists and table_exists(conn, table):
            _check_existing(conn, so_cls, table)
        else:
            constraints.extend(_live_table(conn, so_cls, versioning))
            so_cls.createJoinTables(ifNotExists=True, connection=conn)
            so_cls.createIndexes(ifNotExists=True, connection=conn)
            conn.query(
                f"CREATE INDEX {live_revision_index_name(table)} "
                f"ON {table} ({REVISION_ID})"
            )
        if not (if_not_exists and table_exists(conn, versioning.version_table)):
            for statement in version_table_ddl(conn, versioning):
                conn.query(statement)
    if not apply_constraints:
        return constraints
    for constraint in constraints:
        conn.query(constraint)
    return []


def drop_tables(conn: Any, classes: Iterable[type[Any]]) -> None:
    """Drop the tables of ``classes`` (versions included) and the revision tables."""
    names: list[str] = []
    for cls in classes:
        versioning = versioning_of(cls)
        if versioning is not None:
            names.append(versioning.version_table)
        names.append(cls.sqlmeta.table)
    names += [REVISION_SEQUENCE_TABLE, REVISION_TABLE]
    cascade = " CASCADE" if db_name(conn) == "postgres" else ""
    if db_name(conn) == MYSQL:
        conn.query("SET FOREIGN_KEY_CHECKS=0")
    try:
        for name in names:
            if table_exists(conn, name):
                conn.query(f"DROP TABLE {name}{cascade}")
    finally:
        if db_name(conn) == MYSQL:
            conn.query("SET FOREIGN_KEY_CHECKS=1")


def _check_existing(conn: Any, cls: Any, table: str) -> None:
    """Refuse an existing live table that lacks the columns history needs."""
    columns = {c.lower() for c in _column_names(conn, table)}
    if REVISION_ID not in columns:
        raise ConfigurationError(
            f"{cls.__name__} (table {table!r}) has no {REVISION_ID!r} column; "
            f"the table was made without vdm: add the column (and its "
            f"{table}_revision table) with a migration, or drop the table "
            f"and let create_tables() make it",
            cls=cls,
        )


def _column_names(conn: Any, table: str) -> list[str]:
    """The column names of an existing table (every database vdm supports)."""
    if conn.dbName == "sqlite":
        return [row[1] for row in conn.queryAll(f"PRAGMA table_info({table})")]
    rows = conn.queryAll(
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_name = '{table}' AND table_schema = "
        + ("current_schema()" if conn.dbName == "postgres" else "DATABASE()")
    )
    return [row[0] for row in rows]
