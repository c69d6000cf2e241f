"""Reading versions, written once for both backends.

What a read of history means lives here: how a revision given as a
Revision, an id or a datetime resolves to an id (over SQL, in the
caller's transaction), which version of an object is current as of a
revision, the ordered list of an object's versions, a version's
neighbours and position, its field values, what it changed and how it
names itself in messages.

A backend's version class inherits :class:`VersionReading` and turns the
core's requests into its own objects:

* ``_vdm_read(source, seek)`` loads the versions a :class:`Seek` asks for
  (in one statement), as instances of the class;
* ``_vdm_locate(obj)`` gives the source (session or connection) and key
  tuple of a live object or of a version;
* ``_vdm_count(source, seek)`` has a default in plain SQL, which a backend
  whose keys need typed binding replaces.

A backend also says how to read the written id of its ``Revision`` class
(:func:`register_revision_type`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from vdm.difftext import diff_values, version_changeset
from vdm.errors import (
    DeletedVersionError,
    InvalidInputError,
    NotVersionedError,
    ReadOnlyError,
    RevisionNotFoundError,
)
from vdm.history import SIBLINGS
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, REVISION_TABLE
from vdm.operations import Operation
from vdm.sql import scalar, sql_of
from vdm.tables import TableRecord, versioning_record

#: Where a version keeps the revision it is read as of (its relationships
#: resolve as of it), on both backends.
AS_OF_ATTRIBUTE = "_vdm_as_of"

_REVISION_TYPES: list[tuple[type, Callable[[Any], int | None]]] = []


def register_revision_type(kind: type, written_id: Callable[[Any], int | None]) -> None:
    """Let :func:`resolve_revision` accept instances of ``kind`` (a backend's
    Revision class); ``written_id(revision)`` is its id, or None while it
    has not been written."""
    _REVISION_TYPES[:] = [(k, w) for k, w in _REVISION_TYPES if k is not kind]
    _REVISION_TYPES.append((kind, written_id))


def _revision_object_id(revision: Any) -> tuple[bool, int | None]:
    # (is a registered Revision, its written id)
    for kind, written_id in _REVISION_TYPES:
        if isinstance(revision, kind):
            return True, written_id(revision)
    return False, None


def resolve_revision(source: Any, revision: Any) -> int:
    """Turn a Revision, an id or a datetime into a revision id.

    ``source`` is a session or connection of either backend (see
    :func:`vdm.sql.sql_of`).  ``None`` means the youngest revision.  Raises
    :class:`RevisionNotFoundError` when nothing matches.
    """
    is_revision, written = _revision_object_id(revision)
    if is_revision:
        if written is None:
            raise RevisionNotFoundError(
                f"{revision!r} has not been written yet; flush or commit "
                f"its changes before reading history as of it",
                revision=revision,
            )
        # A Revision from another database may carry an id unknown here.
        return resolve_revision(source, int(written))
    sql = sql_of(source)
    if revision is None:
        youngest = scalar(sql, f"SELECT MAX(id) FROM {REVISION_TABLE}")
        if youngest is None:
            raise RevisionNotFoundError("the database has no revision yet; commit one first")
        return int(youngest)
    if isinstance(revision, dt.datetime):
        when = revision
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC).replace(tzinfo=None)
        found = scalar(sql, f"SELECT MAX(id) FROM {REVISION_TABLE} WHERE timestamp <= :when",
                       {"when": when})
        if found is None:
            raise RevisionNotFoundError(
                f"there is no revision at or before {when.isoformat()} (UTC); "
                f"the history starts later", revision=revision,
            )
        return int(found)
    if isinstance(revision, bool) or not isinstance(revision, int):
        raise InvalidInputError(
            f"a revision is a Revision, an id (int) or a datetime, "
            f"not {type(revision).__name__}"
        )
    if not sql.rows(f"SELECT id FROM {REVISION_TABLE} WHERE id = :id", {"id": revision}):
        raise RevisionNotFoundError(
            f"there is no revision with id {revision}; use an id from the "
            f"history (Repository.history())", revision=revision,
        )
    return revision


def current_as_of(rid: int, alias: str = "") -> str:
    """SQL: the rows of a version table (``alias``) that are the live data as of ``rid``.

    A version is valid from ``revision_id`` until ``expired_id``
    (exclusive), unless it records a delete.
    """
    p = f"{alias}." if alias else ""
    return (f"{p}{REVISION_ID} <= {int(rid)} AND ({p}{EXPIRED_ID} IS NULL OR "
            f"{p}{EXPIRED_ID} > {int(rid)}) AND {p}{OPERATION_TYPE} <> {int(Operation.DELETE)}")


@dataclass(frozen=True)
class Seek:
    """Which versions of one object a read wants, and in which order.

    The versions of the object with ``key`` whose ``revision_id`` stands in
    ``compare`` (``"<"``, ``">"``, ``"<="`` or None for all) to
    ``revision_id``; newest first or oldest first; at most ``limit``.  With
    ``check_revision`` nothing is found unless revision ``revision_id``
    exists (checked in the same statement).  With ``bind`` the versions are
    read as of ``revision_id`` (their relationships resolve then).
    """

    key: tuple[Any, ...]
    compare: str | None = None
    revision_id: int | None = None
    newest_first: bool = False
    limit: int | None = None
    check_revision: bool = False
    bind: bool = False

    @property
    def shape(self) -> tuple[str | None, bool, int | None, bool]:
        """What the statement looks like apart from its values (to cache it by)."""
        return self.compare, self.newest_first, self.limit, self.check_revision

    @property
    def as_of(self) -> int | None:
        """The revision the versions are read as of, or None."""
        return self.revision_id if self.bind else None

    def params(self) -> dict[str, Any]:
        """The values of :meth:`where`'s placeholders."""
        out = {f"vdm_key_{i}": value for i, value in enumerate(self.key)}
        if self.revision_id is not None:
            out["vdm_revision_id"] = self.revision_id
        return out

    def where(self, record: TableRecord) -> str:
        """SQL condition on ``record``'s version table, with ``:name`` placeholders."""
        vt = record.version_table
        terms = [f"{vt}.{c} = :vdm_key_{i}" for i, c in enumerate(record.key_columns)]
        if self.compare is not None:
            terms.append(f"{vt}.{REVISION_ID} {self.compare} :vdm_revision_id")
        if self.check_revision:
            terms.append(f"EXISTS (SELECT 1 FROM {REVISION_TABLE} WHERE id = :vdm_revision_id)")
        return " AND ".join(terms)

    def suffix(self, record: TableRecord) -> str:
        """SQL ``ORDER BY`` (and ``LIMIT``) of the read."""
        order = "DESC" if self.newest_first else "ASC"
        limit = f" LIMIT {int(self.limit)}" if self.limit is not None else ""
        return f" ORDER BY {record.version_table}.{REVISION_ID} {order}{limit}"


def as_key(key: Any) -> tuple[Any, ...]:
    """A key tuple from a tuple, or from the single value of a one-column key."""
    return key if isinstance(key, tuple) else (key,)


def require_versioning(obj: Any) -> Any:
    """The versioning record of a versioned object or class; else raises
    :class:`NotVersionedError`."""
    found = versioning_record(obj)
    if found is None:
        raise NotVersionedError.of(obj)
    return found


def version_as_of(source: Any, versioning: Any, key: Any, revision_id: int,
                  check_revision: bool = False) -> Any:
    """The version of the object with ``key`` as of ``revision_id``, or None.

    One index seek: the newest version written at or before the revision,
    unless it records a delete.  With ``check_revision`` nothing is found
    unless the revision exists.
    """
    found = versioning.version_class._vdm_read(source, Seek(
        as_key(key), "<=", revision_id, newest_first=True, limit=1,
        check_revision=check_revision, bind=True))
    if not found or found[0].operation_type == Operation.DELETE:
        return None
    return found[0]


def _plain_id(revision: Any) -> int | None:
    """The id of a revision given by id or as a written Revision, else None."""
    is_revision, written = _revision_object_id(revision)
    if is_revision:
        return written
    if isinstance(revision, int) and not isinstance(revision, bool):
        return revision
    return None


def checked_version_as_of(source: Any, versioning: Any, key: Any, revision: Any) -> Any:
    """:func:`version_as_of` for a revision given any way; one statement when
    it is an id or a written Revision (its existence is checked in the same
    statement, and again on its own only when nothing was found)."""
    rid = _plain_id(revision)
    if rid is None:
        return version_as_of(source, versioning, key, resolve_revision(source, revision))
    found = version_as_of(source, versioning, key, rid, check_revision=True)
    if found is None:
        resolve_revision(source, rid)  # raises RevisionNotFoundError if missing
    return found


def get_as_of(obj: Any, revision: Any) -> Any:
    """The version of live ``obj`` as of ``revision``, or None."""
    versioning = require_versioning(obj)
    source, key = versioning.version_class._vdm_locate(obj)
    return checked_version_as_of(source, versioning, key, revision)


def versions_of(obj: Any, newest_first: bool = False) -> list[Any]:
    """Every committed (or flushed) version of live ``obj``, oldest first
    unless ``newest_first``."""
    versioning = require_versioning(obj)
    cls = versioning.version_class
    source, key = cls._vdm_locate(obj)
    found: list[Any] = cls._vdm_read(source, Seek(key, newest_first=newest_first))
    return found


def diff_of(obj: Any, to_revision: Any = None, from_revision: Any = None) -> dict[str, str]:
    """vdm's ``diff``: ``{field: text}`` between two revisions of ``obj``.

    ``to_revision`` defaults to the youngest revision, ``from_revision`` to
    the version before the one current then.
    """
    versioning = require_versioning(obj)
    source, key = versioning.version_class._vdm_locate(obj)
    to_version = version_as_of(source, versioning, key, resolve_revision(source, to_revision))
    if from_revision is None:
        from_version = to_version.previous if to_version is not None else None
    else:
        from_version = version_as_of(source, versioning, key,
                                     resolve_revision(source, from_revision))
    old = from_version.field_values if from_version is not None else {}
    new = to_version.field_values if to_version is not None else {}
    return diff_values(old, new, list(versioning.fields))


class VersionReading:
    """Base of both backends' version classes: what a version knows of itself.

    Read-only, equal to any other read of the same version row, named in
    messages as ``Book(id=1) as of revision 3``; knows its key, values,
    neighbours, position and what it changed.
    """

    operation_type: Operation
    revision_id: int
    __versioning__: ClassVar[Any]
    #: Whether the backend's registry names an object by its one key value
    #: rather than by a key tuple.
    _vdm_scalar_key: ClassVar[bool] = False

    # -- what a backend provides ------------------------------------------

    @classmethod
    def _vdm_read(cls, source: Any, seek: Seek) -> list[Any]:
        """The versions of this class ``seek`` asks for, in one statement."""
        raise NotImplementedError

    @classmethod
    def _vdm_locate(cls, obj: Any) -> tuple[Any, tuple[Any, ...]]:
        """(source, key tuple) of ``obj``: a live object of the versioned
        class or one of its versions; the source is the session or
        connection it reads through."""
        raise NotImplementedError

    @classmethod
    def _vdm_count(cls, source: Any, seek: Seek) -> int:
        """How many versions ``seek`` finds (plain SQL; keys bound as they are)."""
        record = cls.__versioning__.tables_record
        found = scalar(sql_of(source),
                       f"SELECT COUNT(*) FROM {record.version_table} WHERE {seek.where(record)}",
                       seek.params())
        return int(found)

    # -- read-only ---------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        raise ReadOnlyError(
            f"{self._describe()} is a version and read-only; change the live "
            f"object (version.continuity) in a new revision, or call "
            f"version.revert()", obj=self,
        )

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._describe()} {self.operation_type.name.lower()}>"

    def __eq__(self, other: object) -> bool:
        # Two reads of one version row are equal, whatever they are read as
        # of (each as-of read is an instance of its own).
        if not isinstance(other, VersionReading):
            return NotImplemented
        return (type(self) is type(other) and self.object_key == other.object_key
                and self.revision_id == other.revision_id)

    def __hash__(self) -> int:
        return hash((type(self), self.object_key, self.revision_id))

    def _describe(self) -> str:
        key = self.object_key
        named = type(self).__versioning__.describe(key[0] if self._vdm_scalar_key else key)
        return f"{named} as of revision {self.revision_id}"

    # -- identity and values -------------------------------------------------

    @property
    def as_of(self) -> int:
        """The revision this version is read as of.

        Relationships resolve as of it: the revision ``get_as_of`` was asked
        for, or, for a version read any other way, its own ``revision_id``.
        """
        return int(self.__dict__.get(AS_OF_ATTRIBUTE) or self.revision_id)

    @property
    def object_key(self) -> tuple[Any, ...]:
        """The primary key of the object this is a version of, as a tuple."""
        return tuple(getattr(self, a) for a in _key_attributes(type(self).__versioning__))

    @property
    def field_values(self) -> dict[str, Any]:
        """``{field: value}`` for the object's own columns and ``state``."""
        return {f: self._vdm_field(f) for f in type(self).__versioning__.fields}

    def _vdm_field(self, name: str) -> Any:
        """The value of field ``name`` (a backend may read it from its own store)."""
        return getattr(self, name)

    # -- neighbours ----------------------------------------------------------

    def _neighbour(self, compare: str, newest_first: bool = False) -> Any:
        source, key = type(self)._vdm_locate(self)
        found = type(self)._vdm_read(source, Seek(key, compare, self.revision_id,
                                                  newest_first, limit=1))
        if not found:
            return None
        # Read every time (a later revision may have added one); a version
        # listed with this one is given back as that same object.
        siblings = self.__dict__.get(SIBLINGS) or {}
        return siblings.get(found[0].revision_id, found[0])

    @property
    def next(self) -> Any:
        """The version that followed this one, or None."""
        return self._neighbour(">")

    @property
    def previous(self) -> Any:
        """The version this one replaced, or None."""
        return self._neighbour("<", newest_first=True)

    @property
    def index(self) -> int:
        """Position in the object's history (0 for the first version)."""
        source, key = type(self)._vdm_locate(self)
        return type(self)._vdm_count(source, Seek(key, "<", self.revision_id))

    def _vdm_restore(self) -> Any:
        """Write this version's values back to the live object; return it."""
        raise NotImplementedError

    def revert(self) -> Any:
        """Make the live object look like this version again, in the session.

        Writes like any change, so it needs a revision and becomes a new
        version; a hard-deleted object is created again with its old key.
        Its versioned links come back as of :attr:`as_of` too (as with
        ``restore_object``).  Returns the live object.  A version that records a delete
        cannot be reverted to: revert the one before it.
        """
        if self.operation_type == Operation.DELETE:
            raise DeletedVersionError(
                f"{self._describe()} records a delete; revert the version "
                f"before it (version.previous.revert()) to bring the object "
                f"back", obj=self,
            )
        return self._vdm_restore()

    # -- what it changed -------------------------------------------------------

    @property
    def changeset(self) -> dict[str, list[Any]]:
        """``{field: [old, new]}`` for the fields this version changed."""
        def previous() -> tuple[Operation, dict[str, Any]] | None:
            found = self.previous
            return None if found is None else (found.operation_type, found.field_values)

        return version_changeset(self.operation_type, self.field_values, previous,
                                 list(type(self).__versioning__.fields))

    def diff(self, other: Any = None) -> dict[str, str]:
        """``{field: text}`` from ``other`` (default: the previous version) to this one."""
        if other is None:
            other = self.previous
        old = other.field_values if other is not None else {}
        return diff_values(old, self.field_values, list(type(self).__versioning__.fields))


_KEY_ATTRIBUTES: dict[int, tuple[TableRecord, tuple[str, ...]]] = {}


def _key_attributes(versioning: Any) -> tuple[str, ...]:
    # The attributes holding the key columns: a column may be mapped under
    # another attribute name.
    record: TableRecord = versioning.tables_record
    cached = _KEY_ATTRIBUTES.get(id(versioning))
    if cached is not None and cached[0] is record:
        return cached[1]
    by_column = {column: attr for attr, column in record.columns.items()}
    names = tuple(by_column.get(c, c) for c in record.key_columns)
    _KEY_ATTRIBUTES[id(versioning)] = (record, names)
    return names
