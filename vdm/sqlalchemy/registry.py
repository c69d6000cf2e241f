"""The per-class versioning record and the registry of versioned classes.

The bottom of vdm.sqlalchemy's layers: :class:`Versioning` is what vdm
knows about one versioned class (its tables, key, fields and links), and
:data:`versioned_mappers` holds one per versioned class mapped in the
process.  Everything else (the mixins, the flush hooks, the readers) builds
on it; this module imports no other module of vdm.sqlalchemy.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, and_, tuple_
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError, UnboundExecutionError
from sqlalchemy.orm import Mapper

from vdm.errors import ConfigurationError
from vdm.naming import BOOKKEEPING_COLUMNS, REVISION_ID, STATE
from vdm.records import ClassRecord
from vdm.tables import versioning_record

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from sqlalchemy.orm import Session

    from vdm.sqlalchemy.versions import Version

Key = tuple[Any, ...]


@dataclass(eq=False)
class Versioning(ClassRecord):
    """What vdm knows about one versioned class (``Class.__versioning__``).

    What a record means is :class:`vdm.records.ClassRecord`'s; this one
    holds what SQLAlchemy's mapping gives: the mapper and the tables.
    :attr:`key_names` are the key columns' keys, :attr:`fields` cover the
    tables of the class's whole inheritance chain.
    """

    mapper: Mapper[Any]
    table: Table
    version_table: Table
    version_class: type[Version] = field(init=False)
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

    def __post_init__(self) -> None:
        # Column keys, in key order: the version table's columns have the
        # same keys as the live table's.
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
        own = {key: col for key, col in self.mapper.columns.items()
               if getattr(col, "table", None) is self.table and col.key != REVISION_ID}
        self.record_tables(self.table.name, self.version_table.name,
                           [c.name for c in self.table.primary_key.columns],
                           {key: col.name for key, col in own.items()}, STATE in self.table.c,
                           self.table.schema)

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
    def joined_subclass(self) -> bool:
        """True for a subclass in joined inheritance: its own table's versions
        take the revision and state of its base table's row."""
        return self.parent is not None and self.table is not self.parent.table

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

    def key_of(self, obj: Any) -> Key:
        """The primary key of live object ``obj`` as a tuple."""
        return tuple(self.mapper.primary_key_from_instance(obj))

    def live_key_clause(self, keys: list[Key]) -> ColumnElement[bool]:
        """``key IN keys`` on the live table."""
        return key_in([self.table.c[n] for n in self.key_names], keys)

    def version_key_clause(self, keys: list[Key]) -> ColumnElement[bool]:
        """``key IN keys`` on the version table."""
        return key_in([self.version_table.c[n] for n in self.key_names], keys)


def key_in(columns: list[Any], keys: list[Key]) -> ColumnElement[bool]:
    """``columns IN keys``, for one-column and composite keys alike."""
    if len(columns) == 1:
        single: ColumnElement[bool] = columns[0].in_([k[0] for k in keys])
        return single
    return tuple_(*columns).in_(keys)


def key_equals(columns: list[Any], key: Key) -> ColumnElement[bool]:
    """``columns = key``."""
    return and_(*(c == v for c, v in zip(columns, key, strict=True)))


#: The :class:`Versioning` of a versioned object or class, else None.
versioning_of: Callable[[Any], Versioning | None] = versioning_record


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


#: Further clean-ups of a refused declaration (each given its mapper),
#: registered by the modules that keep their own per-class state.
forget_hooks: list[Callable[[Mapper[Any]], None]] = []


def forget_declaration(mapper: Mapper[Any]) -> None:
    """Undo what declaring ``mapper``'s class registered, after vdm refused it.

    A refused declaration raises out of the ``class`` statement, but by then
    SQLAlchemy has registered the class (and vdm perhaps its version class
    and version table); left there, the broken mapper fails the next
    configuration of every class and whole-model operations would cover it.
    The live table stays in its MetaData, as for any failed declaration.
    """
    for hook in forget_hooks:
        hook(mapper)
    versioning = versioned_mappers.pop(mapper, None)
    if versioning is not None:
        version_table = versioning.version_table
        if getattr(versioning, "version_class", None) is not None:
            _dispose_mapper(sa_inspect(versioning.version_class, raiseerr=False))
        if (versioning.parent is None and version_table is not versioning.table
                and version_table.metadata.tables.get(version_table.key) is version_table):
            version_table.metadata.remove(version_table)
        cls: Any = versioning.cls
        if cls.__dict__.get("__versioning__") is versioning:
            del cls.__versioning__
    _dispose_mapper(mapper)


@contextmanager
def forgotten_if_refused(mapper: Mapper[Any]) -> Iterator[None]:
    """Forget ``mapper``'s declaration when the block refuses it."""
    try:
        yield
    except ConfigurationError:
        forget_declaration(mapper)
        raise


def _dispose_mapper(mapper: Mapper[Any] | None) -> None:
    """Take one mapper (and its class) out of its SQLAlchemy registry."""
    # A mapper SQLAlchemy itself refused half-way (no primary key, say) was
    # never given a class manager: nothing of it is registered.
    manager = getattr(mapper, "class_manager", None)
    if mapper is None or manager is None:
        return
    registry = manager.registry
    # SQLAlchemy disposes whole registries only (registry.dispose()); these
    # are the steps it takes for each of their classes.
    registry._managers.pop(manager, None)
    registry._dispose_manager_and_mapper(manager)
    parent: Any = mapper.inherits
    if parent is not None:
        parent._inheriting_mappers = type(parent._inheriting_mappers)(
            [m for m in parent._inheriting_mappers if m is not mapper])
        for identity, found in list(parent.polymorphic_map.items()):
            if found is mapper:
                del parent.polymorphic_map[identity]
