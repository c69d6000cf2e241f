"""Versioned many-to-many links and versioned key/value maps, for SQLObject.

SQLObject's ``RelatedJoin`` writes its intermediate table with raw SQL and
fires no events, so it cannot be versioned.  A versioned many-to-many is an
explicit link class instead, itself ``Revisioned`` and ``Stateful``, with a
``ForeignKey`` to each side::

    class PackageTag(Revisioned, Stateful, SQLObject):
        package = ForeignKey("Package", notNone=True)
        tag = ForeignKey("Tag", notNone=True)
        position = IntCol(default=None)

    add_stateful_versioned_m2m(Package, PackageTag, "tags", "tag",
                               "package_tags", position_attr="position")

    package.tags.append(tag)        # creates (or undeletes) a PackageTag
    package.tags.remove(tag)        # marks the link deleted
    package.tags = [a, b]           # the same list again writes nothing
    package.tags_active             # the active PackageTag objects
    package.tags_deleted            # the deleted ones
    package.get_as_of(r1).tags      # the tags (as of r1) linked as of r1

The views are the backend-neutral :class:`vdm.collections.StatefulList`
and :class:`~vdm.collections.StatefulDict` over the owner's link rows,
read from the owner's connection (its session's transaction) each time the
attribute is read; every change is an ordinary SQLObject write, versioned
in the session's revision.  A link created and removed again in the same
revision is destroyed, leaving no trace.

:func:`add_stateful_versioned_dict` does the same for keyed links, giving
a versioned map (``package.extras["key"] = "value"``) whose per-key
history is ``package.extras.history("key")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlobject.classregistry import findClass
from sqlobject.sqlbuilder import IN

from vdm.errors import ConfigurationError
from vdm.linking import (
    LinkBackend,
    VersionedLinks,
    choose_owner_foreign_key,
    link_view_as_of,
    register_link_backend,
    related_revision_ids_sql,
)
from vdm.linking import LinkSpec as CoreLinkSpec
from vdm.linking import VersionedDict as CoreVersionedDict
from vdm.naming import REVISION_ID, STATE
from vdm.sqlobject.dialect import literal
from vdm.sqlobject.registry import ForeignKeyInfo, Versioning, versioning_of
from vdm.sqlobject.revision import Revision, select_revisions
from vdm.sqlobject.session import session_of
from vdm.sqlobject.sqlrunner import ConnectionSql
from vdm.sqlobject.versions import Version, current_as_of, select_versions
from vdm.states import State

__all__ = ["LinkSpec", "VersionedDict", "related_revisions"]

#: Targets of a link list read by one statement (the ``IN`` list's length).
TARGETS_PER_QUERY = 500


class LinkRows(list[Any]):
    """Link rows of one owner; holds their targets so the cache keeps them."""

    targets: list[Any] = []


@dataclass(eq=False)
class LinkSpec(CoreLinkSpec):
    """A versioned link collection (or map) of an owner class (SQLObject)."""

    #: The link's foreign key to the owner.
    owner_fk: ForeignKeyInfo = field(init=False)

    def __post_init__(self) -> None:
        owner, link = self.owner, self.link
        if self.key_attr is None and self.other_attr not in link.foreign_keys:
            raise ConfigurationError(
                f"{link.name} has no ForeignKey {self.other_attr!r}; the target of a "
                f"versioned link is a ForeignKey of the link class", cls=link.cls,
                field=self.other_attr,
            )
        for attr in (self.key_attr, self.position_attr) if self.key_attr is None else (
                self.other_attr, self.key_attr, self.position_attr):
            if attr is not None and attr not in link.attributes:
                raise ConfigurationError(f"{link.name} has no column {attr!r}",
                                         cls=link.cls, field=attr)
        self.owner_fk = _owner_fk(owner, link, self.owner_key)
        self.owner_columns = [(owner.id_name, self.owner_fk.column)]
        if not hasattr(owner.cls, self.base_list_name):
            setattr(owner.cls, self.base_list_name, property(
                self.links_of, doc=f"Every {link.name} link (active and deleted)."))

    @property
    def target_fk(self) -> ForeignKeyInfo:
        """The link's foreign key to the target (lists only)."""
        found: ForeignKeyInfo = self.link.foreign_keys[self.other_attr]
        return found

    def column(self, attr: str) -> str:
        """The column name of link attribute ``attr``."""
        name: str = self.link.attributes[attr]
        return name

    def order_by(self, alias: str = "") -> str:
        """SQL ``ORDER BY`` list of the link rows: position, then creation."""
        prefix = f"{alias}." if alias else ""
        order = [f"{prefix}{self.link.id_name}"]
        if self.position_attr:
            order.insert(0, f"{prefix}{self.column(self.position_attr)}")
        return ", ".join(order)

    # -- live links -------------------------------------------------------

    def links_of(self, owner: Any) -> list[Any]:
        """Every link row of ``owner`` (active and deleted), in list order."""
        conn = owner._connection
        cls: Any = self.link.cls
        order = [self.link.id_name]
        if self.position_attr:
            order.insert(0, self.column(self.position_attr))
        links = LinkRows(cls.select(
            getattr(cls.q, self.owner_fk.attr) == owner.id,
            orderBy=order, connection=conn,
        ))
        session = session_of(conn)
        if session is not None:
            session.saw_links(self.link, self.owner_fk.attr, owner.id, [ln.id for ln in links])
        if self.key_attr is None:
            links.targets = self._load_targets(conn, links)
        return links

    def _load_targets(self, conn: Any, links: list[Any]) -> list[Any]:
        """The links' targets, those not in the connection's cache read at once.

        Reading ``link.tag`` then finds the target in the cache instead of
        selecting it: one statement per :data:`TARGETS_PER_QUERY` targets
        rather than one per link.
        """
        fk = self.target_fk
        target: Any = findClass(fk.target, self.link.cls.sqlmeta.registry)
        found, missing = [], []
        for key in dict.fromkeys(getattr(link, fk.attr) for link in links):
            if key is None:
                continue
            cached = conn.cache.tryGet(key, target)
            if cached is None:
                missing.append(key)
            else:
                found.append(cached)
        for start in range(0, len(missing), TARGETS_PER_QUERY):
            chunk = missing[start:start + TARGETS_PER_QUERY]
            found.extend(target.select(IN(target.q.id, chunk), connection=conn))
        return found

    # -- as of a revision ------------------------------------------------

    def as_of(self, version: Version, name: str) -> Any:
        """View ``name`` (``tags``, ``tags_active``, ``tags_deleted``) as of the
        version (see :func:`vdm.linking.link_view_as_of`); each read is one query."""
        conn, rid, key = version.__dict__["_conn"], version.as_of, version.object_key[0]
        return link_view_as_of(
            self, name, f"{name} of {version._describe()}",
            lambda state: select_versions(conn, self.link, self.where_as_of(conn, key, rid, state),
                                          f" ORDER BY {self.order_by()}", as_of=rid),
            lambda: self._targets_as_of(conn, key, rid))

    def where_as_of(self, conn: Any, key: Any, rid: int, state: State, alias: str = "") -> str:
        """SQL, values in it: the owner ``key``'s link versions in ``state`` as of ``rid``."""
        prefix = f"{alias}." if alias else ""
        return (f"{current_as_of(rid, alias)} AND {prefix}{STATE} = {literal(conn, state)} "
                f"AND {ConnectionSql(conn).bind(*self.of_owner((key,), alias))}")

    def _targets_as_of(self, conn: Any, key: Any, rid: int) -> list[Any]:
        """The targets of the owner's active links as of ``rid``: one query."""
        session = session_of(conn)
        if session is not None:
            session.flush()
        fk = self.target_fk
        target: Any = findClass(fk.target, self.link.cls.sqlmeta.registry)
        target_v = versioning_of(target)
        lvt = self.link.version_table
        where = self.where_as_of(conn, key, rid, State.ACTIVE, "l")
        order = f" ORDER BY {self.order_by('l')}"
        if target_v is not None:
            names = target_v.version_columns
            rows = conn.queryAll(
                f"SELECT {', '.join('t.' + n for n in names)} FROM {lvt} l "
                f"JOIN {target_v.version_table} t ON t.{target_v.id_name} = l.{fk.column} "
                f"WHERE {where} AND {current_as_of(rid, 't')}{order}"
            )
            return [target_v.version_class(conn, dict(zip(names, row, strict=True)), rid)
                    for row in rows]
        meta = target.sqlmeta
        names = [meta.idName] + [c.dbName for c in meta.columnList]
        rows = conn.queryAll(
            f"SELECT {', '.join('t.' + n for n in names)} FROM {lvt} l "
            f"JOIN {meta.table} t ON t.{meta.idName} = l.{fk.column} WHERE {where}{order}"
        )
        return [target.get(row[0], connection=conn, selectResults=list(row[1:]))
                for row in rows]


def _key_versions(spec: LinkSpec, owner: Any, key: Any) -> list[Version]:
    """The versions of map key ``key``'s link of ``owner``, oldest first
    (``values`` holds the key and the value)."""
    conn = owner._connection
    where = ConnectionSql(conn).bind(*spec.key_history_sql((owner.id,), key))
    return select_versions(conn, spec.link, where, f" ORDER BY {REVISION_ID}")


class VersionedDict(CoreVersionedDict):
    """A :class:`~vdm.collections.StatefulDict` that also knows its history:
    ``history(key)`` lists the versions of a key's link, oldest first."""


def _insert_link_row(spec: LinkSpec, owner: Any, values: dict[str, Any]) -> Any:
    """A new link row of ``owner``, written at once on the owner's connection."""
    if spec.key_attr is None:
        values = {spec.target_fk.attr: values[spec.other_attr].id}
    return spec.link.cls(**{spec.owner_fk.attr: owner.id, **values,
                            "connection": owner._connection})


def _created_in_session(spec: LinkSpec, link: Any) -> bool:
    session = session_of(link._connection)
    return session is not None and session.created_here(spec.link, link.id)


def _destroy_row(link: Any) -> None:
    link.destroySelf()


class _SOLinks(VersionedLinks):
    """How the list and map views tell SQLObject rows apart."""

    def same(self, a: Any, b: Any) -> bool:
        # One row may be read through two connections (two instances).
        if a is b:
            return True
        if hasattr(a, "sqlmeta") and hasattr(b, "sqlmeta"):
            return type(a) is type(b) and a.id == b.id
        return bool(a == b)


def _owner_fk(owner: Versioning, link: Versioning, owner_key: Any) -> ForeignKeyInfo:
    fks = sorted((fk for fk in link.foreign_keys.values() if fk.target == owner.name),
                 key=lambda fk: fk.column)
    return choose_owner_foreign_key(
        owner, link, owner_key, [([fk.column], [{fk.column}, {fk.attr}, {fk.name}], fk)
                                 for fk in fks],
        f"{owner.name.lower()} = ForeignKey({owner.name!r}, notNone=True)")


register_link_backend(Versioning, LinkBackend(
    spec_cls=LinkSpec, adapter_cls=_SOLinks, read_links=LinkSpec.links_of,
    make_link=_insert_link_row, link_is_new=_created_in_session, forget_link=_destroy_row,
    dict_cls=VersionedDict, read_key_history=_key_versions))


def related_revisions(obj: Any) -> list[Revision]:
    """Revisions that changed ``obj`` or its versioned links, newest first."""
    v = versioning_of(obj)
    assert v is not None
    conn = obj._connection
    session = session_of(conn)
    if session is not None:
        session.flush()
    ids = ConnectionSql(conn).bind(*related_revision_ids_sql(v, (obj.id,), list(v.links.values())))
    return select_revisions(conn, f"id IN ({ids})", " ORDER BY id DESC")
