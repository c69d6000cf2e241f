"""Version tables: ``<table>_revision`` built from a live table.

A version table copies every column of the live table (types only: no
unique constraints, no foreign keys to live tables, nothing required) and
adds ``expired_id``, ``operation_type`` and, for tables without one,
``state``.  Its primary key is the live primary key plus ``revision_id``.
Its columns have the names *and keys* of the live columns, so
``live.c[key]`` and ``version.c[key]`` are the same field.

A foreign-key column declared without a type (``mapped_column(ForeignKey(
"other.id"))``) only gets one when SQLAlchemy finds the table it points
to, which may be declared later, in another module or another base: its
version column follows that type as soon as SQLAlchemy resolves it, and
at the latest when the tables are created or the mappers configured.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    event,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.types import NullType, SchemaType, TypeEngine

from vdm.errors import ConfigurationError
from vdm.naming import (
    EXPIRED_ID,
    OPERATION_TYPE,
    REVISION_ID,
    STATE,
    revision_table_name,
    version_expired_index_name,
    version_foreign_key_name,
    version_revision_index_name,
)
from vdm.records import refuse_reserved_columns
from vdm.sqlalchemy.revision import attach_revision_tables
from vdm.sqlalchemy.types import OperationType, StateType

#: ``MetaData.info`` key: (live column, version column) pairs whose type
#: SQLAlchemy has not resolved yet.
_UNTYPED = "vdm.untyped_version_columns"


def check_versionable(table: Table, class_name: str, stateful: bool | None = None) -> None:
    """Raise :class:`ConfigurationError` unless ``table`` can be versioned.

    ``stateful`` tells whether the class has the Stateful mixin (None: not
    known, not checked).
    """
    if not table.primary_key.columns:
        raise ConfigurationError(
            f"{class_name} (table {table.name!r}) has no primary key; "
            f"versioned classes need one to identify their versions",
            cls=class_name,
        )
    if REVISION_ID not in table.c:
        raise ConfigurationError(
            f"{class_name} (table {table.name!r}) has no {REVISION_ID!r} "
            f"column; declare it with the Revisioned mixin or "
            f"make_revisioned_table()",
            cls=class_name,
        )
    if table.c[REVISION_ID].name != REVISION_ID:
        raise ConfigurationError(
            f"{class_name} (table {table.name!r}): the column with key "
            f"{REVISION_ID!r} is named {table.c[REVISION_ID].name!r}; vdm's "
            f"shared schema needs a column named {REVISION_ID!r}",
            cls=class_name,
        )
    own_state = [c for c in table.c if STATE in (c.name, c.key)]
    if stateful is False and own_state:
        raise ConfigurationError(
            f"{class_name} (table {table.name!r}): its column {own_state[0].name!r} "
            f"(key {own_state[0].key!r}) uses the name {STATE!r}, which vdm reserves "
            f"for the versioned state of Stateful classes (it would read the "
            f"values as active/deleted); rename the column and its key, e.g. "
            f"mapped_column('state_code', ...) on an attribute not named "
            f"{STATE!r}, or add the Stateful mixin",
            cls=class_name,
        )
    if stateful and (STATE not in table.c or table.c[STATE].name != STATE):
        raise ConfigurationError(
            f"{class_name} (table {table.name!r}) is Stateful but has no column "
            f"named {STATE!r} under the key {STATE!r}; let the Stateful mixin "
            f"declare it",
            cls=class_name,
        )
    refuse_reserved_columns([*table.c.keys(), *(c.name for c in table.c)],
                            f"{class_name} (table {table.name!r})", class_name)


def _version_type(column: Column[Any]) -> TypeEngine[Any]:
    # Types that make schema objects (a PostgreSQL ENUM, a CHECK constraint)
    # are copied, as Table.to_metadata() does, so each table owns its own.
    if isinstance(column.type, SchemaType):
        return column.type.copy()
    return column.type


def build_version_table(
    table: Table, metadata: MetaData | None = None, key_names: list[str] | None = None,
) -> Table:
    """Return the version table of ``table``, creating it in ``metadata``.

    ``key_names`` are the columns identifying a row (default: the primary
    key).  A table without ``revision_id`` (an association table, the table
    of a subclass in joined inheritance) still gets one in its version table.
    """
    metadata = metadata if metadata is not None else table.metadata
    name = revision_table_name(table.name)
    existing = metadata.tables.get(name if table.schema is None else f"{table.schema}.{name}")
    if existing is not None:
        return existing
    revision_id = attach_revision_tables(metadata).c.id
    columns: list[Column[Any]] = []
    untyped: list[tuple[Column[Any], Column[Any]]] = []
    for col in table.c:
        if col.key == REVISION_ID:
            columns.append(Column(
                REVISION_ID, col.type,
                ForeignKey(revision_id, name=version_foreign_key_name(table.name, REVISION_ID)),
                autoincrement=False,
            ))
            continue
        copy = Column(col.name, _version_type(col), key=col.key,
                      nullable=not (col.primary_key or col.key in (key_names or ())),
                      autoincrement=False)
        columns.append(copy)
        if isinstance(col.type, NullType):
            untyped.append((col, copy))
    revision_type = table.c[REVISION_ID].type if REVISION_ID in table.c else Integer()
    if REVISION_ID not in table.c:
        columns.append(Column(
            REVISION_ID, revision_type,
            ForeignKey(revision_id, name=version_foreign_key_name(table.name, REVISION_ID)),
            autoincrement=False,
        ))
    columns.append(Column(
        EXPIRED_ID, revision_type,
        ForeignKey(revision_id, name=version_foreign_key_name(table.name, EXPIRED_ID)),
        nullable=True,
    ))
    columns.append(Column(OPERATION_TYPE, OperationType, nullable=False))
    if STATE not in table.c:
        columns.append(Column(STATE, StateType, nullable=True))
    # Key columns first, revision_id last: "this key as of R" is one seek.
    if key_names is None:
        key_names = [c.key for c in table.primary_key.columns]
    key = [*key_names, REVISION_ID]
    version = Table(name, metadata, *columns, PrimaryKeyConstraint(*key),
                    schema=table.schema)
    Index(version_revision_index_name(table.name), version.c[REVISION_ID])
    Index(version_expired_index_name(table.name), version.c[EXPIRED_ID])
    guard_revision_foreign_keys(version)
    if untyped:
        metadata.info.setdefault(_UNTYPED, []).extend(untyped)
        event.listen(version, "before_create", _before_create)
    return version


#: Databases whose foreign keys cannot point out of the table's own schema
#: without naming the default schema (MariaDB/MySQL databases, SQLite's
#: attached databases).
_SCHEMA_LOCAL_FOREIGN_KEYS = ("mysql", "mariadb", "sqlite")


def guard_revision_foreign_keys(table: Table) -> None:
    """Leave out ``table``'s foreign keys to ``revision`` where they cannot reach it.

    vdm's ``revision`` table lives in the default schema.  A table in
    another schema keeps the foreign key on PostgreSQL; MariaDB and SQLite
    would look for ``revision`` in the table's own database and refuse the
    table, so there the column is a plain indexed integer.
    """
    if table.schema is None:
        return
    for fk in table.foreign_keys:
        if fk.target_fullname.split(".")[-2:-1] == ["revision"] and fk.constraint is not None:
            fk.constraint.ddl_if(callable_=_reaches_default_schema)


def _reaches_default_schema(
    ddl: Any, target: Any, bind: Any, tables: Any = None, state: Any = None, *,
    dialect: Dialect, **kw: Any,
) -> bool:
    return dialect.name not in _SCHEMA_LOCAL_FOREIGN_KEYS


def resolve_version_types(metadata: MetaData, force: bool = False) -> None:
    """Give version columns the types SQLAlchemy has resolved since.

    With ``force``, foreign keys still unresolved are resolved now (their
    target table must exist in the metadata by then).
    """
    pending: list[tuple[Column[Any], Column[Any]]] = metadata.info.get(_UNTYPED, [])
    left = []
    for live, version in pending:
        if force and isinstance(live.type, NullType):
            for fk in live.foreign_keys:
                try:
                    fk.column  # noqa: B018 - resolving sets the live column's type
                except sa_exc.SQLAlchemyError:
                    pass  # not declared yet; create_all reports it itself
        if isinstance(live.type, NullType):
            left.append((live, version))
        else:
            version.type = _version_type(live)
    if pending:
        metadata.info[_UNTYPED] = left


def _before_create(target: Table, connection: Any, **kw: Any) -> None:
    resolve_version_types(target.metadata, force=True)


@event.listens_for(Column, "after_parent_attach")
def _on_column_attached(column: Column[Any], table: Any) -> None:
    # A column joining a table may be the target of a memoized foreign key:
    # SQLAlchemy has then just typed the live column pointing at it.
    metadata = getattr(table, "metadata", None)
    if metadata is not None and metadata.info.get(_UNTYPED):
        resolve_version_types(metadata)
