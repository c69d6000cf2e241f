"""Versions: read-only rows of ``<table>_revision`` and history reads.

A version holds the full values of one object as written by one revision.
It is read-only, knows its neighbours (``previous``, ``next``, ``index``),
what it changed (``changeset``), and resolves relationships *as of its
revision*: a many-to-one follows the foreign key stored in the version, a
versioned target comes back as its version at that revision, and a
collection lists what was active then::

    old = book.get_as_of(first_revision)
    old.title                 # the title as of that revision
    old.changeset             # {"title": [None, "War and Peacee"], ...}
    old.next.title            # the following version
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Select, and_, bindparam, event, func, select
from sqlalchemy.orm import (
    RelationshipDirection,
    RelationshipProperty,
    Session,
    foreign,
    object_session,
    relationship,
)
from sqlalchemy.orm import attributes as orm_attributes

from vdm.difftext import diff_values
from vdm.errors import (
    DeletedVersionError,
    DetachedError,
    NotVersionedError,
    ReadOnlyError,
    UnsupportedQueryError,
)
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE
from vdm.operations import Operation
from vdm.sqlalchemy.asof import RevisionRef, current_as_of, resolve_revision
from vdm.sqlalchemy.asofreads import AS_OF_OPTION, scalars_as_of
from vdm.sqlalchemy.associations import related_through
from vdm.sqlalchemy.joins import join_as_of
from vdm.sqlalchemy.links import links_as_of
from vdm.sqlalchemy.registry import Key, Versioning, key_equals, versioning_of
from vdm.sqlalchemy.restore import restore_object
from vdm.sqlalchemy.revision import Revision, revision_table
from vdm.states import State
from vdm.versionreading import VersionReading

if TYPE_CHECKING:
    pass


class Version(VersionReading):
    """Base of every version class (``Class.__revision_class__``)."""

    __versioning__: ClassVar[Versioning]
    revision_id: int
    expired_id: int | None
    operation_type: Operation
    revision: Revision
    continuity: Any

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_sa_"):
            object.__setattr__(self, name, value)
            return
        raise ReadOnlyError(
            f"{self._describe()} is a version and read-only; change the live "
            f"object (version.continuity) in a new revision, or call "
            f"version.revert()",
            obj=self,
        )

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self._describe()} "
                f"{self.operation_type.name.lower()}>")

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not columns: relationships of the
        # live class resolve as of this version's revision.
        if name.startswith("_"):
            raise AttributeError(name)
        versioning = type(self).__versioning__
        spec = versioning.all_links.get(name.removesuffix("_active").removesuffix("_deleted"))
        if spec is not None:
            return links_as_of(self, spec, name, self.as_of)
        prop = versioning.mapper.relationships.get(name)
        if prop is None:
            raise AttributeError(
                f"{type(self).__name__} has no attribute {name!r}"
            )
        return related_as_of(self, prop, self.as_of)

    @property
    def as_of(self) -> int:
        """The revision this version is read as of.

        Relationships resolve as of it: the revision ``get_as_of`` was asked
        for, or, for a version read any other way, its own ``revision_id``.
        """
        return int(self.__dict__.get(_AS_OF) or self.revision_id)

    def __eq__(self, other: object) -> bool:
        # Two reads of one version row are equal, whatever they are read as
        # of (each as-of read is an instance of its own).
        if not isinstance(other, Version):
            return NotImplemented
        return (type(self) is type(other) and self.object_key == other.object_key
                and self.revision_id == other.revision_id)

    def __hash__(self) -> int:
        return hash((type(self), self.object_key, self.revision_id))

    def _bound_as_of(self, revision_id: int, session: Session | None = None) -> Version:
        """This version as an instance of its own, read as of ``revision_id``.

        The session's identity map holds one instance per version row; an
        as-of read must never hand out an instance another read holds, or
        the later read would change what the earlier one's relationships
        answer.  A version this very read loaded (see :func:`scalars_as_of`)
        is simply taken out of the identity map: no copy, no cost.  One the
        session already held is copied.  Either way the instance stays
        persistent in the session for lazy loads (``revision``,
        ``continuity``) without being in its identity map.
        """
        state = orm_attributes.instance_state(self)
        if self.__dict__.get(_AS_OF) == revision_id:
            if session is None:
                session = state.session
            if (session is not None and state.key is not None
                    and session.identity_map.get(state.key) is self):
                session.identity_map.safe_discard(state)
                return self
        mapper = state.mapper
        copy = mapper.class_manager.new_instance()
        loaded = state.dict
        copy.__dict__.update({key: loaded[key] if key in loaded else getattr(self, key)
                              for key in _column_keys(mapper)})
        copy.__dict__[_AS_OF] = revision_id
        copy_state = orm_attributes.instance_state(copy)
        copy_state.key = state.key
        copy_state.session_id = state.session_id
        return copy

    def _describe(self) -> str:
        v = type(self).__versioning__
        return f"{v.describe(self.object_key)} as of revision {self.revision_id}"

    @property
    def object_key(self) -> Key:
        """The primary key of the object this is a version of."""
        v = type(self).__versioning__
        keys = [_attr_key(v, n) for n in v.key_names]
        loaded = self.__dict__
        # A version expired by a commit loads its key again.
        return tuple(loaded[k] if k in loaded else getattr(self, k) for k in keys)

    @property
    def field_values(self) -> dict[str, Any]:
        """``{field: value}`` for the object's own columns and ``state``."""
        v = type(self).__versioning__
        return {f: getattr(self, f) for f in v.fields}

    def _session(self) -> Session:
        session = object_session(self)
        if session is None:
            raise DetachedError(
                f"{self._describe()} is not in a session; read history "
                f"through a session", obj=self,
            )
        return session

    def _neighbour(self, later: bool) -> Version | None:
        cls = type(self)
        col = getattr(cls, REVISION_ID)
        cond = col > self.revision_id if later else col < self.revision_id
        query = (
            select(cls).where(_version_key_clause(cls, self.object_key), cond)
            .order_by(col if later else col.desc()).limit(1)
        )
        with self._session().no_autoflush:
            return self._session().scalars(query).first()

    @property
    def next(self) -> Version | None:
        """The version that followed this one, or None."""
        return self._neighbour(later=True)

    @property
    def previous(self) -> Version | None:
        """The version this one replaced, or None."""
        return self._neighbour(later=False)

    @property
    def index(self) -> int:
        """Position in the object's history (0 for the first version)."""
        cls = type(self)
        query = select(func.count()).select_from(cls).where(
            _version_key_clause(cls, self.object_key),
            getattr(cls, REVISION_ID) < self.revision_id,
        )
        return int(self._session().execute(query).scalar_one())

    def revert(self) -> Any:
        """Make the live object and its versioned links look like this version again.

        The links come back as they were as of :attr:`as_of`.  Writes
        through the session like any change, so it needs a revision and
        becomes a new version; a hard-deleted object is re-created.  Nothing
        is flushed on the way: the session writes the re-created objects in
        the order their foreign keys need.  Returns the live object.
        """
        if self.operation_type == Operation.DELETE:
            raise DeletedVersionError(
                f"{self._describe()} records a delete; revert the version "
                f"before it (version.previous.revert()) to bring the object "
                f"back", obj=self,
            )
        return restore_object(self._session(), self, self.as_of)


#: Where a version keeps the revision it is read as of; also the execution
#: option naming it for the versions a statement loads.
_AS_OF = "_vdm_as_of"


@event.listens_for(Version, "load", propagate=True)
def _on_load(version: Version, context: Any) -> None:
    _as_operation(version)
    # A version created by a statement run with the as-of option belongs to
    # that read alone (see Version._bound_as_of).
    revision_id = context.execution_options.get(AS_OF_OPTION)
    if revision_id is not None:
        version.__dict__[_AS_OF] = revision_id


_COLUMN_KEYS: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()


def _column_keys(mapper: Any) -> list[str]:
    keys = _COLUMN_KEYS.get(mapper)
    if keys is None:
        keys = _COLUMN_KEYS[mapper] = [prop.key for prop in mapper.column_attrs]
    return keys


@event.listens_for(Version, "refresh", propagate=True)
def _operation_on_refresh(version: Version, context: Any, attrs: Any) -> None:
    _as_operation(version)


def _as_operation(version: Version) -> None:
    # ``operation_type`` is a plain Integer column (so that Alembic writes
    # it into migrations on its own); a version answers a vdm.Operation.
    value = version.__dict__.get(OPERATION_TYPE)
    if value is not None and type(value) is not Operation:
        version.__dict__[OPERATION_TYPE] = Operation(value)


def _attr_key(versioning: Versioning, column_name: str) -> str:
    for key, name in versioning.fields.items():
        if name == column_name:
            return key
    return column_name


def _version_key_clause(cls: type[Version], key: Key) -> Any:
    v = cls.__versioning__
    return key_equals([v.version_table.c[n] for n in v.key_names], key)


def version_properties(versioning: Versioning, version_cls: type) -> dict[str, Any]:
    """The mapper properties of a version class."""
    vt = versioning.version_table
    props: dict[str, Any] = {}
    for key, name in versioning.fields.items():
        props[key] = vt.c[name]
    # Every version table has ``state``; a version of a class that is not
    # Stateful still shows it, though it is no field of the class.
    if STATE not in versioning.fields.values():
        props.setdefault(STATE, vt.c[STATE])
    props[REVISION_ID] = vt.c[REVISION_ID]
    props[EXPIRED_ID] = vt.c[EXPIRED_ID]
    props[OPERATION_TYPE] = vt.c[OPERATION_TYPE]
    props["revision"] = relationship(
        Revision,
        primaryjoin=lambda: foreign(vt.c[REVISION_ID]) == revision_table.c.id,
        viewonly=True,
        lazy="select",
    )
    live = versioning.table
    props["continuity"] = relationship(
        versioning.cls,
        primaryjoin=and_(*(foreign(vt.c[n]) == live.c[n] for n in versioning.key_names)),
        viewonly=True,
        lazy="select",
        uselist=False,
    )
    return props


def select_as_of(versioning: Versioning, revision_id: int) -> Select[Any]:
    """``SELECT`` of every version of the class current as of the revision."""
    return select(versioning.version_class).where(
        current_as_of(versioning.version_table, revision_id)
    )


def get_as_of(obj: Any, revision: RevisionRef) -> Version | None:
    """The version of live ``obj`` as of ``revision``, or None."""
    versioning = _versioning(obj)
    session = _session_of(obj)
    key = versioning.key_of(obj)
    with session.no_autoflush:
        if isinstance(revision, Revision) and revision.__dict__.get("id") is not None:
            revision = int(revision.__dict__["id"])
        if isinstance(revision, int) and not isinstance(revision, bool):
            # One round trip: the revision's existence is checked in the
            # same query, and again on its own only when nothing was found.
            found = version_as_of(session, versioning, key, revision, check_revision=True)
            if found is None:
                resolve_revision(session, revision)
            return found
        revision_id = resolve_revision(session, revision)
        return version_as_of(session, versioning, key, revision_id)


def version_as_of(
    session: Session, versioning: Versioning, key: Key, revision_id: int,
    check_revision: bool = False,
) -> Version | None:
    """The version of the object with ``key`` as of ``revision_id``.

    With ``check_revision`` nothing is found unless the revision exists.
    """
    query = _seek_statement(versioning, check_revision)
    params = {f"vdm_key_{i}": value for i, value in enumerate(key)}
    params["vdm_revision_id"] = revision_id
    found: list[Version] = scalars_as_of(session, query, revision_id, params)
    if not found or found[0].operation_type == Operation.DELETE:
        return None
    return found[0]


_SEEKS: weakref.WeakKeyDictionary[Any, dict[bool, Select[Any]]] = weakref.WeakKeyDictionary()


def _seek_statement(versioning: Versioning, check_revision: bool) -> Select[Any]:
    """The backward index seek of :func:`version_as_of`, built once per class.

    The key and the revision are bound parameters, so each read only binds
    values: no statement is built and no cache key computed per read.
    """
    seeks = _SEEKS.setdefault(versioning.mapper, {})
    found = seeks.get(check_revision)
    if found is None:
        cls = versioning.version_class
        vt = versioning.version_table
        col = getattr(cls, REVISION_ID)
        revision_id = bindparam("vdm_revision_id", type_=col.type)
        found = (
            select(cls)
            .where(*(vt.c[n] == bindparam(f"vdm_key_{i}", type_=vt.c[n].type)
                     for i, n in enumerate(versioning.key_names)),
                   col <= revision_id)
            .order_by(col.desc())
            .limit(1)
        )
        if check_revision:
            found = found.where(
                select(revision_table.c.id).where(revision_table.c.id == revision_id).exists())
        seeks[check_revision] = found
    return found


def versions_of(obj: Any, newest_first: bool = False) -> list[Version]:
    """Every committed (or flushed) version of live ``obj``."""
    versioning = _versioning(obj)
    session = _session_of(obj)
    cls = versioning.version_class
    col = getattr(cls, REVISION_ID)
    query = select(cls).where(
        _version_key_clause(cls, versioning.key_of(obj))
    ).order_by(col.desc() if newest_first else col)
    with session.no_autoflush:
        return list(session.scalars(query))


def diff_of(
    obj: Any,
    to_revision: RevisionRef | None = None,
    from_revision: RevisionRef | None = None,
) -> dict[str, str]:
    """vdm's ``diff``: ``{field: text}`` between two revisions of ``obj``.

    ``to_revision`` defaults to the latest version, ``from_revision`` to
    the version before it.
    """
    versioning = _versioning(obj)
    session = _session_of(obj)
    key = versioning.key_of(obj)
    with session.no_autoflush:
        to_id = resolve_revision(session, to_revision)
        to_version = version_as_of(session, versioning, key, to_id)
        if from_revision is None:
            from_version = to_version.previous if to_version is not None else None
        else:
            from_id = resolve_revision(session, from_revision)
            from_version = version_as_of(session, versioning, key, from_id)
    old = from_version.field_values if from_version is not None else {}
    new = to_version.field_values if to_version is not None else {}
    return diff_values(old, new, list(versioning.fields))


def related_as_of(version: Any, prop: RelationshipProperty[Any], revision_id: int) -> Any:
    """Relationship ``prop`` of a version's object, as of ``revision_id``."""
    session = object_session(version)
    if session is None:
        raise DetachedError(f"{version!r} is not in a session", obj=version)
    if prop.secondary is not None:
        return related_through(version, prop, revision_id)
    target_versioning = versioning_of(prop.mapper.class_)
    if prop.direction is RelationshipDirection.MANYTOONE and any(
            _column_value(version, local) is None for local, _ in prop.local_remote_pairs or []):
        return None
    conditions = [join_as_of(prop, type(version).__versioning__, target_versioning,
                             lambda column: _column_value(version, column))]
    query: Select[Any]
    if target_versioning is not None:
        query = select_as_of(target_versioning, revision_id).where(*conditions)
        if target_versioning.stateful and prop.direction is not RelationshipDirection.MANYTOONE:
            query = query.where(
                target_versioning.version_table.c[STATE] == State.ACTIVE
            )
    else:
        query = select(prop.mapper.class_).where(*conditions)
    if prop.order_by:
        query = query.order_by(*_order_by_for(prop, target_versioning))
    if prop.lazy in ("dynamic", "write_only"):
        return query
    rows = scalars_as_of(session, query, revision_id)
    if prop.uselist:
        return rows
    return rows[0] if rows else None


def _order_by_for(prop: RelationshipProperty[Any], versioning: Versioning | None) -> list[Any]:
    if versioning is None:
        return list(prop.order_by or ())
    # Ordering columns of the live table become those of the version table.
    columns = versioning.version_table.c
    out = []
    for clause in prop.order_by or ():
        name = getattr(clause, "key", None)
        same_table = getattr(clause, "table", None) is versioning.table
        out.append(columns[name] if same_table and isinstance(name, str) and name in columns
                   else clause)
    return out


def _column_value(version: Any, column: Any) -> Any:
    versioning: Versioning = type(version).__versioning__
    if column.table not in versioning.tables:
        raise UnsupportedQueryError(
            f"{type(version).__name__} cannot follow a relationship through "
            f"{column}; only foreign keys stored in the versioned table can be "
            f"resolved as of a revision", obj=version,
        )
    key = versioning.mapper.get_property_by_column(column).key
    return version.__dict__[key] if key in version.__dict__ else getattr(version, key, None)


def _versioning(obj: Any) -> Versioning:
    versioning = versioning_of(obj)
    if versioning is None:
        raise NotVersionedError.of(obj)
    return versioning


def _session_of(obj: Any) -> Session:
    session = object_session(obj)
    if session is None:
        raise DetachedError(
            f"{obj!r} is not in a session; add it to one (or load it "
            f"through one) to read its history", obj=obj,
        )
    return session
