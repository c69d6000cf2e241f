"""Versions: read-only rows of ``<table>_revision`` and history reads.

A version holds the full values of one object as written by one revision.
Versions are plain Python objects, not SQLObject instances (SQLObject's
cache keeps one instance per id, and a version is an id *and* a revision);
they are read with plain SQL, so the version tables keep the shared schema.

A version is read-only, knows its neighbours (``previous``, ``next``,
``index``), what it changed (``changeset``), and resolves relationships
*as of its revision*: a ``ForeignKey`` follows the key stored in the
version, a versioned target comes back as its version then, a
``MultipleJoin`` lists the targets active then (a ``SingleJoin`` gives the
one target then, or None)::

    old = book.get_as_of(first_revision)
    old.title                 # the title as of that revision
    old.license               # the License version as of that revision
    old.changeset             # {"title": [None, "War and Peacee"], ...}
"""

from __future__ import annotations

import datetime as dt
import types
from typing import Any, ClassVar

from sqlobject import joins
from sqlobject.classregistry import findClass

from vdm.difftext import diff_values
from vdm.errors import (
    DeletedVersionError,
    InvalidInputError,
    NotVersionedError,
    ReadOnlyError,
    RevisionNotFoundError,
)
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, REVISION_TABLE, STATE
from vdm.operations import Operation
from vdm.sqlobject._compat import sqlobject
from vdm.sqlobject.dialect import literal
from vdm.sqlobject.registry import Versioning, versioning_of
from vdm.sqlobject.revision import Revision, select_revisions
from vdm.sqlobject.session import session_of
from vdm.states import State
from vdm.versionreading import VersionReading

RevisionRef = Revision | int | dt.datetime


def resolve_revision(conn: Any, revision: RevisionRef | None) -> int:
    """Turn a :class:`Revision`, an id or a datetime into a revision id.

    ``None`` means the youngest revision.  Raises
    :class:`vdm.RevisionNotFoundError` when nothing matches.
    """
    if isinstance(revision, Revision):
        if revision.id is None:
            raise RevisionNotFoundError(
                f"{revision!r} has not been written yet; commit its changes "
                f"before reading history as of it", revision=revision,
            )
        # A Revision from another database may carry an id unknown here.
        return resolve_revision(conn, int(revision.id))
    if revision is None:
        row = conn.queryOne(f"SELECT MAX(id) FROM {REVISION_TABLE}")
        if row is None or row[0] is None:
            raise RevisionNotFoundError("the database has no revision yet; commit one first")
        return int(row[0])
    if isinstance(revision, dt.datetime):
        when = revision
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC).replace(tzinfo=None)
        row = conn.queryOne(
            f"SELECT MAX(id) FROM {REVISION_TABLE} WHERE timestamp <= {literal(conn, when)}"
        )
        if row is None or row[0] is None:
            raise RevisionNotFoundError(
                f"there is no revision at or before {when.isoformat()} (UTC); "
                f"the history starts later", revision=revision,
            )
        return int(row[0])
    if isinstance(revision, bool) or not isinstance(revision, int):
        raise InvalidInputError(
            f"a revision is a Revision, an id (int) or a datetime, "
            f"not {type(revision).__name__}"
        )
    if conn.queryOne(f"SELECT id FROM {REVISION_TABLE} WHERE id = {revision}") is None:
        raise RevisionNotFoundError(
            f"there is no revision with id {revision}; use an id from the "
            f"history (Repository.history())", revision=revision,
        )
    return revision


def _validator_state(cls: Any, conn: Any) -> Any:
    holder = types.SimpleNamespace(sqlmeta=cls.sqlmeta, _connection=conn)
    return types.SimpleNamespace(soObject=holder, connection=conn)


class Version(VersionReading):
    """Base of every version class (``Class.__revision_class__``)."""

    __versioning__: ClassVar[Versioning]

    def __init__(self, conn: Any, row: dict[str, Any], as_of: int | None = None) -> None:
        v = type(self).__versioning__
        state = _validator_state(v.cls, conn)
        columns = {c.dbName: c for c in v.cls.sqlmeta.columnList}
        values: dict[str, Any] = {}
        for attr, column in v.attributes.items():
            value = row.get(column)
            so_col = columns.get(column)
            if (value is not None and so_col is not None and column != REVISION_ID
                    and so_col.to_python is not None):
                value = so_col.to_python(value, state)
            values[attr] = value
        values[OPERATION_TYPE] = Operation(int(row[OPERATION_TYPE]))
        values[REVISION_ID] = int(row[REVISION_ID])
        if values.get(STATE) is not None:
            values[STATE] = State(values[STATE])
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_as_of", as_of)

    # -- read-only --------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        raise ReadOnlyError(
            f"{self._describe()} is a version and read-only; change the live "
            f"object (version.continuity) in a new revision, or call "
            f"version.revert()", obj=self,
        )

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        values = self.__dict__["_values"]
        if name in values:
            return values[name]
        v = type(self).__versioning__
        for attr, column in v.attributes.items():
            if column == name:
                return values[attr]
        if name in v.foreign_keys:
            return self._follow(v.foreign_keys[name].attr, v.foreign_keys[name].target)
        spec = v.links.get(name.removesuffix("_active").removesuffix("_deleted"))
        if spec is not None:
            return spec.as_of(self, name)
        join = v.join(name)
        if join is not None:
            return self._join(join)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._describe()} {self.operation_type.name.lower()}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return (type(self) is type(other) and self.object_key[0] == other.object_key[0]
                and self.revision_id == other.revision_id)

    def __hash__(self) -> int:
        return hash((type(self), self.object_key[0], self.revision_id))

    def _describe(self) -> str:
        v = type(self).__versioning__
        return f"{v.describe(self.object_key[0])} as of revision {self.revision_id}"

    # -- identity and values ----------------------------------------------

    @property
    def as_of(self) -> int:
        """The revision relationships resolve at (``get_as_of``'s, else its own)."""
        return int(self.__dict__["_as_of"] or self.revision_id)

    @property
    def field_values(self) -> dict[str, Any]:
        """``{field: value}`` for the object's own columns and ``state``."""
        return {f: self.__dict__["_values"][f] for f in type(self).__versioning__.fields}

    @property
    def values(self) -> dict[str, Any]:
        """The same as :attr:`field_values` (SQLObject-style name)."""
        return self.field_values

    @property
    def object_key(self) -> tuple[Any, ...]:
        """The primary key of the object this is a version of, as a tuple."""
        return (self.__dict__["_values"]["id"],)

    @property
    def revision(self) -> Revision:
        """The revision that wrote this version."""
        conn = self.__dict__["_conn"]
        return select_revisions(conn, f"id = {int(self.revision_id)}")[0]

    @property
    def continuity(self) -> Any:
        """The live object, or None if it no longer exists."""
        v = type(self).__versioning__
        try:
            return v.cls.get(self.object_key[0], connection=self.__dict__["_conn"])
        except sqlobject.SQLObjectNotFound:
            return None

    # -- neighbours -------------------------------------------------------

    def _neighbour(self, later: bool) -> Version | None:
        v = type(self).__versioning__
        conn = self.__dict__["_conn"]
        op, order = (">", "ASC") if later else ("<", "DESC")
        found = select_versions(
            conn, v, f"{v.id_name} = {literal(conn, self.object_key[0])} AND "
            f"{REVISION_ID} {op} {int(self.revision_id)}",
            f" ORDER BY {REVISION_ID} {order} LIMIT 1",
        )
        return found[0] if found else None

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
        v = type(self).__versioning__
        conn = self.__dict__["_conn"]
        row = conn.queryOne(
            f"SELECT COUNT(*) FROM {v.version_table} WHERE {v.id_name} = "
            f"{literal(conn, self.object_key[0])} AND {REVISION_ID} < {int(self.revision_id)}"
        )
        return int(row[0])

    def revert(self) -> Any:
        """Make the live object look like this version again, in the session.

        Needs a revision like any change; a hard-deleted object is created
        again with its old id.  Returns the live object.
        """
        v = type(self).__versioning__
        conn = self.__dict__["_conn"]
        if self.operation_type == Operation.DELETE:
            raise DeletedVersionError(
                f"{self._describe()} records a delete; revert the version "
                f"before it (version.previous.revert()) to bring the object back",
                obj=self,
            )
        values = {a: _plain(self.__dict__["_values"][a]) for a, c in v.columns if c != REVISION_ID}
        live = self.continuity
        if live is None:
            return v.cls(id=self.object_key[0], connection=conn, **values)
        changed = {a: val for a, val in values.items() if getattr(live, a) != val}
        if changed:
            live.set(**changed)
        return live

    # -- relationships as of the revision ----------------------------------

    def _follow(self, attr: str, target_name: str) -> Any:
        value = self.__dict__["_values"].get(attr)
        if value is None:
            return None
        v = type(self).__versioning__
        target = findClass(target_name, v.cls.sqlmeta.registry)
        conn = self.__dict__["_conn"]
        target_v = versioning_of(target)
        if target_v is not None:
            return version_as_of(conn, target_v, value, self.as_of)
        try:
            return target.get(value, connection=conn)
        except sqlobject.SQLObjectNotFound:
            return None

    def _join(self, join: Any) -> Any:
        found = self._join_rows(join)
        if isinstance(join, joins.SOSingleJoin):
            # Like the live SingleJoin: one object or None (never created here).
            return found[0] if found else None
        return found

    def _join_rows(self, join: Any) -> list[Any]:
        conn = self.__dict__["_conn"]
        other = join.otherClass
        other_v = versioning_of(other)
        if other_v is None:
            return list(other.select(
                getattr(other.q, _attr_of_column(other, join.joinColumn)) == self.object_key[0],
                connection=conn,
            ))
        where = f"{join.joinColumn} = {literal(conn, self.object_key[0])}"
        if other_v.stateful:
            where += f" AND {STATE} = {literal(conn, State.ACTIVE)}"
        return select_as_of(conn, other_v, self.as_of, where)


def _attr_of_column(cls: Any, column: str) -> str:
    for c in cls.sqlmeta.columnList:
        if c.dbName == column:
            return str(c.name)
    return column


def select_versions(conn: Any, v: Versioning, where: str, suffix: str = "",
                    as_of: int | None = None) -> list[Version]:
    """Versions of ``v``'s class matching an SQL ``where`` text."""
    session = session_of(conn)
    if session is not None:
        session.flush()
    names = v.version_columns
    rows = conn.queryAll(
        f"SELECT {', '.join(names)} FROM {v.version_table} WHERE {where}{suffix}"
    )
    return [v.version_class(conn, dict(zip(names, row, strict=True)), as_of) for row in rows]


def current_as_of(rid: int, alias: str = "") -> str:
    """SQL: the rows of a version table (``alias``) that are the live data as of ``rid``."""
    p = f"{alias}." if alias else ""
    return (f"{p}{REVISION_ID} <= {rid} AND ({p}{EXPIRED_ID} IS NULL OR {p}{EXPIRED_ID} > {rid}) "
            f"AND {p}{OPERATION_TYPE} <> {int(Operation.DELETE)}")


def select_as_of(conn: Any, v: Versioning, rid: int, where: str = "") -> list[Version]:
    """Every object of ``v``'s class as of ``rid`` (one query), by id."""
    condition = current_as_of(rid) + (f" AND {where}" if where else "")
    return select_versions(conn, v, condition, f" ORDER BY {v.id_name}", as_of=rid)


def version_as_of(conn: Any, v: Versioning, key: Any, rid: int,
                  check_revision: bool = False) -> Version | None:
    """The version of the object ``key`` as of ``rid``: one index seek.

    With ``check_revision`` nothing is found unless revision ``rid`` exists
    (checked in the same statement).
    """
    where = f"{v.id_name} = {literal(conn, key)} AND {REVISION_ID} <= {rid}"
    if check_revision:
        where += f" AND EXISTS (SELECT 1 FROM {REVISION_TABLE} WHERE id = {rid})"
    found = select_versions(conn, v, where, f" ORDER BY {REVISION_ID} DESC LIMIT 1", as_of=rid)
    if not found or found[0].operation_type == Operation.DELETE:
        return None
    return found[0]


def written_id(revision: Any) -> int | None:
    """The id of a revision given by id or as a written Revision, else None."""
    if isinstance(revision, Revision):
        return None if revision.id is None else int(revision.id)
    if isinstance(revision, int) and not isinstance(revision, bool) and revision > 0:
        return revision
    # No revision has an id below 1: such a view is refused when it is made.
    return None


def checked_version_as_of(conn: Any, v: Versioning, key: Any, revision: Any) -> Version | None:
    """:func:`version_as_of` for a revision given by id or Revision, resolving
    it inside the same statement; raises if the revision does not exist."""
    rid = written_id(revision)
    if rid is None:
        return version_as_of(conn, v, key, resolve_revision(conn, revision))
    found = version_as_of(conn, v, key, rid, check_revision=True)
    if found is None:
        resolve_revision(conn, rid)  # raises RevisionNotFoundError if missing
    return found


def _versioning(obj: Any) -> Versioning:
    v = versioning_of(obj)
    if v is None:
        raise NotVersionedError.of(obj)
    return v


def get_as_of(obj: Any, revision: RevisionRef) -> Version | None:
    """The version of live ``obj`` as of ``revision``, or None."""
    v = _versioning(obj)
    return checked_version_as_of(obj._connection, v, obj.id, revision)


def versions_of(obj: Any, newest_first: bool = False) -> list[Version]:
    """Every version of live ``obj`` (its session's changes flushed first)."""
    v = _versioning(obj)
    conn = obj._connection
    order = "DESC" if newest_first else "ASC"
    return select_versions(conn, v, f"{v.id_name} = {literal(conn, obj.id)}",
                           f" ORDER BY {REVISION_ID} {order}")


def revision_of(obj: Any) -> Revision | None:
    """The revision that last changed live ``obj``."""
    rid = getattr(obj, REVISION_ID)
    if rid is None:
        return None
    found = select_revisions(obj._connection, f"id = {int(rid)}")
    return found[0] if found else None


def diff_of(obj: Any, to_revision: RevisionRef | None = None,
            from_revision: RevisionRef | None = None) -> dict[str, str]:
    """vdm's ``diff``: ``{field: text}`` between two revisions of ``obj``.

    ``to_revision`` defaults to the youngest revision, ``from_revision`` to
    the version before the one current then.
    """
    v = _versioning(obj)
    conn = obj._connection
    to_version = version_as_of(conn, v, obj.id, resolve_revision(conn, to_revision))
    if from_revision is None:
        from_version = to_version.previous if to_version is not None else None
    else:
        from_version = version_as_of(conn, v, obj.id, resolve_revision(conn, from_revision))
    old = from_version.values if from_version is not None else {}
    new = to_version.values if to_version is not None else {}
    return diff_values(old, new, list(v.fields))


def _plain(value: Any) -> Any:
    """A value SQLObject can store: states as their text."""
    return value.value if isinstance(value, State) else value
