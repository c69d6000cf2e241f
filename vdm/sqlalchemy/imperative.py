"""vdm 0.15's helpers for imperative (classical) mappings.

Code written for the original vdm ports with small changes: build tables,
make them stateful and revisioned, then map with
``registry.map_imperatively`` instead of ``mapper``.  The classes inherit
the :class:`~vdm.sqlalchemy.Revisioned` (and :class:`~vdm.sqlalchemy.Stateful`)
mixins, so history works exactly as for declarative classes::

    metadata = MetaData()
    package_table = Table("package", metadata, Column("id", Integer, primary_key=True),
                          Column("name", String(100)))
    make_table_stateful(package_table)
    package_revision_table = make_revisioned_table(package_table)

    class Package(Revisioned, Stateful):
        pass

    registry(metadata=metadata).map_imperatively(Package, package_table)
    PackageRevision = create_object_version(None, Package, package_revision_table)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, Table
from sqlalchemy.orm import class_mapper

from vdm.errors import ConfigurationError
from vdm.naming import (
    REVISION_ID,
    REVISION_TABLE,
    STATE,
    live_foreign_key_name,
    live_revision_index_name,
)
from vdm.sqlalchemy.mapping import Revisioned, Stateful, versioning_of
from vdm.sqlalchemy.revision import Revision, attach_revision_tables
from vdm.sqlalchemy.revision import revision_table as _vdm_revision_table
from vdm.sqlalchemy.schema import build_version_table
from vdm.sqlalchemy.types import StateType
from vdm.states import State


def make_revision_table(metadata: MetaData) -> Table:
    """Add vdm's revision tables to ``metadata``; return the ``revision`` table."""
    attach_revision_tables(metadata)
    return metadata.tables[REVISION_TABLE]


def make_Revision(mapper_fn: Any, revision_table: Table) -> type[Revision]:
    """Return :class:`~vdm.sqlalchemy.Revision`, already mapped by vdm.

    vdm 0.15 mapped its Revision class here; ``mapper_fn`` is accepted for
    compatibility and not used.  ``revision_table`` must be the table
    :func:`make_revision_table` returned.
    """
    expected = set(_vdm_revision_table.c.keys())
    if revision_table.name != REVISION_TABLE or set(revision_table.c.keys()) != expected:
        raise ConfigurationError(
            f"{revision_table.name!r} is not vdm's revision table; pass the "
            f"table make_revision_table(metadata) returned", cls=Revision,
        )
    return Revision


#: vdm 0.15's name of :class:`~vdm.sqlalchemy.Revisioned`.
RevisionedObjectMixin = Revisioned
#: vdm 0.15's name of :class:`~vdm.sqlalchemy.Stateful`.
StatefulObjectMixin = Stateful


def make_table_stateful(table: Table) -> Table:
    """Add the ``state`` column (not null, default ``active``) to ``table``."""
    if STATE not in table.c:
        table.append_column(
            Column(STATE, StateType, nullable=False, default=State.ACTIVE)
        )
    return table


def make_revisioned_table(table: Table) -> Table:
    """Add ``revision_id`` to ``table`` and return its version table."""
    revision = attach_revision_tables(table.metadata)
    if REVISION_ID not in table.c:
        # The column, not "revision.id": a MetaData(schema=...) would look
        # for that string in its own schema.
        column = Column(REVISION_ID, Integer,
                        ForeignKey(revision.c.id, name=live_foreign_key_name(table.name)),
                        nullable=True)
        table.append_column(column)
        Index(live_revision_index_name(table.name), column)
    return build_version_table(table)


def modify_base_object_mapper(base_object: type, revision_obj: Any = Revision,
                              state_obj: Any = None) -> None:
    """Check that ``base_object`` is mapped with its ``revision`` relationship.

    vdm adds the relationship itself when a Revisioned class is mapped; this
    is kept so that vdm 0.15 set-up code runs unchanged.  ``revision_obj``
    must be :class:`Revision`; states are plain values, so ``state_obj`` is
    ignored.
    """
    if revision_obj is not Revision:
        raise ConfigurationError(
            f"{base_object.__name__}: vdm's revision class is "
            f"vdm.sqlalchemy.Revision; pass it (or nothing) instead of "
            f"{revision_obj!r}", cls=base_object,
        )
    if not class_mapper(base_object).has_property("revision"):
        raise ConfigurationError(
            f"{base_object.__name__} is not versioned; inherit from "
            f"vdm.sqlalchemy.Revisioned before mapping it", cls=base_object,
        )


def create_object_version(mapper_fn: Any, base_object: type, rev_table: Table) -> type:
    """Return the version class of ``base_object`` (``<Class>Revision``).

    vdm builds it when the class is mapped; ``mapper_fn`` is accepted for
    vdm 0.15 compatibility and not used.  ``rev_table`` must be the table
    :func:`make_revisioned_table` returned.
    """
    versioning = versioning_of(base_object)
    if versioning is None:
        raise ConfigurationError(
            f"{base_object.__name__} is not versioned; inherit from "
            f"vdm.sqlalchemy.Revisioned and map it first", cls=base_object,
        )
    if versioning.version_table is not rev_table:
        raise ConfigurationError(
            f"{rev_table.name!r} is not the version table of "
            f"{base_object.__name__} ({versioning.version_table.name!r})",
            cls=base_object,
        )
    return versioning.version_class


def add_stateful_versioned_m2m_on_version(revision_class: type, m2m_property_name: str) -> None:
    """Check that versions of the owner expose ``m2m_property_name`` as of their revision.

    Versions resolve every link collection declared with
    :func:`~vdm.sqlalchemy.add_stateful_versioned_m2m` by themselves; this
    only validates the name, for vdm 0.15 compatibility.
    """
    versioning = getattr(revision_class, "__versioning__", None)
    if versioning is None or m2m_property_name not in versioning.links:
        raise ConfigurationError(
            f"{revision_class.__name__} has no versioned link collection "
            f"{m2m_property_name!r}; declare it with add_stateful_versioned_m2m "
            f"on the live class first", cls=revision_class,
        )
