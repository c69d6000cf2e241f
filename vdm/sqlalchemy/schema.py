"""Version tables: ``<table>_revision`` built from a live table.

A version table copies every column of the live table (types only: no
unique constraints, no foreign keys to live tables, nothing required) and
adds ``expired_id``, ``operation_type`` and, for tables without one,
``state``.  Its primary key is the live primary key plus ``revision_id``.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    event,
)

from vdm.errors import ConfigurationError
from vdm.naming import (
    EXPIRED_ID,
    OPERATION_TYPE,
    REVISION_ID,
    REVISION_TABLE,
    STATE,
    revision_table_name,
    version_expired_index_name,
    version_revision_index_name,
)
from vdm.sqlalchemy.types import OperationType, StateType


def check_versionable(table: Table, class_name: str) -> None:
    """Raise :class:`ConfigurationError` unless ``table`` can be versioned."""
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
    for name in (EXPIRED_ID, OPERATION_TYPE):
        if name in table.c:
            raise ConfigurationError(
                f"{class_name} (table {table.name!r}) has a column named "
                f"{name!r}, which vdm's version table needs; rename it",
                cls=class_name,
            )


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
    existing = metadata.tables.get(name)
    if existing is not None:
        return existing
    columns: list[Column[object]] = []
    for col in table.c:
        if col.name == REVISION_ID:
            columns.append(
                Column(REVISION_ID, col.type, ForeignKey(f"{REVISION_TABLE}.id"),
                       autoincrement=False)
            )
        else:
            columns.append(
                Column(col.name, col.type,
                       nullable=not (col.primary_key or col.name in (key_names or ())),
                       autoincrement=False)
            )
    revision_type = table.c[REVISION_ID].type if REVISION_ID in table.c else Integer()
    if REVISION_ID not in table.c:
        columns.append(Column(REVISION_ID, revision_type,
                              ForeignKey(f"{REVISION_TABLE}.id"), autoincrement=False))
    columns.append(
        Column(EXPIRED_ID, revision_type,
               ForeignKey(f"{REVISION_TABLE}.id"), nullable=True)
    )
    columns.append(Column(OPERATION_TYPE, OperationType, nullable=False))
    if STATE not in table.c:
        columns.append(Column(STATE, StateType, nullable=True))
    # Key columns first, revision_id last: "this key as of R" is one seek.
    if key_names is None:
        key_names = [c.name for c in table.primary_key.columns]
    key = [*key_names, REVISION_ID]
    version = Table(name, metadata, *columns, PrimaryKeyConstraint(*key),
                    schema=table.schema)
    Index(version_revision_index_name(table.name), version.c[REVISION_ID])
    Index(version_expired_index_name(table.name), version.c[EXPIRED_ID])
    if any(c.type._isnull for c in version.c):
        event.listen(version, "before_create", lambda target, *a, **kw: follow_types(table))
    return version


def follow_types(table: Table) -> None:
    """Give ``table``'s version table the types its columns have now.

    A foreign key column declared without a type takes the type of the
    column it refers to only once SQLAlchemy resolves the key (when the
    other table is declared); its copy follows, at the latest just before
    the version table is created.
    """
    version = table.metadata.tables.get(
        revision_table_name(table.name) if table.schema is None
        else f"{table.schema}.{revision_table_name(table.name)}")
    if version is None:
        return
    for col in table.c:
        if col.name in version.c and version.c[col.name].type._isnull:
            version.c[col.name].type = col.type
