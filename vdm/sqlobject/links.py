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

from dataclasses import dataclass
from typing import Any

from sqlobject.classregistry import findClass
from sqlobject.sqlbuilder import IN

from vdm.collections import KeyedLinkAdapter, ReadOnlyList, StatefulDict
from vdm.errors import ConfigurationError
from vdm.linkviews import (
    AttributeLinks,
    check_link_classes,
    check_link_names_free,
    install_dict_view,
    install_list_views,
)
from vdm.naming import REVISION_ID, STATE
from vdm.sqlobject.dialect import literal
from vdm.sqlobject.registry import ForeignKeyInfo, Versioning, versioning_of
from vdm.sqlobject.revision import Revision, select_revisions
from vdm.sqlobject.session import session_of
from vdm.sqlobject.versions import Version, current_as_of, select_versions
from vdm.states import State

#: Targets of a link list read by one statement (the ``IN`` list's length).
TARGETS_PER_QUERY = 500


class LinkRows(list[Any]):
    """Link rows of one owner; holds their targets so the cache keeps them."""

    targets: list[Any] = []


@dataclass(eq=False)
class LinkSpec:
    """A versioned link collection (or map) of an owner class."""

    owner: Versioning
    link: Versioning
    attr_name: str
    base_list_name: str
    #: The link's foreign key to the owner.
    owner_fk: ForeignKeyInfo
    #: Link attribute holding the target (a ForeignKey name) or the value.
    other_attr: str
    #: For maps: the link attribute holding the key.
    key_attr: str | None = None
    position_attr: str | None = None

    @property
    def target_fk(self) -> ForeignKeyInfo:
        """The link's foreign key to the target (lists only)."""
        return self.link.foreign_keys[self.other_attr]

    def column(self, attr: str) -> str:
        """The column name of link attribute ``attr``."""
        return self.link.attributes[attr]

    def order_by(self, alias: str = "") -> str:
        """SQL ``ORDER BY`` list of the link rows: position, then creation."""
        prefix = f"{alias}." if alias else ""
        order = [f"{prefix}{self.link.id_name}"]
        if self.position_attr:
            order.insert(0, f"{prefix}{self.column(self.position_attr)}")
        return ", ".join(order)

    def of_owner(self, conn: Any, key: Any, alias: str = "") -> str:
        """SQL: the link rows (or versions) of the owner with id ``key``."""
        prefix = f"{alias}." if alias else ""
        return f"{prefix}{self.owner_fk.column} = {literal(conn, key)}"

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
        """View ``name`` (``tags``, ``tags_active``, ``tags_deleted``) as of the version.

        The targets, the link versions or (for maps) ``{key: value}`` that
        were active then (deleted, for ``*_deleted``), each in one query.
        """
        conn = version.__dict__["_conn"]
        rid = version.as_of
        state = State.DELETED if name.endswith("_deleted") else State.ACTIVE
        where = (f"{current_as_of(rid)} AND {STATE} = {literal(conn, state)} AND "
                 f"{self.of_owner(conn, version.object_key[0])}")
        what = f"{name} of {version._describe()}"
        if name.endswith(("_active", "_deleted")) or self.key_attr is not None:
            links = select_versions(conn, self.link, where, f" ORDER BY {self.order_by()}",
                                    as_of=rid)
            if self.key_attr is None or name != self.attr_name:
                return ReadOnlyList(links, what)
            return {v.values[self.key_attr]: v.values[self.other_attr] for v in links}
        return ReadOnlyList(self._targets_as_of(conn, version.object_key[0], rid), what)

    def _targets_as_of(self, conn: Any, key: Any, rid: int) -> list[Any]:
        """The targets of the owner's active links as of ``rid``: one query."""
        session = session_of(conn)
        if session is not None:
            session.flush()
        fk = self.target_fk
        target: Any = findClass(fk.target, self.link.cls.sqlmeta.registry)
        target_v = versioning_of(target)
        lvt = self.link.version_table
        where = (f"{current_as_of(rid, 'l')} AND l.{STATE} = {literal(conn, State.ACTIVE)} "
                 f"AND {self.of_owner(conn, key, 'l')}")
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


class _SOLinks(AttributeLinks):
    """How the list views create and forget SQLObject link rows."""

    def __init__(self, spec: LinkSpec, owner: Any) -> None:
        super().__init__(spec.other_attr, spec.position_attr)
        self.spec = spec
        self.owner = owner

    def create(self, item: Any) -> Any:
        fk = self.spec.target_fk
        return self.spec.link.cls(**{
            self.spec.owner_fk.attr: self.owner.id, fk.attr: item.id,
            "connection": self.owner._connection,
        })

    def is_new(self, link: Any) -> bool:
        # Created in the revision under way: removing it leaves no trace.
        session = session_of(link._connection)
        return session is not None and session.created_here(self.spec.link, link.id)

    def discard(self, link: Any) -> None:
        link.destroySelf()

    def same(self, a: Any, b: Any) -> bool:
        # One row may be read through two connections (two instances).
        if a is b:
            return True
        if hasattr(a, "sqlmeta") and hasattr(b, "sqlmeta"):
            return type(a) is type(b) and a.id == b.id
        return bool(a == b)


class _SOKeyedLinks(_SOLinks, KeyedLinkAdapter):
    def key_of(self, link: Any) -> Any:
        assert self.spec.key_attr is not None
        return getattr(link, self.spec.key_attr)

    def set_value(self, link: Any, value: Any) -> None:
        setattr(link, self.spec.other_attr, value)

    def create_keyed(self, key: Any, value: Any) -> Any:
        assert self.spec.key_attr is not None
        return self.spec.link.cls(**{
            self.spec.owner_fk.attr: self.owner.id, self.spec.key_attr: key,
            self.spec.other_attr: value, "connection": self.owner._connection,
        })

    def same(self, a: Any, b: Any) -> bool:
        return bool(a == b)


class VersionedDict(StatefulDict):
    """A :class:`~vdm.collections.StatefulDict` that also knows its history."""

    def __init__(self, links: list[Any], adapter: _SOKeyedLinks) -> None:
        super().__init__(links, adapter)
        self._spec = adapter.spec
        self._owner = adapter.owner

    def history(self, key: Any) -> list[Version]:
        """Every version of the link of ``key``, oldest first.

        Each has ``revision`` (who set it, when), the value attribute and
        ``state`` (``deleted`` when the key was removed); ``values`` holds
        the key and the value.
        """
        spec = self._spec
        assert spec.key_attr is not None
        conn = self._owner._connection
        where = (f"{spec.column(spec.key_attr)} = {literal(conn, key)} AND "
                 f"{spec.of_owner(conn, self._owner.id)}")
        return select_versions(conn, spec.link, where, f" ORDER BY {REVISION_ID}")


def _owner_fk(owner: Versioning, link: Versioning) -> ForeignKeyInfo:
    for fk in link.foreign_keys.values():
        if fk.target == owner.name:
            return fk
    raise ConfigurationError(
        f"{link.name} has no ForeignKey to {owner.name}; a link class needs "
        f"one (e.g. {owner.name.lower()} = ForeignKey({owner.name!r}, notNone=True))",
        cls=link.cls,
    )


def _prepare(
    owner_cls: type, link_cls: type, attr_name: str, base_list_name: str,
    other_attr: str, key_attr: str | None, position_attr: str | None,
) -> LinkSpec:
    owner = versioning_of(owner_cls)
    link = versioning_of(link_cls)
    check_link_classes(owner_cls, owner, link_cls, link)
    assert owner is not None and link is not None
    if key_attr is None and other_attr not in link.foreign_keys:
        raise ConfigurationError(
            f"{link.name} has no ForeignKey {other_attr!r}; the target of a "
            f"versioned link is a ForeignKey of the link class", cls=link_cls,
        )
    for attr in (key_attr, position_attr) if key_attr is None else (
            other_attr, key_attr, position_attr):
        if attr is not None and attr not in link.attributes:
            raise ConfigurationError(f"{link.name} has no column {attr!r}", cls=link_cls)
    check_link_names_free(owner_cls, owner.links, attr_name)
    spec = LinkSpec(
        owner=owner, link=link, attr_name=attr_name, base_list_name=base_list_name,
        owner_fk=_owner_fk(owner, link), other_attr=other_attr, key_attr=key_attr,
        position_attr=position_attr,
    )
    if not hasattr(owner_cls, base_list_name):
        setattr(owner_cls, base_list_name, property(
            spec.links_of, doc=f"Every {link.name} link (active and deleted)."))
    owner.links[attr_name] = spec
    return spec


def add_stateful_versioned_m2m(
    owner_cls: type,
    link_cls: type,
    attr_name: str,
    other_attr_name: str,
    base_list_name: str,
    position_attr: str | None = None,
) -> None:
    """Give ``owner_cls`` a versioned many-to-many through ``link_cls``.

    ``link_cls`` is ``Revisioned`` and ``Stateful``, with a ``ForeignKey``
    to the owner and the ``ForeignKey`` ``other_attr_name`` to the target.
    The owner gets ``base_list_name`` (every link, unless the class already
    has that attribute), ``attr_name`` (a :class:`~vdm.collections.StatefulList`
    of active targets; assigning a list replaces it, writing only what
    differs), ``<attr_name>_active`` and ``<attr_name>_deleted`` (link
    objects).  With ``position_attr`` (an integer column of the link) the
    order is stored, so :meth:`list.insert` and reordering survive a
    reload; without it the order is the links' creation order.  Versions of
    the owner list what was active as of their revision.
    """
    spec = _prepare(owner_cls, link_cls, attr_name, base_list_name,
                    other_attr_name, None, position_attr)

    install_list_views(owner_cls, attr_name, other_attr_name, link_cls,
                       spec.links_of, lambda owner: _SOLinks(spec, owner))


def add_stateful_versioned_dict(
    owner_cls: type,
    link_cls: type,
    attr_name: str,
    key_attr: str,
    value_attr: str,
    base_list_name: str,
) -> None:
    """Give ``owner_cls`` a versioned key/value map stored in ``link_cls`` rows.

    Each key is one ``Revisioned``, ``Stateful`` row of ``link_cls``
    (columns ``key_attr`` and ``value_attr``, a ``ForeignKey`` to the
    owner); setting a key writes a version, deleting one marks its row
    deleted, assigning a dict writes only what differs, and
    ``owner.<attr_name>.history(key)`` lists the key's versions.
    """
    spec = _prepare(owner_cls, link_cls, attr_name, base_list_name,
                    value_attr, key_attr, None)

    install_dict_view(owner_cls, attr_name, link_cls, spec.links_of,
                      lambda owner: _SOKeyedLinks(spec, owner), VersionedDict)


def related_revisions(obj: Any) -> list[Revision]:
    """Revisions that changed ``obj`` or its versioned links, newest first."""
    v = versioning_of(obj)
    assert v is not None
    conn = obj._connection
    session = session_of(conn)
    if session is not None:
        session.flush()
    key = literal(conn, obj.id)
    sources = [f"SELECT {REVISION_ID} FROM {v.version_table} WHERE {v.id_name} = {key}"]
    for spec in v.links.values():
        sources.append(f"SELECT {REVISION_ID} FROM {spec.link.version_table} "
                       f"WHERE {spec.of_owner(conn, obj.id)}")
    ids = " UNION ".join(sources)
    return select_revisions(conn, f"id IN (SELECT {REVISION_ID} FROM ({ids}) ids)",
                            " ORDER BY id DESC")
