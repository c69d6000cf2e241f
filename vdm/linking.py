"""What a versioned link is, written once for both backends.

A versioned many-to-many (or key/value map) is an explicit link class,
itself revisioned and stateful, with a foreign key to its owner.  What that
means does not depend on the ORM, so it lives here:

* :func:`add_stateful_versioned_m2m` and :func:`add_stateful_versioned_dict`
  (each backend's package exports them) and :func:`declare_links`: the
  checks of a declaration (both backends refuse the same mistakes with the
  same error and words, :func:`choose_owner_foreign_key` among them), then
  the backend's :class:`LinkSpec` subclass finds the owner's foreign key
  and wires the owner's list of link rows;
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
rows into version objects.  It lends them as a :class:`LinkBackend`,
registered for its versioning record class with :func:`register_link_backend`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
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


def as_written(name: str) -> str:
    """A name in SQL as declared (SQLObject writes its names unquoted)."""
    return name


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
    #: What the backend lends the link (see :class:`LinkBackend`).
    backend: Any = None
    #: (owner key column, link column) pairs, database names, in the order
    #: of the owner's key.
    owner_columns: list[tuple[str, str]] = field(init=False, default_factory=list)

    def column_of(self, attr: str) -> str:
        """The database column name of link attribute ``attr``."""
        columns: dict[str, str] = self.link.tables_record.columns
        return columns[attr]

    def of_owner(self, key: tuple[Any, ...], alias: str = "", name: str = "owner",
                 quote: Callable[[str], str] = as_written) -> tuple[str, dict[str, Any]]:
        """SQL (with its parameters, ``<name>_<i>``): the link rows or
        versions of the owner ``key``; ``quote`` writes a column's name."""
        prefix = f"{alias}." if alias else ""
        values = dict(zip(self.owner.tables_record.key_columns, key, strict=True))
        params = {f"{name}_{i}": values[owner_col]
                  for i, (owner_col, _) in enumerate(self.owner_columns)}
        sql = " AND ".join(f"{prefix}{quote(link_col)} = :{name}_{i}"
                           for i, (_, link_col) in enumerate(self.owner_columns))
        return sql, params

    def key_history_sql(self, key: tuple[Any, ...], map_key: Any) -> tuple[str, dict[str, Any]]:
        """SQL condition (with parameters) on the link version table: the
        versions of map key ``map_key`` of the owner ``key``."""
        assert self.key_attr is not None
        sql, params = self.of_owner(key)
        return f"{self.column_of(self.key_attr)} = :map_key AND {sql}", {
            **params, "map_key": map_key}


T = TypeVar("T")


@dataclass(frozen=True)
class LinkBackend:
    """What a backend lends the versioned links of its classes: its ORM's parts."""

    #: The backend's :class:`LinkSpec` subclass.
    spec_cls: type[LinkSpec]
    #: ``(spec, owner)``: every link row of an owner (active and deleted),
    #: in list order.
    read_links: Callable[[Any, Any], list[Any]]
    #: ``(spec, owner, key)``: the versions of a map key's link, oldest first.
    read_key_history: Callable[[Any, Any, Any], list[Any]]
    #: The class of the maps (the backend's :class:`VersionedDict`, under its name).
    dict_cls: type[VersionedDict]
    #: ``(spec, owner, values)``: a new, active link row of an owner, with
    #: ``values`` (the target, or a map's key and value) by link attribute.
    make_link: Callable[[Any, Any, dict[str, Any]], Any]
    #: ``(spec, link)``: whether a link row was made in the revision under
    #: way, so that removing it leaves no trace.
    link_is_new: Callable[[Any, Any], bool]
    #: ``(link)``: forget such a row.
    forget_link: Callable[[Any], None]
    #: The adapter of one owner's rows (:class:`VersionedLinks`, or a
    #: subclass telling targets apart the ORM's way); a factory, since the
    #: class is defined further down this module.
    adapter_cls: type[VersionedLinks] = field(default_factory=lambda: VersionedLinks)


#: Each backend's :class:`LinkBackend`, by its versioning record class.
_link_backends: dict[type, LinkBackend] = {}


def register_link_backend(record_cls: type, backend: LinkBackend) -> None:
    """Declare that the links of classes whose record is a ``record_cls`` use ``backend``."""
    _link_backends[record_cls] = backend


def link_backend_of(record: Any) -> LinkBackend | None:
    """The :class:`LinkBackend` of versioning record ``record``'s backend, else None."""
    for cls in type(record).__mro__:
        if cls in _link_backends:
            return _link_backends[cls]
    return None


def choose_owner_foreign_key(
    owner: Any, link: Any, owner_key: str | Sequence[str] | None,
    candidates: Sequence[tuple[Sequence[str], Collection[Collection[str]], T]],
    example: str,
) -> T:
    """The link's foreign key to its owner, among ``candidates``.

    Each candidate is (its column names as messages show them, the sets of
    names that designate it, what the backend keeps of it).  ``owner_key``
    names the link's column(s) holding the owner's key, by column or
    attribute name; it must designate one candidate, and is needed only
    when there are several (a paper citing papers): an ambiguous link is
    refused rather than guessed.  A link with none is refused, with
    ``example`` (the backend's declaration of one) as the advice.
    """
    table = owner.tables_record.table
    choices = ", ".join(repr(",".join(shown)) for shown, _, _ in candidates)
    if owner_key is not None:
        names = [owner_key] if isinstance(owner_key, str) else list(owner_key)
        wanted = {link.fields.get(name, name) for name in names}
        for _, accepted, found in candidates:
            if any(wanted == set(names_of) for names_of in accepted):
                return found
        raise ConfigurationError(
            f"{link.name}: owner_key={owner_key!r} is not a foreign key to "
            f"{owner.name}'s table {table!r}; name the link column(s) "
            f"holding the owner's key (one of {choices or 'none'})",
            cls=link.cls,
        )
    if not candidates:
        raise ConfigurationError(
            f"{link.name} has no foreign key to {owner.name}'s table {table!r}; a "
            f"link class needs one (e.g. {example})",
            cls=link.cls,
        )
    if len(candidates) == 1:
        return candidates[0][2]
    raise ConfigurationError(
        f"{link.name} has {len(candidates)} foreign keys to {owner.name}'s table "
        f"{table!r} ({choices}); say which one holds the owner with "
        f"owner_key=..., e.g. owner_key={candidates[0][0][0]!r}",
        cls=link.cls,
    )


def declare_links(owner_cls: type, link_cls: type, attr_name: str,
                  base_list_name: str, other_attr: str, key_attr: str | None = None,
                  position_attr: str | None = None, owner_key: Any = None) -> LinkSpec:
    """Check a link declaration, build its backend's spec and register it on the owner.

    Refused with :class:`~vdm.errors.ConfigurationError`: an owner or link
    class that is not versioned, a link that is not stateful, a link
    attribute the link class does not have, a collection name the owner
    already defines, then whatever the backend's spec refuses.
    """
    owner = versioning_record(owner_cls)
    link = versioning_record(link_cls)
    check_link_classes(owner_cls, owner, link_cls, link)
    backend = link_backend_of(owner)
    if backend is None or link_backend_of(link) is not backend:
        raise ConfigurationError(
            f"{link_cls.__name__} and {owner_cls.__name__} are not versioned by the "
            f"same backend; a versioned link joins classes of one backend", cls=link_cls)
    for attr in (other_attr, key_attr, position_attr):
        if attr is not None and attr not in link.tables_record.columns \
                and not hasattr(link_cls, attr):
            raise ConfigurationError(f"{link_cls.__name__} has no attribute {attr!r}",
                                     cls=link_cls, field=attr)
    check_link_names_free(owner_cls, owner.links, attr_name)
    spec = backend.spec_cls(owner=owner, link=link, attr_name=attr_name,
                            base_list_name=base_list_name, other_attr=other_attr,
                            key_attr=key_attr, position_attr=position_attr,
                            owner_key=owner_key, backend=backend)
    owner.links[attr_name] = spec
    return spec


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

    ``link_cls`` is revisioned and stateful (the ``Revisioned`` and
    ``Stateful`` mixins), has a foreign key to the owner and a many-to-one
    ``other_attr_name`` to the target (with SQLObject, a ``ForeignKey``).
    The owner gets ``base_list_name`` (every link, active and deleted;
    created unless the class already has that attribute), ``attr_name`` (a
    :class:`~vdm.collections.StatefulList` of active targets; assigning a
    list replaces it, writing only what differs), ``<attr_name>_active``
    and ``<attr_name>_deleted`` (link objects).  With ``position_attr`` (an
    integer column of the link) the links' order is stored, so
    :meth:`list.insert` and reordering survive a reload; without it the
    order is the links' creation order.  Versions of the owner list what
    was active as of their revision.

    ``owner_key`` names the link's column (or columns) holding the owner's
    key; it is needed only when the link has more than one foreign key to
    the owner's table (a paper referencing papers), which is refused
    without it.
    """
    spec = declare_links(owner_cls, link_cls, attr_name, base_list_name,
                         other_attr_name, None, position_attr, owner_key)
    _install_links(spec)


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

    Each key is one revisioned, stateful row of ``link_cls`` (columns
    ``key_attr`` and ``value_attr``, a foreign key to the owner); setting a
    key writes a version, deleting one marks its row deleted, assigning a
    dict writes only what differs, and ``owner.<attr_name>.history(key)``
    lists the key's versions.  ``owner_key`` is as for
    :func:`add_stateful_versioned_m2m`.
    """
    spec = declare_links(owner_cls, link_cls, attr_name, base_list_name,
                         value_attr, key_attr, owner_key=owner_key)
    _install_links(spec)


class VersionedLinks(AttributeLinks, KeyedLinkAdapter):
    """The link rows of one owner under the list and map views.

    Creating, deleting (``state``) and reordering links is the same on
    both backends; the spec's :class:`LinkBackend` says how a row is made
    and which rows are new in the revision under way.
    """

    def __init__(self, spec: Any, owner: Any) -> None:
        super().__init__(spec.other_attr, spec.position_attr)
        self.spec = spec
        self.owner = owner

    def create(self, item: Any) -> Any:
        """A new, active link from the owner to ``item``."""
        return self.spec.backend.make_link(self.spec, self.owner, {self.spec.other_attr: item})

    def create_keyed(self, key: Any, value: Any) -> Any:
        """A new, active link holding ``key`` and ``value``."""
        return self.spec.backend.make_link(
            self.spec, self.owner, {self.spec.key_attr: key, self.spec.other_attr: value})

    def is_new(self, link: Any) -> bool:
        """True when ``link`` was made in the revision under way."""
        return bool(self.spec.backend.link_is_new(self.spec, link))

    def discard(self, link: Any) -> None:
        """Forget a link made in the revision under way: it leaves no trace."""
        self.spec.backend.forget_link(link)

    def key_of(self, link: Any) -> Any:
        """The key of a keyed link."""
        return getattr(link, self.spec.key_attr)

    def set_value(self, link: Any, value: Any) -> None:
        """Change a keyed link's value (a versioned change of the link)."""
        setattr(link, self.spec.other_attr, value)


class VersionedDict(StatefulDict):
    """A :class:`~vdm.collections.StatefulDict` that also knows its history."""

    def __init__(self, links: list[Any], adapter: VersionedLinks) -> None:
        super().__init__(links, adapter)
        self._spec = adapter.spec
        self._owner = adapter.owner

    def history(self, key: Any) -> list[Any]:
        """Every version of the link of ``key``, oldest first.

        Each has ``revision`` (who set it, when), the value attribute and
        ``state`` (``deleted`` when the key was removed).
        """
        versions: list[Any] = self._spec.backend.read_key_history(self._spec, self._owner, key)
        return versions


def _install_links(spec: LinkSpec) -> None:
    """Give the owner class of ``spec`` its list views (or its map)."""
    owner_cls, link_cls = spec.owner.cls, spec.link.cls
    backend: LinkBackend = spec.backend

    def links_of(owner: Any) -> list[Any]:
        return backend.read_links(spec, owner)

    def adapter(owner: Any) -> VersionedLinks:
        return backend.adapter_cls(spec, owner)

    if spec.key_attr is None:
        install_list_views(owner_cls, spec.attr_name, spec.other_attr, link_cls,
                           links_of, adapter)
    else:
        install_dict_view(owner_cls, spec.attr_name, link_cls, links_of, adapter,
                          backend.dict_cls)


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


def related_revision_ids_sql(owner: Any, key: tuple[Any, ...], specs: list[LinkSpec],
                             quote: Callable[[str], str] = as_written,
                             ) -> tuple[str, dict[str, Any]]:
    """SQL (with parameters) selecting the ids of the revisions that changed
    the object ``key`` of versioning record ``owner`` or its links ``specs``.

    One column, ``revision_id``, without duplicates.  ``quote`` writes each
    name as the backend's own SQL does (a dialect quoting reserved words);
    a table in a schema is named with it.
    """
    record = owner.tables_record
    params = {f"key_{i}": value for i, value in enumerate(key)}
    where = " AND ".join(f"{quote(col)} = :key_{i}"
                         for i, col in enumerate(record.key_columns))
    rid = quote(REVISION_ID)
    sources = [f"SELECT {rid} FROM {_version_table(record, quote)} WHERE {where}"]
    for n, spec in enumerate(specs):
        condition, more = spec.of_owner(key, name=f"link{n}", quote=quote)
        sources.append(f"SELECT {rid} FROM {_version_table(spec.link.tables_record, quote)} "
                       f"WHERE {condition}")
        params.update(more)
    return f"SELECT {rid} FROM ({' UNION '.join(sources)}) ids", params


def _version_table(record: Any, quote: Callable[[str], str]) -> str:
    name = quote(record.version_table)
    return name if record.schema is None else f"{quote(record.schema)}.{name}"
