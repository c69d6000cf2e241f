"""Versioned classes in mapped inheritance: joined and single table.

A subclass of a versioned class is versioned too, and its version class
inherits the base's version class the same way::

    class Employee(Revisioned, Base):
        __tablename__ = "employee"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]
        kind: Mapped[str]
        __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "employee"}

    class Manager(Employee):                      # joined: a table of its own
        __tablename__ = "manager"
        id: Mapped[int] = mapped_column(ForeignKey("employee.id"), primary_key=True)
        budget: Mapped[int]
        __mapper_args__ = {"polymorphic_identity": "manager"}

    class Engineer(Employee):                     # single table: employee's
        language: Mapped[str | None]
        __mapper_args__ = {"polymorphic_identity": "engineer"}

* joined inheritance: each table has its version table (``manager_revision``
  keyed by ``manager``'s key and ``revision_id``); a change to a manager
  writes one version row in every table of its class, for the same
  revision, so ``ManagerRevision`` is ``employee_revision`` joined to
  ``manager_revision`` on key and revision;
* single-table inheritance: the one table has one version table, which
  gains the subclasses' columns.

Reading ``Employee`` versions (``get_as_of``, the whole-model view, change
inspection) returns each object's own version class, ``ManagerRevision``
with the manager's fields.  Concrete inheritance, and a discriminator that
is not a column of the base table, are refused when the class is declared.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table, and_, literal
from sqlalchemy.orm import ColumnProperty, Mapper, class_mapper

from vdm.errors import ConfigurationError
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE, version_class_name
from vdm.records import refuse_reserved_columns
from vdm.sqlalchemy.columns import mapped_table
from vdm.sqlalchemy.registry import Versioning, versioned_mappers, versioning_of
from vdm.sqlalchemy.schema import build_version_table
from vdm.states import State

#: The bookkeeping columns every version table of a hierarchy shares.
_SHARED = (REVISION_ID, EXPIRED_ID, OPERATION_TYPE, STATE)


def polymorphic_arguments(versioning: Versioning) -> dict[str, Any]:
    """Mapper arguments making a base's version class polymorphic like it."""
    mapper = versioning.mapper
    on = mapper.polymorphic_on
    if on is None:
        return {}
    if not isinstance(on, Column) or on.table is not versioning.table:
        raise ConfigurationError(
            f"{versioning.name} is polymorphic on {on}, which is not a column "
            f"of its table {versioning.table.name!r}; vdm versions inheritance "
            f"discriminated by a column (polymorphic_on='column')",
            cls=versioning.cls,
        )
    return {
        "polymorphic_on": versioning.version_table.c[on.key],
        "polymorphic_identity": mapper.polymorphic_identity,
        "with_polymorphic": "*",
    }


def make_subclass_versioned(mapper: Mapper[Any], cls: type[Any]) -> Versioning:
    """Version ``cls``, a mapped subclass of a versioned class."""
    assert mapper.inherits is not None
    parent = versioning_of(mapper.inherits.class_)
    if parent is None:
        raise ConfigurationError(
            f"{cls.__name__} is versioned but inherits from the mapped class "
            f"{mapper.inherits.class_.__name__}, which is not; make the base "
            f"class Revisioned",
            cls=cls,
        )
    if mapper.concrete:
        raise ConfigurationError(
            f"{cls.__name__} uses concrete table inheritance from "
            f"{parent.name}; vdm versions joined and single-table inheritance "
            f"only: declare it as its own Revisioned class",
            cls=cls,
        )
    table = mapped_table(mapper, cls)
    joined = table is not parent.table
    if joined:
        refuse_reserved_columns(
            table.c.keys(), f"{cls.__name__} (table {table.name!r})", cls,
            reserved=(EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE),
            why=f"; in joined inheritance only the base table "
                f"{parent.root.table.name!r} holds it, rename it")
        version_table = build_version_table(table)
    else:
        version_table = parent.version_table
        _add_new_columns(table, version_table)
    versioning = Versioning(cls=cls, mapper=mapper, table=table,
                            version_table=version_table, parent=parent)
    if joined:
        versioning.copy_source = lambda: _joined_source(versioning)
    version_cls = type(
        version_class_name(cls.__name__),
        (parent.version_class,),
        {"__module__": cls.__module__, "__versioning__": versioning,
         "__doc__": f"A version of {cls.__name__} (read-only)."},
    )
    parent_mapper: Mapper[Any] = class_mapper(parent.version_class)
    arguments: dict[str, Any] = {
        "inherits": parent.version_class,
        "polymorphic_identity": mapper.polymorphic_identity,
        "properties": _properties(versioning, parent_mapper, joined),
    }
    if joined:
        pvt = parent.version_table
        arguments["inherit_condition"] = and_(
            *(version_table.c[mine.key] == pvt.c[theirs.key] for mine, theirs in zip(
                table.primary_key.columns, parent.table.primary_key.columns, strict=True)),
            version_table.c[REVISION_ID] == pvt.c[REVISION_ID],
        )
    mapper.registry.map_imperatively(version_cls, version_table if joined else None,
                                     **arguments)
    versioning.version_class = version_cls
    cls.__versioning__ = versioning
    cls.__revision_class__ = version_cls
    versioned_mappers[mapper] = versioning
    return versioning


def _add_new_columns(table: Table, version_table: Table) -> None:
    """Single-table inheritance: a subclass's columns join the base table,
    so they join its version table too."""
    for col in table.c:
        if col.key not in version_table.c:
            version_table.append_column(
                Column(col.name, col.type, key=col.key, nullable=True, autoincrement=False))


def _properties(versioning: Versioning, parent_mapper: Mapper[Any],
                joined: bool) -> dict[str, Any]:
    """The subclass's own columns, and (joined) the shared bookkeeping."""
    vt = versioning.version_table
    inherited = {p.key: p for p in parent_mapper.iterate_properties}
    props: dict[str, Any] = {}
    for prop in versioning.mapper.iterate_properties:
        if not isinstance(prop, ColumnProperty) or prop.key in inherited and not joined:
            continue
        own = [c for c in prop.columns if getattr(c, "table", None) is versioning.table]
        if not own or (not joined and prop.key in inherited):
            continue
        columns = [vt.c[c.key] for c in own if c.key in vt.c]
        if prop.key in inherited:
            columns = [*inherited[prop.key].columns, *columns]
        props[prop.key] = columns
    if joined:
        for name in _SHARED:
            shared = next(p for p in inherited.values() if isinstance(p, ColumnProperty)
                          and any(getattr(c, "key", None) == name for c in p.columns))
            props[shared.key] = [*shared.columns, vt.c[name]]
    return props


def _joined_source(versioning: Versioning) -> tuple[Any, list[tuple[str, Any]]]:
    """Copy a joined subclass's table with its base table's revision and state."""
    root = versioning.root
    columns: list[tuple[str, Any]] = [(c.key, c) for c in versioning.table.c]
    columns.append((REVISION_ID, root.table.c[REVISION_ID]))
    if root.stateful:
        columns.append((STATE, root.table.c[STATE]))
    else:
        columns.append((STATE, literal(State.ACTIVE, versioning.version_table.c[STATE].type)))
    return versioning.mapper.persist_selectable, columns
