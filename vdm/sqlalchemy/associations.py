"""Versioned plain many-to-many: the association table of ``secondary=``.

Most SQLAlchemy applications write a many-to-many as a relationship through
an association :class:`~sqlalchemy.Table`; when one of its classes is
versioned, vdm versions the association table too::

    article_keyword = Table(
        "article_keyword", Base.metadata,
        Column("article_id", ForeignKey("article.id"), primary_key=True),
        Column("keyword_id", ForeignKey("keyword.id"), primary_key=True),
    )

    class Article(Revisioned, Base):
        ...
        keywords: Mapped[list[Keyword]] = relationship(secondary=article_keyword)

    article.keywords.append(python)            # needs a revision, like any change
    article.get_as_of(r1).keywords             # the keywords linked as of r1

The live association table keeps its own columns (no ``revision_id``, no
``state``: a removed link is deleted, as SQLAlchemy does); its version
table ``article_keyword_revision`` has the schema of every version table,
keyed by the association's primary key (or, without one, its foreign key
columns) and ``revision_id``.  A removed link's version records a delete.

What changed is found after each flush by comparing, for the objects whose
collections changed (or that were deleted), the live rows with their
current versions: a few set-based statements per association table,
whatever the number of links.  Shapes vdm cannot version (a ``secondary``
that is not a plain table, a table without key or foreign keys) are
refused with :class:`vdm.ConfigurationError` when the classes are declared
or configured.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    Table,
    bindparam,
    event,
    literal,
    select,
    tuple_,
)
from sqlalchemy.orm import Mapper, RelationshipProperty, Session, object_session
from sqlalchemy.orm import attributes as orm_attributes
from sqlalchemy.sql import visitors

from vdm.changes import classify_change, undo_conflict
from vdm.errors import ConfigurationError, ConflictError, UnsupportedQueryError
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE
from vdm.operations import Operation
from vdm.records import VERSION_TABLE_NEEDS, refuse_reserved_columns
from vdm.sqlalchemy.asof import current_as_of
from vdm.sqlalchemy.asofreads import relationship_as_of
from vdm.sqlalchemy.columns import RevisionedColumns
from vdm.sqlalchemy.registry import (
    Key,
    forget_hooks,
    forgotten_if_refused,
    key_in,
    versioned_mappers,
    versioning_of,
)
from vdm.sqlalchemy.revision import attach_revision_tables
from vdm.sqlalchemy.schema import build_version_table, resolve_version_types
from vdm.sqlalchemy.writer import (
    cached_on,
    chunks,
    keyed_runner,
    retire_versions,
    statements_for,
)
from vdm.writeplan import plan_association_versions

#: The association columns of one side, in order: a side's "key".
SideColumns = tuple[str, ...]


@dataclass(eq=False)
class AssociationSide:
    """The foreign key of an association table to one of its two tables."""

    #: Full name of the table referred to (``schema.name`` or ``name``).
    referred: str
    #: (column of the referred table, column of the association) pairs.
    pairs: list[tuple[str, str]]

    @property
    def columns(self) -> SideColumns:
        """The association's columns of this side."""
        return tuple(assoc for _, assoc in self.pairs)


@dataclass(eq=False)
class Association:
    """A versioned association table (``secondary=``) and its version table.

    It has what the history maintenance reads from a versioned class
    (``table``, ``version_table``, ``key_names``, ``fields``, ``name``,
    ``describe``), with ``cls`` None: no class is mapped to it.
    """

    table: Table
    version_table: Table
    key_names: list[str]
    sides: list[AssociationSide]
    #: The relationships that write or read it, as ``Class.attribute``.
    used_by: list[str] = field(default_factory=list)
    cls: None = None
    stateful: bool = False
    #: No versioned link collections (what verify() checks of classes).
    links: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The association table's name, as messages use it."""
        return self.table.name

    @property
    def fields(self) -> dict[str, str]:
        """Every column of the association (column name -> column name)."""
        return {c.name: c.name for c in self.table.c}

    @property
    def has_values(self) -> bool:
        """True when rows hold columns besides their key (a creation date...)."""
        return any(c.name not in self.key_names for c in self.table.c)

    def describe(self, key: Key) -> str:
        """``article_keyword(article_id=1, keyword_id=2)``."""
        pairs = ", ".join(f"{n}={v!r}" for n, v in zip(self.key_names, key, strict=True))
        return f"{self.name}({pairs})"

    def live_key_clause(self, keys: list[Key]) -> ColumnElement[bool]:
        """``key IN keys`` on the live table."""
        return key_in([self.table.c[n] for n in self.key_names], keys)

    def version_key_clause(self, keys: list[Key]) -> ColumnElement[bool]:
        """``key IN keys`` on the version table."""
        return key_in([self.version_table.c[n] for n in self.key_names], keys)

    def sides_of(self, table: Table) -> list[AssociationSide]:
        """The sides whose foreign key refers to ``table``."""
        if table.metadata is not self.table.metadata:
            return []  # another model's table of the same name
        return [s for s in self.sides if s.referred == table.fullname]


#: Every versioned association table of the process, by live table.
associations: dict[Table, Association] = {}


def associations_of(metadata: Any) -> list[Association]:
    """The versioned association tables of ``metadata``."""
    return [a for a in associations.values() if a.table.metadata is metadata]


def associations_for(classes: Iterable[Any] | None) -> list[Association]:
    """The association tables of the metadata of ``classes`` (default: all)."""
    if classes is None:
        return list(associations.values())
    tables = [t for v in classes for t in v.tables]
    return [a for a in associations.values() if any(a.sides_of(t) for t in tables)]


def link_changes(connection: Connection, association: Association,
                 revision_id: int) -> list[Any]:
    """What ``revision_id`` did to the association's links, as link
    :class:`~vdm.changes.ObjectChange` objects (two queries)."""
    vt = association.version_table
    written = _rows_with_op(connection, association, vt.c[REVISION_ID] == revision_id)
    if not written:
        return []
    before = _rows_with_op(connection, association, vt.c[EXPIRED_ID] == revision_id)
    fields = [c.name for c in association.table.c]
    found = []
    for key, (values, op) in sorted(written.items(), key=lambda item: repr(item[0])):
        prior = before.get(key)
        old = prior[0] if prior is not None and prior[1] != Operation.DELETE else None
        new = values if op != Operation.DELETE else None
        found.append(classify_change(association.name, association.table.name, key, fields,
                                     old, new, is_link=True, key_names=association.key_names))
    return found


def _where(cls: type, attr: str) -> str:
    return f"{cls.__name__}.{attr}"


def version_association(table: Any, cls: type, attr: str) -> Association:
    """Version the association table ``table`` of relationship ``cls.attr``.

    Raises :class:`ConfigurationError` for a shape that cannot be versioned.
    """
    where = _where(cls, attr)
    if not isinstance(table, Table):
        raise ConfigurationError(
            f"{where} goes through a {type(table).__name__} ({table}), not a "
            f"table; vdm versions many-to-many relationships through one "
            f"association Table (or a link class with add_stateful_versioned_m2m)",
            cls=cls,
        )
    found = associations.get(table)
    if found is not None:
        if where not in found.used_by:
            found.used_by.append(where)
        return found
    refuse_reserved_columns(
        table.c.keys(), f"{where}: the association table {table.name!r}", cls,
        reserved=(REVISION_ID, EXPIRED_ID, OPERATION_TYPE, STATE),
        why=f"{VERSION_TABLE_NEEDS}, or make the association a versioned link class "
            f"(add_stateful_versioned_m2m)")
    sides = [
        AssociationSide(
            referred=fk.elements[0].target_fullname.rsplit(".", 1)[0],
            pairs=[(el.target_fullname.rsplit(".", 1)[1], el.parent.name)
                   for el in fk.elements],
        )
        for fk in table.foreign_key_constraints
    ]
    key_names = [c.name for c in table.primary_key.columns]
    if not key_names:
        key_names = [c.name for c in table.c if c.foreign_keys]
    if not key_names or not sides:
        raise ConfigurationError(
            f"{where}: the association table {table.name!r} has no foreign "
            f"keys to identify its rows; declare its columns with "
            f"ForeignKey(...) (and a primary key over them)",
            cls=cls,
        )
    attach_revision_tables(table.metadata)
    association = Association(
        table=table,
        version_table=build_version_table(table, key_names=key_names),
        key_names=key_names,
        sides=sides,
        used_by=[where],
    )
    associations[table] = association
    return association


# -- declaration -----------------------------------------------------------


def _declared_secondary(mapper: Mapper[Any], prop: RelationshipProperty[Any]) -> Any:
    """``secondary`` of a relationship before the mappers are configured.

    SQLAlchemy resolves it only at configuration, but the version table
    must exist before ``create_all``; a Table, a table name or a callable
    returning one is resolved here, anything else waits for configuration.
    """
    args = getattr(prop, "_init_args", None)
    argument = getattr(getattr(args, "secondary", None), "argument", None)
    if argument is None or isinstance(argument, Table):
        return argument
    metadata = getattr(mapper.local_table, "metadata", None)
    if isinstance(argument, str):
        return metadata.tables.get(argument) if metadata is not None else None
    if callable(argument):
        try:
            return argument()
        except Exception:  # noqa: BLE001 - a forward reference: resolved at configuration
            return None
    return argument


#: Declared relationships through tables not (yet) known to be versioned.
_candidates: dict[Any, list[tuple[type, str]]] = defaultdict(list)


def _versioned_table_names() -> set[str]:
    return {v.table.fullname for v in versioned_mappers.values()}


def _refers_to_versioned(table: Any) -> bool:
    if not isinstance(table, Table):
        return False
    names = _versioned_table_names()
    return any(fk.elements[0].target_fullname.rsplit(".", 1)[0] in names
               for fk in table.foreign_key_constraints)


def _forget_users(mapper: Mapper[Any]) -> None:
    """Drop a refused class's relationships from the versioned associations."""
    prefix = f"{mapper.class_.__name__}."
    for table, association in list(associations.items()):
        if association.table.metadata is not getattr(mapper.local_table, "metadata", None):
            continue
        association.used_by[:] = [u for u in association.used_by if not u.startswith(prefix)]
        if not association.used_by:
            del associations[table]
            version_table = association.version_table
            if version_table.metadata.tables.get(version_table.key) is version_table:
                version_table.metadata.remove(version_table)
    for secondary, users in list(_candidates.items()):
        users[:] = [(c, a) for c, a in users if c is not mapper.class_]
        if not users:
            del _candidates[secondary]


forget_hooks.append(_forget_users)


@event.listens_for(Mapper, "after_mapper_constructed")
def _on_constructed(mapper: Mapper[Any], cls: type) -> None:
    with forgotten_if_refused(mapper):
        _version_associations(mapper, cls)


def _version_associations(mapper: Mapper[Any], cls: type) -> None:
    versioned = issubclass(cls, RevisionedColumns)
    for prop in mapper.iterate_properties:
        if not isinstance(prop, RelationshipProperty):
            continue
        secondary = _declared_secondary(mapper, prop)
        if secondary is None:
            continue
        if versioned or _refers_to_versioned(secondary):
            version_association(secondary, cls, prop.key)
        else:
            _candidates[secondary].append((cls, prop.key))
    if versioned:
        # Relationships declared earlier on unversioned classes may go
        # through an association to this class.
        for secondary, users in list(_candidates.items()):
            if _refers_to_versioned(secondary) or any(
                    fk.elements[0].target_fullname.rsplit(".", 1)[0]
                    == getattr(mapper.local_table, "fullname", None)
                    for fk in getattr(secondary, "foreign_key_constraints", ())):
                for user_cls, attr in users:
                    version_association(secondary, user_cls, attr)
                del _candidates[secondary]


@event.listens_for(Mapper, "mapper_configured")
def _on_configured(mapper: Mapper[Any], cls: type) -> None:
    # Secondaries given as forward references are known only now.
    for prop in mapper.relationships:
        if prop.secondary is None or prop.parent is not mapper:
            continue
        if (versioning_of(cls) is not None or versioning_of(prop.mapper.class_) is not None
                or prop.secondary in associations):
            version_association(prop.secondary, cls, prop.key)
    for association in associations.values():
        resolve_version_types(association.table.metadata)


_props_cache: dict[Mapper[Any], list[RelationshipProperty[Any]]] = {}


def association_props(mapper: Mapper[Any]) -> list[RelationshipProperty[Any]]:
    """The relationships of ``mapper`` through versioned association tables."""
    found = _props_cache.get(mapper)
    if found is None:
        found = _props_cache[mapper] = [
            p for p in mapper.relationships if p.secondary in associations
        ]
    return found


def _side_tables(mapper: Mapper[Any]) -> list[Table]:
    return [t for t in mapper.tables if isinstance(t, Table)]


# -- writing -----------------------------------------------------------------

#: Per association, per side, the side values whose links may have changed.
Affected = dict[Association, dict[SideColumns, set[Key]]]


def _value(state: Any, mapper: Mapper[Any], column: Any) -> Any:
    if state.key is not None and column in mapper.primary_key:
        return state.key[1][list(mapper.primary_key).index(column)]
    prop = mapper.get_property_by_column(column)
    return state.dict.get(prop.key)


def _side_key(state: Any, mapper: Mapper[Any], side: AssociationSide) -> Key | None:
    table = next(t for t in _side_tables(mapper) if t.fullname == side.referred)
    key = tuple(_value(state, mapper, table.c[col]) for col, _ in side.pairs)
    return None if any(v is None for v in key) else key


def _collection_changed(state: Any, prop: RelationshipProperty[Any]) -> bool:
    return bool(state.attrs[prop.key].history.has_changes())


def pending_association_changes(session: Session) -> list[Any]:
    """Objects whose flush will change a versioned association table.

    Read before the flush, so that it can be refused without a revision.
    An unversioned object being deleted counts when it has links.
    """
    if not associations:
        return []
    found: list[Any] = []
    for obj in [*session.new, *session.dirty]:
        state = orm_attributes.instance_state(obj)
        if any(_collection_changed(state, p) for p in association_props(state.mapper)):
            found.append(obj)
    for obj in session.deleted:
        state = orm_attributes.instance_state(obj)
        if versioning_of(obj) is not None:
            continue
        if _has_links(session, state):
            found.append(obj)
    return found


def _has_links(session: Session, state: Any) -> bool:
    for table in _side_tables(state.mapper):
        for association in associations.values():
            for side in association.sides_of(table):
                key = _side_key(state, state.mapper, side)
                if key is None:
                    continue
                cols = [association.table.c[c] for c in side.columns]
                query = select(literal(1)).where(key_in(cols, [key])).limit(1)
                if session.connection().execute(query).first() is not None:
                    return True
    return False


def affected_associations(session: Session) -> Affected:
    """After a flush: which links of which association tables may have changed."""
    affected: Affected = defaultdict(lambda: defaultdict(set))
    if not associations:
        return affected
    for obj in [*session.new, *session.dirty]:
        state = orm_attributes.instance_state(obj)
        for prop in association_props(state.mapper):
            if not _collection_changed(state, prop):
                continue
            association = associations[prop.secondary]  # type: ignore[index]
            parent_cols = {local.name: remote.name for local, remote in prop.synchronize_pairs}
            for side in association.sides:
                if set(side.columns) == set(parent_cols.values()):
                    key = _side_key(state, state.mapper, side)
                    if key is not None:
                        affected[association][side.columns].add(key)
    for obj in session.deleted:
        state = orm_attributes.instance_state(obj)
        for table in _side_tables(state.mapper):
            for association in associations.values():
                for side in association.sides_of(table):
                    key = _side_key(state, state.mapper, side)
                    if key is not None:
                        affected[association][side.columns].add(key)
    return affected


class AssociationStatements:
    """The statements finding an association table's changed links, built once."""

    def __init__(self, association: Association) -> None:
        self.a = association

    def _same_key(self, live: Any, vt: Any) -> list[Any]:
        return [live.c[n] == vt.c[n] for n in self.a.key_names]

    @cached_property
    def _current(self) -> list[Any]:
        vt = self.a.version_table
        return [vt.c[EXPIRED_ID].is_(None), vt.c[OPERATION_TYPE] != Operation.DELETE]

    def added(self, side: SideColumns) -> Executable:
        """Keys of live links of the side's values without a current version."""
        return self._added[side]

    def removed(self, side: SideColumns) -> Executable:
        """Keys of current versions of the side's values whose link is gone."""
        return self._removed[side]

    @cached_property
    def _added(self) -> dict[SideColumns, Executable]:
        live, vt = self.a.table, self.a.version_table
        versioned = select(literal(1)).where(*self._same_key(live, vt), *self._current).exists()
        return {side.columns: select(*(live.c[n] for n in self.a.key_names)).where(
            _in([live.c[c] for c in side.columns]), ~versioned) for side in self.a.sides}

    @cached_property
    def _removed(self) -> dict[SideColumns, Executable]:
        live, vt = self.a.table, self.a.version_table
        alive = select(literal(1)).where(*self._same_key(live, vt)).exists()
        return {side.columns: select(*(vt.c[n] for n in self.a.key_names)).where(
            _in([vt.c[c] for c in side.columns]), *self._current, ~alive)
            for side in self.a.sides}


def _in(columns: list[Any]) -> Any:
    if len(columns) == 1:
        return columns[0].in_(bindparam("side", expanding=True))
    return tuple_(*columns).in_(bindparam("side", expanding=True))


def _side_param(batch: list[Key]) -> list[Any]:
    return [k[0] for k in batch] if batch and len(batch[0]) == 1 else batch


def _statements(association: Association) -> AssociationStatements:
    return cached_on(association, "_finder", lambda: AssociationStatements(association))


def write_association_versions(
    connection: Connection,
    association: Association,
    sides: dict[SideColumns, set[Key]],
    revision_id: int,
    written: dict[Key, Operation],
) -> None:
    """Version the links of ``sides`` that changed, for revision ``revision_id``.

    ``written`` maps the keys this revision already versioned to their
    operation; it is updated in place.
    """
    finder = _statements(association)
    added: set[Key] = set()
    removed: set[Key] = set()
    for side, values in sides.items():
        for batch in chunks(values):
            param = {"side": _side_param(batch)}
            added.update(tuple(r) for r in connection.execute(finder.added(side), param))
            removed.update(tuple(r) for r in connection.execute(finder.removed(side), param))
    if not added and not removed:
        return
    plan = plan_association_versions(added, removed, written, association.has_values)
    st = statements_for(association)  # type: ignore[arg-type]
    run = keyed_runner(connection, st, revision_id)
    retire_versions(run, st, plan)
    for op, keys in plan.copy_live.items():
        run(st.copy_live(op), keys)
    run(st.expire_previous, plan.expire_previous)
    written.clear()
    written.update(plan.written)


# -- reading -----------------------------------------------------------------


def related_through(version: Any, prop: RelationshipProperty[Any], revision_id: int) -> Any:
    """Relationship ``prop`` (through a versioned association) of a version,
    as of ``revision_id``: the targets linked then, one query.

    A versioned target comes back as its version then, an unversioned one
    as the live object (a target deleted since is left out).
    """
    secondary_table: Any = prop.secondary
    association = associations.get(secondary_table)
    if association is None:
        raise UnsupportedQueryError(
            f"{type(version).__name__}.{prop.key} goes through {prop.secondary}, "
            f"which vdm does not version (neither of its classes is versioned); "
            f"its past is unknown, read the live relationship instead",
            obj=version,
        )
    session = object_session(version)
    assert session is not None
    source = type(version).__versioning__
    target = versioning_of(prop.mapper.class_)
    avt = association.version_table
    secondary = association.table
    target_tables = set(_side_tables(prop.mapper))

    def to_versions(element: Any, in_primary: bool) -> Any:
        table = getattr(element, "table", None)
        name = getattr(element, "name", None)
        if table is secondary and isinstance(name, str):
            return avt.c[name]
        if in_primary and table in set(_side_tables(source.mapper)):
            prop_of = source.mapper.get_property_by_column(element)
            return bindparam(None, version.__dict__.get(prop_of.key), type_=element.type)
        if not in_primary and table in target_tables and target is not None:
            return target.version_column(element)
        return None

    def on_parent(element: Any, **kw: Any) -> Any:
        return to_versions(element, True)

    def on_target(element: Any, **kw: Any) -> Any:
        return to_versions(element, False)

    joins: Any = (prop.primaryjoin, prop.secondaryjoin)
    primary = visitors.replacement_traverse(joins[0], {}, on_parent)
    on = visitors.replacement_traverse(joins[1], {}, on_target)
    entity: Any = prop.mapper.class_
    conditions: list[Any] = [primary, current_as_of(avt, revision_id)]
    if target is not None:
        entity = target.version_class
        conditions.append(current_as_of(target.version_table, revision_id))
    query = select(entity).join_from(entity, avt, on).where(*conditions)
    if prop.order_by:
        query = query.order_by(*(_version_column(target, c) for c in prop.order_by))
    else:
        query = query.order_by(*(avt.c[n] for n in association.key_names))
    return relationship_as_of(session, query, revision_id, prop)


def _version_column(target: Any, clause: Any) -> Any:
    name = getattr(clause, "name", None)
    if target is not None and isinstance(name, str) and name in target.version_table.c:
        return target.version_table.c[name]
    return clause


# -- restoring, undoing, purging (the versioned writes: vdm.sqlalchemy.restore)


def side_filter(table: Any, side: AssociationSide, values: dict[str, Any]) -> list[Any]:
    """Rows of ``side`` linking the object whose columns hold ``values``."""
    return [table.c[assoc] == values[ref] for ref, assoc in side.pairs]


def association_rows(connection: Connection, table: Any, association: Association,
                     where: list[Any]) -> dict[Key, dict[str, Any]]:
    """``{key: row}`` of ``table`` (the association's live or version table) matching ``where``."""
    query = select(*(table.c[c.name] for c in association.table.c)).where(*where)
    return {tuple(row[n] for n in association.key_names): dict(row)
            for row in connection.execute(query).mappings()}


def expire_collections(session: Session, association: Association) -> None:
    """Expire the collections of loaded objects that read through ``association``."""
    for obj in list(session.identity_map.values()):
        state = orm_attributes.instance_state(obj)
        keys = [p.key for p in association_props(state.mapper) if p.secondary is association.table]
        if keys:
            session.expire(obj, keys)


def plan_link_undo(session: Session, association: Association,
                   revision_id: int) -> dict[Key, dict[str, Any] | None]:
    """What undoing ``revision_id`` does to the association: ``{key: row or
    None (remove)}``; raises :class:`vdm.ConflictError` when a later
    revision changed one of its links again."""
    connection = session.connection()
    vt = association.version_table
    written = _rows_with_op(connection, association, vt.c[REVISION_ID] == revision_id)
    if not written:
        return {}
    before = _rows_with_op(connection, association, vt.c[EXPIRED_ID] == revision_id)
    live = association_rows(connection, association.table, association,
                 [association.live_key_clause(list(written))])
    plan: dict[Key, dict[str, Any] | None] = {}
    for key, (new, op) in written.items():
        prior = before.get(key)
        old = prior[0] if prior is not None and prior[1] != Operation.DELETE else None
        new_values = new if op != Operation.DELETE else None
        conflict = undo_conflict(association.describe(key), revision_id, old, new_values,
                                 live.get(key))
        if conflict is not None:
            raise ConflictError(conflict[0], revision=revision_id, fields=conflict[1])
        plan[key] = old
    return plan


def _rows_with_op(connection: Connection, association: Association,
                  where: Any) -> dict[Key, tuple[dict[str, Any], int]]:
    vt = association.version_table
    query = select(*(vt.c[c.name] for c in association.table.c), vt.c[OPERATION_TYPE]).where(where)
    found: dict[Key, tuple[dict[str, Any], int]] = {}
    for row in connection.execute(query).mappings():
        values = {c.name: row[c.name] for c in association.table.c}
        found[tuple(values[n] for n in association.key_names)] = (values, row[OPERATION_TYPE])
    return found


def purge_links(connection: Connection, table: Table, values: dict[str, Any]) -> None:
    """Erase every link of the object of ``table`` whose columns hold
    ``values``, live and history."""
    for association in associations.values():
        for side in association.sides_of(table):
            for target in (association.table, association.version_table):
                connection.execute(target.delete().where(*side_filter(target, side, values)))
