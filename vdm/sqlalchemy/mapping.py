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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    and_,
    event,
    tuple_,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError, UnboundExecutionError
from sqlalchemy.orm import (
    Mapped,
    Mapper,
    configure_mappers,
    declared_attr,
    foreign,
    mapped_column,
    relationship,
)
from sqlalchemy.orm import attributes as orm_attributes

from vdm.errors import ConfigurationError
from vdm.naming import (
    BOOKKEEPING_COLUMNS,
    REVISION_ID,
    STATE,
    live_foreign_key_name,
    version_class_name,
)
from vdm.sqlalchemy.revision import Revision, attach_revision_tables, revision_table
from vdm.sqlalchemy.schema import (
    build_version_table,
    check_versionable,
    guard_revision_foreign_keys,
    resolve_version_types,
)
from vdm.sqlalchemy.types import StateType
from vdm.states import State

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session

    from vdm.sqlalchemy.versions import Version

Key = tuple[Any, ...]


@dataclass(eq=False)
class Versioning:
    """What vdm knows about one versioned class (``Class.__versioning__``)."""

    cls: type
    mapper: Mapper[Any]
    table: Table
    version_table: Table
    version_class: type[Version] = field(init=False)
    #: Live primary key column keys, in key order (the version table's
    #: columns have the same keys as the live table's).
    key_names: list[str] = field(init=False)
    #: Attribute key -> column key, for the class's own columns (``state``
    #: among them only when the class is Stateful).
    fields: dict[str, str] = field(init=False)
    #: Attribute keys of ``revision_id`` and ``state`` (``column_prefix`` or
    #: an explicit attribute name may differ from the column).
    revision_id_key: str = field(init=False)
    state_key: str = field(init=False)
    stateful: bool = field(init=False)
    #: Versioned link collections of this class, by attribute name
    #: (filled by :mod:`vdm.sqlalchemy.links`).
    links: dict[str, Any] = field(default_factory=dict)
    #: In mapped inheritance, the versioned class this one inherits from.
    parent: Versioning | None = None
    #: Every live table of the class, its base classes' first.
    tables: list[Table] = field(init=False)
    #: For a subclass in joined inheritance: where its table's versions are
    #: copied from (see :func:`vdm.sqlalchemy.writer.live_source`).
    copy_source: Any = None

    def __post_init__(self) -> None:
        self.key_names = [c.key for c in self.table.primary_key.columns]
        self.tables = [t for t in self.mapper.tables if isinstance(t, Table)]
        self.fields = {}
        self.revision_id_key = REVISION_ID
        self.state_key = STATE
        # mapper.columns is ready before configuration (column_attrs is not).
        for key, col in self.mapper.columns.items():
            if getattr(col, "table", None) not in self.tables:
                continue
            if col.key == REVISION_ID:
                self.revision_id_key = key
            elif col.key not in BOOKKEEPING_COLUMNS:
                self.fields[key] = col.key
                if col.key == STATE:
                    self.state_key = key
        self.stateful = STATE in self.root.table.c

    @property
    def root(self) -> Versioning:
        """The base of the class's inheritance hierarchy (itself if none)."""
        return self if self.parent is None else self.parent.root

    @property
    def all_links(self) -> dict[str, Any]:
        """Versioned link collections of this class and its base classes."""
        if self.parent is None:
            return self.links
        return {**self.parent.all_links, **self.links}

    @property
    def owns_table(self) -> bool:
        """False for a subclass in single-table inheritance: its base's
        versioning writes the table's versions."""
        return self.parent is None or self.table is not self.parent.table

    @property
    def joined_hierarchy(self) -> bool:
        """True when the class's hierarchy spans several tables (joined)."""
        root = self.root
        return any(v.root is root and v.parent is not None and v.owns_table
                   for v in versioned_mappers.values())

    @property
    def writers(self) -> list[Versioning]:
        """The versionings writing this class's tables, base table first."""
        chain = [] if self.parent is None else self.parent.writers
        return [*chain, self] if self.owns_table else chain

    def version_column(self, column: Any) -> Any:
        """The version-table column copying live ``column`` of the hierarchy."""
        for writer in self.writers:
            if column.table is writer.table:
                return writer.version_table.c[column.key]
        raise KeyError(f"{column} is not a column of {self.name}'s tables")

    @property
    def column_keys(self) -> list[str]:
        """Attribute keys of every column of the live table but ``revision_id``."""
        keys: list[str] | None = self.__dict__.get("_column_keys")
        if keys is None:
            keys = self.__dict__["_column_keys"] = [
                key for key, col in self.mapper.columns.items()
                if getattr(col, "table", None) in self.tables and col.key != REVISION_ID
            ]
        return keys

    @property
    def computed_fields(self) -> set[str]:
        """Attribute keys of columns the database computes (``Computed``).

        History holds their values; writes that bring history back leave
        them to the database.
        """
        return {key for key, col in self.fields.items()
                if col in self.table.c and self.table.c[col].computed is not None}

    @property
    def many_to_one_keys(self) -> list[str]:
        """Keys of the class's many-to-one relationships (after configuration)."""
        keys: list[str] | None = self.__dict__.get("_many_to_one_keys")
        if keys is None:
            keys = self.__dict__["_many_to_one_keys"] = [
                prop.key for prop in self.mapper.relationships
                if prop.direction.name == "MANYTOONE" and not prop.viewonly
            ]
        return keys

    @property
    def name(self) -> str:
        """The class name, as messages use it."""
        return self.cls.__name__

    def key_of(self, obj: Any) -> Key:
        """The primary key of live object ``obj`` as a tuple."""
        return tuple(self.mapper.primary_key_from_instance(obj))

    def live_key_clause(self, keys: list[Key]) -> ColumnElement[bool]:
        """``key IN keys`` on the live table."""
        return key_in([self.table.c[n] for n in self.key_names], keys)

    def version_key_clause(self, keys: list[Key]) -> ColumnElement[bool]:
        """``key IN keys`` on the version table."""
        return key_in([self.version_table.c[n] for n in self.key_names], keys)

    def describe(self, key: Key) -> str:
        """``Book(id=1)``: how messages name one object."""
        pairs = ", ".join(f"{n}={v!r}" for n, v in zip(self.key_names, key, strict=True))
        return f"{self.name}({pairs})"


def key_in(columns: list[Any], keys: list[Key]) -> ColumnElement[bool]:
    """``columns IN keys``, for one-column and composite keys alike."""
    if len(columns) == 1:
        single: ColumnElement[bool] = columns[0].in_([k[0] for k in keys])
        return single
    return tuple_(*columns).in_(keys)


def key_equals(columns: list[Any], key: Key) -> ColumnElement[bool]:
    """``columns = key``."""
    return and_(*(c == v for c, v in zip(columns, key, strict=True)))


def versioning_of(obj_or_cls: Any) -> Versioning | None:
    """The :class:`Versioning` of a versioned object or class, else None."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    found: Versioning | None = cls.__dict__.get("__versioning__")
    return found


#: Every versioned class mapped in this process, by mapper.
versioned_mappers: dict[Mapper[Any], Versioning] = {}


def hierarchy_bases(versionings: list[Versioning]) -> list[Versioning]:
    """``versionings`` without the subclasses of others among them.

    Reading a base class's versions returns its subclasses' too (each as
    its own version class), so whole-model work reads each hierarchy once.
    """
    chosen = set(versionings)

    def has_base_among(v: Versioning) -> bool:
        parent = v.parent
        while parent is not None:
            if parent in chosen:
                return True
            parent = parent.parent
        return False

    return [v for v in versionings if not has_base_among(v)]


#: ``Column.info`` key of a ``revision_id`` whose foreign key waits for its table.
_DEFERRED_FK = "vdm.revision_foreign_key"


def _revision_column(cls: Any) -> Any:
    """``revision_id``, with its foreign key to the metadata's own revision table.

    A column object rather than the string ``"revision.id"``, which a
    ``MetaData(schema=...)`` would look up in its own schema; named, since
    MariaDB's own names overflow for long table names.  A class without a
    ``metadata`` attribute (``registry.mapped``) gets the foreign key when
    its table is known (:func:`make_versioned`).
    """
    table_name = cls.__dict__.get("__tablename__") or getattr(cls, "__tablename__", None)
    name = live_foreign_key_name(table_name) if isinstance(table_name, str) else None
    metadata = getattr(cls, "metadata", None)
    if isinstance(metadata, MetaData):
        fk = ForeignKey(attach_revision_tables(metadata).c.id, name=name)
        return mapped_column(REVISION_ID, Integer, fk, index=True, nullable=True)
    return mapped_column(REVISION_ID, Integer, index=True, nullable=True,
                         info={_DEFERRED_FK: True})


def _add_revision_foreign_key(table: Table) -> None:
    column = table.c[REVISION_ID]
    if column.info.pop(_DEFERRED_FK, False) and not column.foreign_keys:
        table.append_constraint(ForeignKeyConstraint(
            [column], [attach_revision_tables(table.metadata).c.id],
            name=live_foreign_key_name(table.name)))


def versionings_in(session: Session, classes: Iterable[Versioning] | None = None,
                   ) -> list[Versioning]:
    """``classes``, or else the versioned classes of the session's database.

    Several declarative bases may coexist in one process, each with its own
    database.  A whole-model operation without a class list covers the
    classes whose live table (with the same columns) and version table
    exist where the session reads them: those of every MetaData found whole
    there, or when none is, each class found (one catalogue query per bind
    and schema).
    """
    if classes is not None:
        return list(classes)
    catalogues: dict[tuple[int, str | None], dict[str, set[str]]] = {}

    def exists(v: Versioning) -> bool:
        try:
            connection = session.connection(bind_arguments={"mapper": v.mapper})
        except UnboundExecutionError:
            return False  # a class of a base the session has no bind for
        schema = v.table.schema
        tables = catalogues.get((id(connection), schema))
        if tables is None:
            try:
                listed = sa_inspect(connection).get_multi_columns(schema=schema)
            except DBAPIError:
                listed = {}  # a schema (an attached SQLite database) that is not there
            tables = catalogues[(id(connection), schema)] = {
                name.lower(): {c["name"].lower() for c in columns}
                for (_, name), columns in listed.items()}
        live = {c.name.lower() for c in v.table.columns}
        return (tables.get(v.table.name.lower()) == live
                and v.version_table.name.lower() in tables)

    found = {v: exists(v) for v in list(versioned_mappers.values())}
    complete = {v.table.metadata for v in found} - {v.table.metadata for v, ok in found.items()
                                                     if not ok}
    if complete:
        return _one_class_per_table([v for v in found if v.table.metadata in complete])
    return _one_class_per_table([v for v, ok in found.items() if ok])


def _one_class_per_table(versionings: list[Versioning]) -> list[Versioning]:
    """One class per table: several bases may map tables of the same name.

    The classes of the MetaData that covers most tables come first, so a
    model's own classes win over a smaller one that names some of the same
    tables.
    """
    size: dict[Any, int] = {}
    for v in versionings:
        size[v.table.metadata] = size.get(v.table.metadata, 0) + 1
    # By MetaData, not by class: subclasses in single-table inheritance
    # share their base's table and stay.
    chosen: dict[tuple[str | None, str], Any] = {}
    for v in sorted(versionings, key=lambda v: -size[v.table.metadata]):
        chosen.setdefault((v.table.schema, v.table.name.lower()), v.table.metadata)
    return [v for v in versionings
            if chosen[(v.table.schema, v.table.name.lower())] is v.table.metadata]


class Revisioned:
    """Mixin for a declarative class whose changes are versioned.

    Adds ``revision_id`` (the revision that last changed the row) and the
    read-only ``revision`` relationship, and the history readers
    :meth:`get_as_of`, :attr:`versions`, :attr:`all_revisions`,
    :attr:`all_related_revisions` and :meth:`diff`.
    """

    __versioning__: ClassVar[Versioning]
    __revision_class__: ClassVar[type[Version]]

    if TYPE_CHECKING:
        revision_id: Mapped[int | None]
        revision: Mapped[Revision | None]
    else:
        # The declared attributes carry no annotation, so that they are not
        # dataclass fields of MappedAsDataclass classes (vdm sets them; they
        # are not constructor arguments).  Type checkers see the ones above.

        @declared_attr
        def revision_id(cls):
            """The id of the revision that last changed this object."""
            table = cls.__dict__.get("__table__")
            if table is not None and REVISION_ID in table.c:
                # A class mapped to an explicit Table brings its own column.
                return table.c[REVISION_ID]
            return _revision_column(cls)

        @declared_attr
        def revision(cls):
            """The revision that last changed this object (read-only)."""
            return relationship(
                Revision,
                primaryjoin=lambda: (
                    foreign(cls.__table__.c[REVISION_ID]) == revision_table.c.id
                ),
                viewonly=True,
                lazy="select",
            )

    def get_as_of(self, revision: Any) -> Version | None:
        """This object as of ``revision`` (a Revision, its id or a datetime).

        Returns its version then, or None if it did not exist.  Reading
        history never changes what the session writes next.
        """
        from vdm.sqlalchemy.versions import get_as_of

        return get_as_of(self, revision)

    @property
    def versions(self) -> list[Version]:
        """Every version of this object, oldest first (read from the database)."""
        from vdm.sqlalchemy.versions import versions_of

        return versions_of(self)

    @property
    def all_revisions(self) -> list[Version]:
        """Every version of this object, newest first (vdm's order)."""
        from vdm.sqlalchemy.versions import versions_of

        return versions_of(self, newest_first=True)

    @property
    def all_related_revisions(self) -> list[Revision]:
        """Revisions that changed this object or its versioned links, newest first."""
        from vdm.sqlalchemy.links import related_revisions

        return related_revisions(self)

    def diff(self, to_revision: Any = None, from_revision: Any = None) -> dict[str, str]:
        """``{field: diff text}`` between two revisions of this object.

        ``to_revision`` defaults to the latest version and ``from_revision``
        to the one before it; the text is in ``difflib.Differ`` format.
        """
        from vdm.sqlalchemy.versions import diff_of

        return diff_of(self, to_revision, from_revision)


class Stateful:
    """Mixin for objects with a versioned ``state``: soft delete and undelete."""

    if TYPE_CHECKING:
        state: Mapped[State]
    else:

        @declared_attr
        def state(cls):
            """``active``, ``deleted`` or ``pending``."""
            table = cls.__dict__.get("__table__")
            if table is not None and STATE in table.c:
                return table.c[STATE]
            # No server default: SQLAlchemy would then fetch it back with
            # RETURNING one row at a time on SQLite instead of batching inserts.
            return mapped_column(
                STATE, StateType, nullable=False, default=State.ACTIVE,
            )

    def delete(self) -> None:
        """Mark this object deleted (undoable; versioned like any change)."""
        setattr(self, _state_key(self), State.DELETED)

    def undelete(self) -> None:
        """Mark this object active again."""
        setattr(self, _state_key(self), State.ACTIVE)

    def is_active(self) -> bool:
        """True when the state is ``active``."""
        return bool(getattr(self, _state_key(self)) == State.ACTIVE)


def _state_key(obj: Any) -> str:
    versioning = versioning_of(obj)
    return versioning.state_key if versioning is not None else STATE


def make_versioned(mapper: Mapper[Any], cls: type[Any]) -> Versioning:
    """Build the version table and class of mapped class ``cls``."""
    from vdm.sqlalchemy.versions import Version, version_properties

    existing = versioning_of(cls)
    if existing is not None:
        return existing
    if mapper.inherits is not None:
        from vdm.sqlalchemy.inheritance import make_subclass_versioned

        return make_subclass_versioned(mapper, cls)
    table = mapper.local_table
    if not isinstance(table, Table):
        raise ConfigurationError(
            f"{cls.__name__} is mapped to a {type(table).__name__}, not a "
            f"table; only classes mapped to one table can be versioned",
            cls=cls,
        )
    check_versionable(table, cls.__name__)
    attach_revision_tables(table.metadata)
    _add_revision_foreign_key(table)
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
    from vdm.sqlalchemy.inheritance import polymorphic_arguments

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
        check_versionable(table, cls.__name__, stateful=issubclass(cls, Stateful))


@event.listens_for(Revisioned, "after_mapper_constructed", propagate=True)
def _on_mapped(mapper: Mapper[Any], cls: type) -> None:
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
