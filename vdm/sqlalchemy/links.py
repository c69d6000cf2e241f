"""Versioned many-to-many links and versioned key/value maps.

A versioned many-to-many is an explicit link class that is itself
revisioned and stateful (``PackageTag``).  vdm 0.15's helper adds list views
to the owner::

    add_stateful_versioned_m2m(Package, PackageTag, "tags", "tag", "package_tags")

    package.tags.append(tag)        # creates (or undeletes) a PackageTag
    package.tags.remove(tag)        # marks the link deleted
    package.tags_active             # the active PackageTag objects
    package.tags_deleted            # the deleted ones
    package.get_as_of(r1).tags      # the tags (as of r1) linked as of r1

:func:`add_stateful_versioned_dict` does the same for keyed links, giving a
versioned map (``package.extras["key"] = "value"``) whose per-key history is
``package.extras.history("key")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, inspect, select, union
from sqlalchemy.orm import (
    Mapper,
    Session,
    class_mapper,
    foreign,
    joinedload,
    object_session,
    relationship,
    with_parent,
)
from sqlalchemy.orm.attributes import set_committed_value

from vdm.errors import ConfigurationError
from vdm.linking import LinkSpec as CoreLinkSpec
from vdm.linking import VersionedDict as CoreVersionedDict
from vdm.linking import (
    VersionedLinks,
    declare_links,
    install_links,
    link_view_as_of,
)
from vdm.naming import REVISION_ID, STATE
from vdm.sqlalchemy.asof import current_as_of
from vdm.sqlalchemy.asofreads import scalars_as_of
from vdm.sqlalchemy.registry import Versioning, key_equals, versioning_of
from vdm.sqlalchemy.revision import Revision, revision_table
from vdm.states import State


@dataclass(eq=False)
class LinkSpec(CoreLinkSpec):
    """A versioned link collection of an owner class (SQLAlchemy)."""

    #: (owner column key, link column key) pairs of the link's foreign key.
    owner_pairs: list[tuple[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        owner, link = self.owner, self.link
        self.owner_pairs = _owner_pairs(owner, link, self.owner_key)
        self.owner_columns = [(owner.table.c[o].name, link.table.c[lc].name)
                              for o, lc in self.owner_pairs]
        mapper: Mapper[Any] = class_mapper(owner.cls, configure=False)
        if not mapper.has_property(self.base_list_name):
            order = [link.table.c[n] for n in link.key_names]
            if self.position_attr:
                order.insert(0, link.table.c[link.fields[self.position_attr]])
            # The join names the owner's foreign key: a link may have another
            # one to the owner's table (a paper citing papers).
            join = and_(*(owner.table.c[o] == foreign(link.table.c[lc])
                          for o, lc in self.owner_pairs))
            mapper.add_property(self.base_list_name, relationship(
                link.cls, order_by=order, primaryjoin=join))

    def order_columns(self) -> list[Any]:
        """Version-table columns the link list is ordered by."""
        vt = self.link.version_table
        by_key = [vt.c[n] for n in self.link.key_names]
        if self.position_attr:
            return [vt.c[self.link.fields[self.position_attr]], *by_key]
        return by_key

    def identity_columns(self) -> list[Any]:
        """Live link columns that must be unique per owner: target key or map key."""
        table = self.link.table
        if self.key_attr is not None:
            return [table.c[self.link.fields[self.key_attr]]]
        prop: Any = self.link.mapper.get_property(self.other_attr)
        return [table.c[local.key] for local, _ in prop.local_remote_pairs]

    def links_as_of(
        self, owner_key: tuple[Any, ...], revision_id: int, state: State
    ) -> list[ColumnElement[bool]]:
        """Conditions: this owner's links in ``state`` as of ``revision_id``."""
        vt = self.link.version_table
        return [current_as_of(vt, revision_id), vt.c[STATE] == state,
                *self.owner_conditions(owner_key)]

    def owner_conditions(self, owner_key: tuple[Any, ...]) -> list[ColumnElement[bool]]:
        """Conditions on the link version table: links of this owner.

        The core's :meth:`~vdm.linking.LinkSpec.of_owner` as column
        expressions, so that the dialect quotes names like ``key``.
        """
        vt = self.link.version_table
        owner_values = dict(zip(self.owner.key_names, owner_key, strict=True))
        return [vt.c[link_col] == owner_values[owner_col]
                for owner_col, link_col in self.owner_pairs]

    def new_link(self, owner: Any, values: dict[str, Any]) -> Any:
        """A new, active link row; appending it to the owner's list links it."""
        return self.link.cls(**values, **{STATE: State.ACTIVE})


class VersionedDict(CoreVersionedDict):
    """A :class:`~vdm.collections.StatefulDict` that also knows its history."""

    def history(self, key: Any) -> list[Any]:
        """Every version of the link of ``key``, oldest first.

        Each has ``revision`` (who set it, when), the value attribute and
        ``state`` (``deleted`` when the key was removed).
        """
        spec = self._spec
        assert spec.key_attr is not None
        session = object_session(self._owner)
        assert session is not None
        vt = spec.link.version_table
        query = select(spec.link.version_class).where(
            vt.c[spec.link.fields[spec.key_attr]] == key,
            *spec.owner_conditions(spec.owner.key_of(self._owner)),
        ).order_by(vt.c[REVISION_ID])
        with session.no_autoflush:
            return list(session.scalars(query))


class _ORMLinks(VersionedLinks):
    """Link objects of one owner, in an SQLAlchemy session."""

    def is_new(self, link: Any) -> bool:
        state = inspect(link)
        return bool(state.transient or state.pending)

    def discard(self, link: Any) -> None:
        session = object_session(link)
        if session is not None and link in session:
            session.expunge(link)


def _links_with_targets(spec: LinkSpec, owner: Any) -> list[Any]:
    """Every link of ``owner`` (its ``base_list_name``), targets loaded with them.

    Left to the relationship, the links would come in one statement and
    each link's target in one more; unloaded, the list is read here in one
    statement joining the targets, like the relationship's own lazy load
    (same order, and the session autoflushes first, so pending links count).
    """
    state = inspect(owner)
    session = state.session
    base = spec.base_list_name
    if session is not None and state.key is not None and base in state.unloaded:
        attr = getattr(type(owner), base)
        link_cls = spec.link.cls
        query: Any = (select(link_cls).where(with_parent(owner, attr))
                 .order_by(*attr.property.order_by)
                 .options(joinedload(getattr(link_cls, spec.other_attr))))
        set_committed_value(owner, base, list(session.scalars(query)))
    links: list[Any] = getattr(owner, base)
    return links


def _owner_pairs(owner: Versioning, link: Versioning,
                 owner_key: str | Sequence[str] | None) -> list[tuple[str, str]]:
    """(owner column, link column) pairs of the link's foreign key to its owner."""
    fks = sorted((fk for fk in link.table.foreign_key_constraints
                  if fk.referred_table is owner.table),
                 key=lambda fk: [el.parent.name for el in fk.elements])
    choices = ", ".join(repr(",".join(el.parent.name for el in fk.elements)) for fk in fks)
    if owner_key is not None:
        names = [owner_key] if isinstance(owner_key, str) else list(owner_key)
        wanted = {link.fields.get(name, name) for name in names}
        for fk in fks:
            if wanted in ({el.parent.name for el in fk.elements},
                          {el.parent.key for el in fk.elements}):
                return [(el.column.key, el.parent.key) for el in fk.elements]
        raise ConfigurationError(
            f"{link.name}: owner_key={owner_key!r} is not a foreign key to "
            f"{owner.name}'s table {owner.table.name!r}; name the link column(s) "
            f"holding the owner's key (one of {choices or 'none'})",
            cls=link.cls,
        )
    if len(fks) == 1:
        return [(el.column.key, el.parent.key) for el in fks[0].elements]
    if not fks:
        raise ConfigurationError(
            f"{link.name} has no foreign key to {owner.name}'s table "
            f"{owner.table.name!r}; a link class needs one",
            cls=link.cls,
        )
    raise ConfigurationError(
        f"{link.name} has {len(fks)} foreign keys to {owner.name}'s table "
        f"{owner.table.name!r} ({choices}); say which one holds the owner with "
        f"owner_key=..., e.g. owner_key={fks[0].elements[0].parent.name!r}",
        cls=link.cls,
    )


def add_stateful_versioned_m2m(
    owner_cls: type,
    link_cls: type,
    attr_name: str,
    other_attr_name: str,
    base_list_name: str,
    position_attr: str | None = None,
    owner_key: str | Sequence[str] | None = None,
) -> None:
    """Give ``owner_cls`` a versioned many-to-many through ``link_cls``.

    ``link_cls`` is revisioned and stateful, has a foreign key to the owner
    and a many-to-one ``other_attr_name`` to the target.  The owner gets
    ``base_list_name`` (every link; created if missing), ``attr_name`` (a
    :class:`~vdm.collections.StatefulList` of active targets; assigning a
    list replaces it), ``<attr_name>_active`` and ``<attr_name>_deleted``
    (link objects).  With ``position_attr`` the links' order is stored in
    that column, so :meth:`list.insert` and reordering survive a reload;
    without it the order is the links' creation order.

    ``owner_key`` names the link's column (or columns) holding the owner's
    key; it is needed only when the link has more than one foreign key to
    the owner's table (a paper referencing papers).
    """
    spec = declare_links(LinkSpec, owner_cls, link_cls, attr_name, base_list_name,
                         other_attr_name, None, position_attr, owner_key)
    install_links(spec, lambda owner: _links_with_targets(spec, owner), _ORMLinks, VersionedDict)


def add_stateful_versioned_dict(
    owner_cls: type,
    link_cls: type,
    attr_name: str,
    key_attr: str,
    value_attr: str,
    base_list_name: str,
    owner_key: str | Sequence[str] | None = None,
) -> None:
    """Give ``owner_cls`` a versioned key/value map stored in ``link_cls`` rows.

    Each key is one stateful, revisioned link row (``key_attr``,
    ``value_attr``); setting a key writes a version, deleting one marks its
    row deleted, and ``owner.<attr_name>.history(key)`` lists its versions.
    """
    spec = declare_links(LinkSpec, owner_cls, link_cls, attr_name, base_list_name,
                         value_attr, key_attr, owner_key=owner_key)
    install_links(spec, lambda owner: getattr(owner, base_list_name), _ORMLinks, VersionedDict)


def links_as_of(version: Any, spec: LinkSpec, name: str, revision_id: int) -> Any:
    """A link view of a version's object as of ``revision_id`` (see
    :func:`vdm.linking.link_view_as_of`); each read is one query."""
    session: Session | None = object_session(version)
    assert session is not None

    def owned(state: State) -> list[ColumnElement[bool]]:
        return spec.links_as_of(version.object_key, revision_id, state)

    # Link versions answer as of the owner's read, like targets.
    with session.no_autoflush:
        return link_view_as_of(
            spec, name, f"{name} of {version._describe()}",
            lambda state: scalars_as_of(session, select(spec.link.version_class).where(
                *owned(state)).order_by(*spec.order_columns()), revision_id),
            lambda: _targets_as_of(session, spec, owned(State.ACTIVE), revision_id))


def _targets_as_of(session: Session, spec: LinkSpec, conditions: list[ColumnElement[bool]],
                   revision_id: int) -> list[Any]:
    """The targets of the active links, as of the revision: one query."""
    prop: Any = spec.link.mapper.get_property(spec.other_attr)
    target = versioning_of(prop.mapper.class_)
    vt = spec.link.version_table
    entity: Any
    if target is None:
        entity = prop.mapper.class_
        on = and_(*(remote == vt.c[local.key] for local, remote in prop.local_remote_pairs))
    else:
        entity = target.version_class
        tvt = target.version_table
        on = and_(*(tvt.c[remote.key] == vt.c[local.key]
                    for local, remote in prop.local_remote_pairs))
        conditions = [*conditions, current_as_of(tvt, revision_id)]
    query = (
        select(entity).join_from(entity, vt, on).where(*conditions)
        .order_by(*spec.order_columns())
    )
    return scalars_as_of(session, query, revision_id)


def related_revisions(obj: Any) -> list[Any]:
    """Revisions that changed ``obj`` or its versioned links, newest first."""
    versioning = versioning_of(obj)
    assert versioning is not None
    session = object_session(obj)
    assert session is not None
    key = versioning.key_of(obj)
    vt = versioning.version_table
    sources = [select(vt.c[REVISION_ID]).where(
        key_equals([vt.c[n] for n in versioning.key_names], key))]
    for spec in versioning.all_links.values():
        lvt = spec.link.version_table
        sources.append(select(lvt.c[REVISION_ID]).where(*spec.owner_conditions(key)))
    ids = union(*sources).subquery()
    query = select(Revision).where(revision_table.c.id.in_(select(ids.c[0]))).order_by(
        revision_table.c.id.desc())
    with session.no_autoflush:
        return list(session.scalars(query))
