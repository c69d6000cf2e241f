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

from sqlalchemy import ColumnElement, and_, column, inspect, select, text
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

from vdm.linking import (
    LinkBackend,
    choose_owner_foreign_key,
    link_view_as_of,
    register_link_backend,
    related_revision_ids_sql,
)
from vdm.linking import LinkSpec as CoreLinkSpec
from vdm.linking import VersionedDict as CoreVersionedDict
from vdm.naming import REVISION_ID, STATE
from vdm.sqlalchemy.asof import current_as_of
from vdm.sqlalchemy.asofreads import scalars_as_of
from vdm.sqlalchemy.registry import Versioning, versioning_of
from vdm.sqlalchemy.revision import Revision, revision_table
from vdm.states import State

__all__ = ["LinkSpec", "VersionedDict", "links_as_of", "related_revisions"]


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


def _map_key_versions(spec: LinkSpec, owner: Any, key: Any) -> list[Any]:
    """The versions of map key ``key``'s link of ``owner``, oldest first.

    The core's :meth:`~vdm.linking.LinkSpec.key_history_sql` as column
    expressions, so that the dialect quotes a column named ``key``.
    """
    assert spec.key_attr is not None
    session = object_session(owner)
    assert session is not None
    vt = spec.link.version_table
    query = select(spec.link.version_class).where(
        vt.c[spec.link.fields[spec.key_attr]] == key,
        *spec.owner_conditions(spec.owner.key_of(owner)),
    ).order_by(vt.c[REVISION_ID])
    with session.no_autoflush:
        return list(session.scalars(query))


class VersionedDict(CoreVersionedDict):
    """A :class:`~vdm.collections.StatefulDict` that also knows its history:
    ``history(key)`` lists the versions of a key's link, oldest first."""


def _new_link_object(spec: LinkSpec, owner: Any, values: dict[str, Any]) -> Any:
    """A new, active link object; appending it to the owner's list links it."""
    return spec.link.cls(**values, **{STATE: State.ACTIVE})


def _never_flushed(spec: LinkSpec, link: Any) -> bool:
    state = inspect(link)
    return bool(state.transient or state.pending)


def _expunge(link: Any) -> None:
    session = object_session(link)
    if session is not None and link in session:
        session.expunge(link)


def _links_with_targets(spec: LinkSpec, owner: Any) -> list[Any]:
    """Every link of ``owner`` (its ``base_list_name``), a list's targets loaded with them.

    Left to the relationship, the links would come in one statement and
    each link's target in one more; unloaded, the list is read here in one
    statement joining the targets, like the relationship's own lazy load
    (same order, and the session autoflushes first, so pending links count).
    """
    state = inspect(owner)
    session = state.session
    base = spec.base_list_name
    if (spec.key_attr is None and session is not None and state.key is not None
            and base in state.unloaded):
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
    key = owner.tables_record.key_columns[0]
    return choose_owner_foreign_key(owner, link, owner_key, [
        ([el.parent.name for el in fk.elements],
         [{el.parent.name for el in fk.elements}, {el.parent.key for el in fk.elements}],
         [(el.column.key, el.parent.key) for el in fk.elements])
        for fk in fks],
        f"{owner.table.name}_{key} = mapped_column(ForeignKey({owner.table.name + '.' + key!r}))")


register_link_backend(Versioning, LinkBackend(
    spec_cls=LinkSpec, read_links=_links_with_targets, make_link=_new_link_object,
    link_is_new=_never_flushed, forget_link=_expunge,
    dict_cls=VersionedDict, read_key_history=_map_key_versions))


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
    """Revisions that changed ``obj`` or its versioned links, newest first
    (the core's :func:`~vdm.linking.related_revision_ids_sql`, names
    written as the session's dialect writes them)."""
    versioning = versioning_of(obj)
    assert versioning is not None
    session = object_session(obj)
    assert session is not None
    quote = session.get_bind(mapper=versioning.mapper).dialect.identifier_preparer.quote
    ids, params = related_revision_ids_sql(
        versioning, versioning.key_of(obj), list(versioning.all_links.values()), quote)
    query = select(Revision).where(revision_table.c.id.in_(
        text(ids).bindparams(**params).columns(column(REVISION_ID)))).order_by(
        revision_table.c.id.desc())
    with session.no_autoflush:
        return list(session.scalars(query))
