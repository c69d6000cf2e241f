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
from collections.abc import Callable
from typing import Any, ClassVar

from sqlobject import joins
from sqlobject.classregistry import findClass

from vdm import versionreading
from vdm.naming import OPERATION_TYPE, REVISION_ID, STATE
from vdm.operations import Operation
from vdm.restoring import restore_object
from vdm.sqlobject._compat import sqlobject
from vdm.sqlobject.dialect import literal
from vdm.sqlobject.registry import Versioning, versioning_of
from vdm.sqlobject.revision import Revision, select_revisions
from vdm.sqlobject.session import require_session, session_of
from vdm.sqlobject.sqlrunner import ConnectionSql
from vdm.states import State
from vdm.versionreading import AS_OF_ATTRIBUTE, Seek, VersionReading, register_revision_type
from vdm.versionreading import current_as_of as current_as_of
from vdm.versionreading import diff_of as diff_of
from vdm.versionreading import get_as_of as get_as_of
from vdm.versionreading import resolve_revision as resolve_revision
from vdm.versionreading import versions_of as versions_of

RevisionRef = Revision | int | dt.datetime

register_revision_type(Revision, lambda revision: revision.id)


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
        object.__setattr__(self, AS_OF_ATTRIBUTE, as_of)

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

    # -- what the core reads through --------------------------------------

    _vdm_scalar_key = True

    @classmethod
    def _vdm_read(cls, source: Any, seek: Seek) -> list[Any]:
        """See :meth:`vdm.versionreading.VersionReading._vdm_read`."""
        v = cls.__versioning__
        record = v.tables_record
        where = ConnectionSql(source).bind(seek.where(record), seek.params())
        return select_versions(source, v, where, seek.suffix(record), as_of=seek.as_of)

    @classmethod
    def _vdm_locate(cls, obj: Any) -> tuple[Any, tuple[Any, ...]]:
        """See :meth:`vdm.versionreading.VersionReading._vdm_locate`."""
        if isinstance(obj, Version):
            return obj.__dict__["_conn"], obj.object_key
        return obj._connection, (obj.id,)

    def _vdm_field(self, name: str) -> Any:
        return self.__dict__["_values"][name]

    # -- identity and values ----------------------------------------------

    @property
    def values(self) -> dict[str, Any]:
        """The same as :attr:`field_values` (SQLObject-style name)."""
        return self.field_values

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

    def _vdm_restore(self) -> Any:
        # The object and its links come back as of the revision the version
        # is read as of, as restore_object brings them back.
        conn = self.__dict__["_conn"]
        live = self.continuity
        # The version may have been read outside a session: the live
        # object's session writes it then.
        session = session_of(conn) or require_session(
            conn if live is None else live._connection, self if live is None else live, "revert")
        return restore_object(session, self, self.as_of)

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


#: The core's reads, typed with this backend's version class.
checked_version_as_of: Callable[..., Version | None] = versionreading.checked_version_as_of
version_as_of: Callable[..., Version | None] = versionreading.version_as_of


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


def select_as_of(conn: Any, v: Versioning, rid: int, where: str = "") -> list[Version]:
    """Every object of ``v``'s class as of ``rid`` (one query), by id."""
    condition = current_as_of(rid) + (f" AND {where}" if where else "")
    return select_versions(conn, v, condition, f" ORDER BY {v.id_name}", as_of=rid)


def written_id(revision: Any) -> int | None:
    """The id of a revision given by id or as a written Revision, else None."""
    if isinstance(revision, Revision):
        return None if revision.id is None else int(revision.id)
    if isinstance(revision, int) and not isinstance(revision, bool) and revision > 0:
        return revision
    # No revision has an id below 1: such a view is refused when it is made.
    return None


def revision_of(obj: Any) -> Revision | None:
    """The revision that last changed live ``obj``."""
    rid = getattr(obj, REVISION_ID)
    if rid is None:
        return None
    found = select_revisions(obj._connection, f"id = {int(rid)}")
    return found[0] if found else None


def _plain(value: Any) -> Any:
    """A value SQLObject can store: states as their text."""
    return value.value if isinstance(value, State) else value
