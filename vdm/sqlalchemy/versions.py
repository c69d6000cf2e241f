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

import operator
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

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

from vdm import versionreading
from vdm.errors import DetachedError, UnsupportedQueryError
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE
from vdm.operations import Operation
from vdm.restoring import restore_object
from vdm.sqlalchemy.asof import current_as_of
from vdm.sqlalchemy.asofreads import AS_OF_OPTION, relationship_as_of, scalars_as_of
from vdm.sqlalchemy.associations import related_through
from vdm.sqlalchemy.joins import join_as_of
from vdm.sqlalchemy.links import links_as_of
from vdm.sqlalchemy.registry import Versioning, versioning_of
from vdm.sqlalchemy.revision import Revision, revision_table
from vdm.states import State
from vdm.versionreading import AS_OF_ATTRIBUTE, Seek, VersionReading
from vdm.versionreading import diff_of as diff_of
from vdm.versionreading import get_as_of as get_as_of
from vdm.versionreading import versions_of as versions_of


class Version(VersionReading):
    """Base of every version class (``Class.__revision_class__``)."""

    __versioning__: ClassVar[Versioning]
    revision_id: int
    expired_id: int | None
    operation_type: Operation
    revision: Revision
    continuity: Any

    def __setattr__(self, name: str, value: Any) -> None:
        # The ORM keeps its own state on the instance; nothing else is written.
        if name.startswith("_sa_"):
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)

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

    @classmethod
    def _vdm_read(cls, source: Session, seek: Seek) -> list[Any]:
        """See :meth:`vdm.versionreading.VersionReading._vdm_read`."""
        statement = _statement(cls.__versioning__, seek, counting=False)
        if seek.as_of is not None:
            return scalars_as_of(source, statement, seek.as_of, seek.params())
        with source.no_autoflush:
            return list(source.scalars(statement, seek.params()))

    @classmethod
    def _vdm_count(cls, source: Session, seek: Seek) -> int:
        # Key values are bound with their columns' types (a Uuid key, say).
        statement = _statement(cls.__versioning__, seek, counting=True)
        return int(source.execute(statement, seek.params()).scalar_one())

    @classmethod
    def _vdm_locate(cls, obj: Any) -> tuple[Session, tuple[Any, ...]]:
        """See :meth:`vdm.versionreading.VersionReading._vdm_locate`."""
        session = object_session(obj)
        if isinstance(obj, Version):
            if session is None:
                raise DetachedError(
                    f"{obj._describe()} is not in a session; read history "
                    f"through a session", obj=obj,
                )
            return session, obj.object_key
        if session is None:
            raise DetachedError(
                f"{obj!r} is not in a session; add it to one (or load it "
                f"through one) to read its history", obj=obj,
            )
        return session, cls.__versioning__.key_of(obj)

    def _vdm_restore(self) -> Any:
        # The links come back as of the revision the version is read as of;
        # nothing is flushed: the session orders the re-created objects.
        return restore_object(type(self)._vdm_locate(self)[0], self, self.as_of)


#: The core's reads, typed with this backend's version class.
version_as_of: Callable[..., Version | None] = versionreading.version_as_of


#: Where a version keeps the revision it is read as of; also the execution
#: option naming it for the versions a statement loads.
_AS_OF = AS_OF_ATTRIBUTE


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


_STATEMENTS: weakref.WeakKeyDictionary[Any, dict[Any, Select[Any]]] = weakref.WeakKeyDictionary()
_COMPARE = {"<": operator.lt, ">": operator.gt, "<=": operator.le}


def _statement(versioning: Versioning, seek: Seek, counting: bool) -> Select[Any]:
    """The statement of a :class:`Seek` of this shape, built once per class.

    The key and the revision are bound parameters typed as their columns,
    so each read only binds values: no statement is built and no cache key
    computed per read.
    """
    by_shape = _STATEMENTS.setdefault(versioning.mapper, {})
    found = by_shape.get((seek.shape, counting))
    if found is None:
        cls = versioning.version_class
        vt = versioning.version_table
        col = getattr(cls, REVISION_ID)
        terms = [vt.c[n] == bindparam(f"vdm_key_{i}", type_=vt.c[n].type)
                 for i, n in enumerate(versioning.key_names)]
        revision_id = bindparam("vdm_revision_id", type_=col.type)
        if seek.compare is not None:
            terms.append(_COMPARE[seek.compare](col, revision_id))
        if counting:
            found = select(func.count()).select_from(cls).where(*terms)
        else:
            found = select(cls).where(*terms).order_by(col.desc() if seek.newest_first else col)
            if seek.limit is not None:
                found = found.limit(seek.limit)
        if seek.check_revision:
            found = found.where(
                select(revision_table.c.id).where(revision_table.c.id == revision_id).exists())
        by_shape[(seek.shape, counting)] = found
    return found


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
    return relationship_as_of(session, query, revision_id, prop)


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
