"""Declaring versioned classes: the ``Revisioned`` and ``Stateful`` mixins.

When a class using :class:`Revisioned` is mapped, vdm builds its version
table (``<table>_revision``) in the same metadata, its version class
(``<Class>Revision``, also ``Class.__revision_class__``) in the same
registry, and copies the ``revision`` table into the metadata so that
``Base.metadata.create_all()`` creates everything::

    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
    from vdm.sqlalchemy import Revisioned, Stateful

    class Base(DeclarativeBase):
        pass

    class Book(Revisioned, Stateful, Base):
        __tablename__ = "book"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str | None]

Problems (no primary key, concrete inheritance, a clashing column name) raise
:class:`vdm.ConfigurationError` right there, when the class is declared.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Integer, SmallInteger, Table, event
from sqlalchemy.orm import Mapper, configure_mappers, foreign, relationship
from sqlalchemy.orm import attributes as orm_attributes

from vdm.history import HistoryMethods, HistoryReaders
from vdm.naming import REVISION_ID, version_class_name
from vdm.sqlalchemy.columns import (
    RevisionedColumns,
    Stateful,
    _state_key,
    add_revision_foreign_key,
    mapped_table,
)
from vdm.sqlalchemy.inheritance import make_subclass_versioned, polymorphic_arguments
from vdm.sqlalchemy.links import related_revisions
from vdm.sqlalchemy.registry import (
    Key,
    Versioning,
    forgotten_if_refused,
    hierarchy_bases,
    key_equals,
    key_in,
    versioned_mappers,
    versioning_of,
    versionings_in,
)
from vdm.sqlalchemy.revision import Revision, attach_revision_tables, revision_table
from vdm.sqlalchemy.schema import (
    build_version_table,
    check_versionable,
    guard_revision_foreign_keys,
    resolve_version_types,
)
from vdm.sqlalchemy.versions import Version, diff_of, get_as_of, version_properties, versions_of
from vdm.states import State

__all__ = [
    "Key", "Revisioned", "Stateful", "Versioning", "hierarchy_bases", "key_equals",
    "key_in", "make_versioned", "never_reuse_keys", "versioned_mappers", "versioning_of",
    "versionings_in", "watch_new_state", "watch_old_values",
]


class Revisioned(RevisionedColumns, HistoryMethods[Version, Revision]):
    """Mixin for a declarative class whose changes are versioned.

    Adds ``revision_id`` (the revision that last changed the row) and the
    read-only ``revision`` relationship, and the history readers
    :meth:`get_as_of`, :attr:`versions`, :attr:`all_revisions`,
    :attr:`all_related_revisions` and :meth:`diff`.
    """

    _vdm_history = HistoryReaders(get_as_of=get_as_of, versions_of=versions_of,
                                  related_revisions=related_revisions, diff_of=diff_of)


def make_versioned(mapper: Mapper[Any], cls: type[Any]) -> Versioning:
    """Build the version table and class of mapped class ``cls``."""
    existing = versioning_of(cls)
    if existing is not None:
        return existing
    if mapper.inherits is not None:
        return make_subclass_versioned(mapper, cls)
    table = mapped_table(mapper, cls)
    check_versionable(table, cls.__name__)
    attach_revision_tables(table.metadata)
    add_revision_foreign_key(table)
    guard_revision_foreign_keys(table)
    never_reuse_keys(table)
    versioning = Versioning(
        cls=cls, mapper=mapper, table=table,
        version_table=build_version_table(table),
    )
    version_cls = type(
        version_class_name(cls.__name__),
        (Version,),
        {"__module__": cls.__module__, "__versioning__": versioning,
         "__doc__": f"A version of {cls.__name__} (read-only)."},
    )
    mapper.registry.map_imperatively(
        version_cls, versioning.version_table,
        properties=version_properties(versioning, version_cls),
        **polymorphic_arguments(versioning),
    )
    versioning.version_class = version_cls
    cls.__versioning__ = versioning
    cls.__revision_class__ = version_cls
    versioned_mappers[mapper] = versioning
    return versioning


def never_reuse_keys(table: Table) -> None:
    """Make SQLite never hand a destroyed row's generated key to a new row.

    One key is one object's history: without ``AUTOINCREMENT`` SQLite
    reuses the largest key after its row is deleted, and the new object
    would inherit the old one's versions.  (PostgreSQL sequences and
    MariaDB/MySQL auto-increment counters never go back.)
    """
    key = list(table.primary_key.columns)
    if (len(key) == 1 and key[0].autoincrement in ("auto", True)
            and isinstance(key[0].type, Integer)
            # SQLite allows AUTOINCREMENT on INTEGER keys only.
            and not isinstance(key[0].type, BigInteger | SmallInteger)
            and not key[0].foreign_keys):
        table.dialect_kwargs["sqlite_autoincrement"] = True


@event.listens_for(Revisioned, "instrument_class", propagate=True)
def _on_instrument(mapper: Mapper[Any], cls: type) -> None:
    # Runs before SQLAlchemy looks for a primary key, so a keyless versioned
    # class gets vdm's error rather than a generic mapping error.
    table = mapper.local_table
    if isinstance(table, Table) and mapper.inherits is None:
        with forgotten_if_refused(mapper):
            check_versionable(table, cls.__name__, stateful=issubclass(cls, Stateful))


@event.listens_for(Revisioned, "after_mapper_constructed", propagate=True)
def _on_mapped(mapper: Mapper[Any], cls: type) -> None:
    with forgotten_if_refused(mapper):
        versioning = make_versioned(mapper, cls)
    if not mapper.has_property("revision"):
        # Imperative mappings do not apply the mixin's declared_attr.
        table = versioning.table
        mapper.add_property("revision", relationship(
            Revision,
            primaryjoin=foreign(table.c[REVISION_ID]) == revision_table.c.id,
            viewonly=True,
        ))


def _keep_old_value(target: Any, value: Any, oldvalue: Any, initiator: Any) -> None:
    """Nothing to do: listening with active_history is the point."""


def watch_old_values(versioning: Versioning) -> None:
    """Load a field's old value before it is replaced, even when expired.

    Then assigning an unchanged value after a commit is seen as no change,
    and writes neither an UPDATE nor a version.
    """
    for key in versioning.fields:
        attr = getattr(versioning.cls, key, None)
        if attr is not None and not event.contains(attr, "set", _keep_old_value):
            event.listen(attr, "set", _keep_old_value, active_history=True)


@event.listens_for(Stateful, "init", propagate=True)
def _active_from_construction(target: Any, args: Any, kwargs: Any) -> None:
    # A new object is active from construction, not from its flush (as in
    # vdm 0.15): is_active() and the owner's link views count it at once.
    # A state given to the constructor is set after this.  This listener
    # may run before SQLAlchemy's own, which configures the mappers.
    if not orm_attributes.instance_state(target).mapper.configured:
        configure_mappers()
    setattr(target, _state_key(target), State.ACTIVE)


def _new_without_state_is_active(target: Any, value: Any, oldvalue: Any, initiator: Any) -> Any:
    """vdm 0.15 code sets ``state=None`` on new objects meaning active: store that."""
    if value is None and orm_attributes.instance_state(target).key is None:
        return State.ACTIVE
    return value


def watch_new_state(versioning: Versioning) -> None:
    """A new object given ``state=None`` is active (``state`` is not null)."""
    attr = getattr(versioning.cls, versioning.state_key, None)
    if (versioning.stateful and attr is not None
            and not event.contains(attr, "set", _new_without_state_is_active)):
        event.listen(attr, "set", _new_without_state_is_active, retval=True)


@event.listens_for(Revisioned, "mapper_configured", propagate=True)
def _on_configured(mapper: Mapper[Any], cls: type) -> None:
    versioning = versioned_mappers.get(mapper)
    if versioning is not None:
        watch_old_values(versioning)
        # Foreign keys to classes declared since are resolvable by now.
        resolve_version_types(versioning.table.metadata, force=True)
        watch_new_state(versioning)
