"""What a versioned link is, written once for both backends.

A versioned many-to-many (or key/value map) is an explicit link class,
itself revisioned and stateful, with a foreign key to its owner.  What that
means does not depend on the ORM, so it lives here:

* :func:`declare_links`: the checks of a declaration (both backends refuse
  the same mistakes with the same error and words), then the backend's
  :class:`LinkSpec` subclass finds the owner's foreign key and wires the
  owner's list of link rows;
* :class:`VersionedLinks`: a link's lifecycle under the list and map views
  (created active, soft-deleted by removing it, undeleted by adding it
  again, written only where it changed);
* :class:`VersionedDict`: a map that knows each key's history (each
  backend reads it with its ORM);
* :func:`link_view_as_of`: what a version's ``tags``, ``tags_active``,
  ``tags_deleted`` or map was as of its revision;
* SQL on the shared schema, run through :mod:`vdm.sql`: the link versions
  of one owner (:meth:`LinkSpec.of_owner`), a map key's versions and the
  revisions that changed an object or its links
  (:func:`related_revision_ids_sql`).  Names are written as declared; a
  backend whose dialect must quote some (SQLAlchemy, a column named
  ``key`` on MariaDB) builds the same conditions as column expressions.

A backend keeps what is its ORM's: making a link row, telling a row made
in the revision under way, reading an owner's rows and turning version
rows into version objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from vdm.collections import KeyedLinkAdapter, ReadOnlyList, StatefulDict
from vdm.errors import ConfigurationError
from vdm.linkviews import (
    AttributeLinks,
    check_link_classes,
    check_link_names_free,
    install_dict_view,
    install_list_views,
)
from vdm.naming import REVISION_ID
from vdm.states import State
from vdm.tables import versioning_record


@dataclass(eq=False)
class LinkSpec:
    """A versioned link collection (or map) of an owner class.

    Backends subclass it: their ``__post_init__`` finds the link's foreign
    key to the owner (filling :attr:`owner_columns`), refuses what their ORM
    cannot link through, and gives the owner class ``base_list_name``.
    """

    #: The owner's and the link's versioning records (``__versioning__``).
    owner: Any
    link: Any
    attr_name: str
    base_list_name: str
    #: Link attribute holding the target (m2m) or the value (maps).
    other_attr: str
    #: For maps: the link attribute holding the key.
    key_attr: str | None = None
    position_attr: str | None = None
    #: The link column(s) naming the owner, when the link has several
    #: foreign keys to the owner's table.
    owner_key: Any = None
    #: (owner key column, link column) pairs, database names, in the order
    #: of the owner's key.
    owner_columns: list[tuple[str, str]] = field(init=False, default_factory=list)

    def column_of(self, attr: str) -> str:
        """The database column name of link attribute ``attr``."""
        columns: dict[str, str] = self.link.tables_record.columns
        return columns[attr]

    def of_owner(self, key: tuple[Any, ...], alias: str = "",
                 name: str = "owner") -> tuple[str, dict[str, Any]]:
        """SQL (with its parameters, ``<name>_<i>``): the link rows or
        versions of the owner ``key``."""
        prefix = f"{alias}." if alias else ""
        values = dict(zip(self.owner.tables_record.key_columns, key, strict=True))
        params = {f"{name}_{i}": values[owner_col]
                  for i, (owner_col, _) in enumerate(self.owner_columns)}
        sql = " AND ".join(f"{prefix}{link_col} = :{name}_{i}"
                           for i, (_, link_col) in enumerate(self.owner_columns))
        return sql, params

    def key_history_sql(self, key: tuple[Any, ...], map_key: Any) -> tuple[str, dict[str, Any]]:
        """SQL condition (with parameters) on the link version table: the
        versions of map key ``map_key`` of the owner ``key``."""
        assert self.key_attr is not None
        sql, params = self.of_owner(key)
        return f"{self.column_of(self.key_attr)} = :map_key AND {sql}", {
            **params, "map_key": map_key}


S = TypeVar("S", bound=LinkSpec)


def declare_links(spec_cls: type[S], owner_cls: type, link_cls: type, attr_name: str,
                  base_list_name: str, other_attr: str, key_attr: str | None = None,
                  position_attr: str | None = None, owner_key: Any = None) -> S:
    """Check a link declaration, build its ``spec_cls`` and register it on the owner.

    Refused with :class:`~vdm.errors.ConfigurationError`: an owner or link
    class that is not versioned, a link that is not stateful, a link
    attribute the link class does not have, a collection name the owner
    already defines, then whatever the backend's spec refuses.
    """
    owner = versioning_record(owner_cls)
    link = versioning_record(link_cls)
    check_link_classes(owner_cls, owner, link_cls, link)
    for attr in (other_attr, key_attr, position_attr):
        if attr is not None and attr not in link.tables_record.columns \
                and not hasattr(link_cls, attr):
            raise ConfigurationError(f"{link_cls.__name__} has no attribute {attr!r}",
                                     cls=link_cls, field=attr)
    check_link_names_free(owner_cls, owner.links, attr_name)
    spec = spec_cls(owner=owner, link=link, attr_name=attr_name,
                    base_list_name=base_list_name, other_attr=other_attr,
                    key_attr=key_attr, position_attr=position_attr, owner_key=owner_key)
    owner.links[attr_name] = spec
    return spec


class VersionedLinks(AttributeLinks, KeyedLinkAdapter):
    """The link rows of one owner under the list and map views.

    Creating, deleting (``state``) and reordering links is the same on
    both backends; a backend's subclass says how a row is made
    (``spec.new_link``) and which rows are new in the revision under way
    (:meth:`is_new`, :meth:`discard`).
    """

    def __init__(self, spec: Any, owner: Any) -> None:
        super().__init__(spec.other_attr, spec.position_attr)
        self.spec = spec
        self.owner = owner

    def create(self, item: Any) -> Any:
        """A new, active link from the owner to ``item``."""
        return self.spec.new_link(self.owner, {self.spec.other_attr: item})

    def create_keyed(self, key: Any, value: Any) -> Any:
        """A new, active link holding ``key`` and ``value``."""
        return self.spec.new_link(
            self.owner, {self.spec.key_attr: key, self.spec.other_attr: value})

    def key_of(self, link: Any) -> Any:
        """The key of a keyed link."""
        return getattr(link, self.spec.key_attr)

    def set_value(self, link: Any, value: Any) -> None:
        """Change a keyed link's value (a versioned change of the link)."""
        setattr(link, self.spec.other_attr, value)


class VersionedDict(StatefulDict):
    """A :class:`~vdm.collections.StatefulDict` that also knows its history.

    Each backend's subclass reads the history with its ORM.
    """

    def __init__(self, links: list[Any], adapter: VersionedLinks) -> None:
        super().__init__(links, adapter)
        self._spec = adapter.spec
        self._owner = adapter.owner

    def history(self, key: Any) -> list[Any]:
        """Every version of the link of ``key``, oldest first.

        Each has ``revision`` (who set it, when), the value attribute and
        ``state`` (``deleted`` when the key was removed).
        """
        raise NotImplementedError


def install_links(spec: Any, links_of: Any, adapter_cls: type[VersionedLinks],
                  dict_cls: type[VersionedDict]) -> None:
    """Give the owner class of ``spec`` its list views (or its map, a ``dict_cls``).

    ``links_of(owner)`` reads every link row of an owner (active and
    deleted, in list order).
    """
    owner_cls, link_cls = spec.owner.cls, spec.link.cls
    if spec.key_attr is None:
        install_list_views(owner_cls, spec.attr_name, spec.other_attr, link_cls,
                           links_of, lambda owner: adapter_cls(spec, owner))
    else:
        install_dict_view(owner_cls, spec.attr_name, link_cls, links_of,
                          lambda owner: adapter_cls(spec, owner), dict_cls)


def link_view_as_of(spec: LinkSpec, name: str, what: str,
                    link_versions: Callable[[State], list[Any]],
                    targets: Callable[[], list[Any]]) -> Any:
    """A version's link view ``name`` (``tags``, ``tags_active``, ``tags_deleted``
    or a map) as of the version's revision.

    ``link_versions(state)`` reads the owner's link versions in ``state``
    then, in list order; ``targets()`` the targets of the active ones.  The
    lists are read-only (``what`` names them in the refusal); a map is a
    plain ``{key: value}``.
    """
    state = State.DELETED if name.endswith("_deleted") else State.ACTIVE
    if name.endswith(("_active", "_deleted")):
        return ReadOnlyList(link_versions(state), what)
    if spec.key_attr is not None:
        return {getattr(v, spec.key_attr): getattr(v, spec.other_attr)
                for v in link_versions(state)}
    return ReadOnlyList(targets(), what)


def related_revision_ids_sql(owner: Any, key: tuple[Any, ...],
                             specs: list[LinkSpec]) -> tuple[str, dict[str, Any]]:
    """SQL (with parameters) selecting the ids of the revisions that changed
    the object ``key`` of versioning record ``owner`` or its links ``specs``.

    One column, ``revision_id``, without duplicates.
    """
    record = owner.tables_record
    params = {f"key_{i}": value for i, value in enumerate(key)}
    where = " AND ".join(f"{col} = :key_{i}" for i, col in enumerate(record.key_columns))
    sources = [f"SELECT {REVISION_ID} FROM {record.version_table} WHERE {where}"]
    for n, spec in enumerate(specs):
        condition, more = spec.of_owner(key, name=f"link{n}")
        sources.append(f"SELECT {REVISION_ID} FROM {spec.link.tables_record.version_table} "
                       f"WHERE {condition}")
        params.update(more)
    return f"SELECT {REVISION_ID} FROM ({' UNION '.join(sources)}) ids", params
