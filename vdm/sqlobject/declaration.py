"""Declaring versioned classes: the ``Revisioned`` and ``Stateful`` mixins.

List the mixins before :class:`sqlobject.SQLObject` and declare columns as
usual::

    from sqlobject import SQLObject, StringCol, ForeignKey
    from vdm.sqlobject import Revisioned, Stateful

    class Book(Revisioned, Stateful, SQLObject):
        name = StringCol(length=100, unique=True, notNone=True)
        title = StringCol(length=200, default=None)
        license = ForeignKey("License", default=None)

While SQLObject builds the class, vdm adds the columns it needs:
``revision_id`` (the revision that last changed the row) and, with
:class:`Stateful`, ``state`` (``active``/``deleted``/``pending``).  It then
checks the class and registers its event handlers *strongly* (SQLObject's
dispatcher holds receivers weakly by default, so a handler that nothing
else references would silently vanish).  What vdm cannot version raises
:class:`vdm.ConfigurationError` right there, at declaration:

* ``sqlmeta.lazyUpdate = True`` (changes would reach the database, and
  vdm's hooks, only at ``syncUpdate()``, outside the revision);
* a ``RelatedJoin`` or a ``ManyToMany`` (SQLObject writes their
  intermediate table with raw SQL and fires no events; use an explicit link
  class, see :mod:`vdm.sqlobject.links`);
* ``InheritableSQLObject`` hierarchies, and columns named ``expired_id`` or
  ``operation_type`` (the version table needs those names).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, ClassVar

from vdm.errors import ConfigurationError, UnversionedChangeError
from vdm.history import HistoryMethods, HistoryReaders
from vdm.naming import (
    REVISION_ID,
    STATE,
    STATE_LENGTH,
    revision_table_name,
    version_class_name,
)
from vdm.records import refuse_reserved_columns
from vdm.sqlobject._compat import sqlobject
from vdm.sqlobject.links import related_revisions
from vdm.sqlobject.registry import ForeignKeyInfo, Versioning, versioned_classes, versioning_of
from vdm.sqlobject.revision import Revision
from vdm.sqlobject.schema import create_tables
from vdm.sqlobject.session import register_handlers
from vdm.sqlobject.versions import Version, diff_of, get_as_of, revision_of, versions_of
from vdm.statefulness import StatefulMethods
from vdm.states import State

__all__ = ["ForeignKeyInfo", "Revisioned", "Stateful", "Versioning", "make_versioned",
           "versioned_classes", "versioning_of"]

from sqlobject import classregistry, col, events, joins


class Revisioned(HistoryMethods[Version, Revision]):
    """Mixin for an SQLObject class whose changes are versioned.

    Adds the ``revision_id`` column and the history methods.  Bulk
    ``deleteMany``/``deleteBy`` are refused: they would bypass history.
    """

    __versioning__: ClassVar[Versioning]
    __revision_class__: ClassVar[type[Version]]

    @property
    def revision(self) -> Revision | None:
        """The revision that last changed this object."""
        return revision_of(self)

    _vdm_history = HistoryReaders(get_as_of=get_as_of, versions_of=versions_of,
                                  related_revisions=related_revisions, diff_of=diff_of)

    def _SO_getValue(self, name: str) -> Any:
        """SQLObject's read of one column (classes with ``cacheValues = False``).

        The first read in a transaction also notes the row's
        ``revision_id``: what this session saw, so that a later write based
        on it is checked against changes committed meanwhile.
        """
        seen = f"_SO_val_{REVISION_ID}"
        meta: Any = self.sqlmeta  # type: ignore[attr-defined]
        if meta.cacheValues or seen in self.__dict__:
            return super()._SO_getValue(name)  # type: ignore[misc]
        column = meta.columns[name]
        conn: Any = self._connection  # type: ignore[attr-defined]
        row = conn._SO_selectOne(self, [column.dbName, REVISION_ID])
        if not row:
            return super()._SO_getValue(name)  # type: ignore[misc]  # SQLObject's error
        self.__dict__[seen] = row[1]
        value = row[0]
        if column.to_python:
            value = column.to_python(value, self._SO_validatorState)  # type: ignore[attr-defined]
        return value

    @classmethod
    def createTable(cls, ifNotExists: bool = False, createJoinTables: bool = True,
                    createIndexes: bool = True, applyConstraints: bool = True,
                    connection: Any = None) -> list[str]:
        """SQLObject's ``createTable``, making what vdm needs too.

        The live table gets ``revision_id`` (indexed, referencing
        ``revision``), and its version table and the revision tables are
        created when missing: the same as
        :func:`vdm.sqlobject.create_tables` for this one class.
        """
        conn = connection or cls._connection  # type: ignore[attr-defined]
        return create_tables(conn, [cls], if_not_exists=ifNotExists,
                             apply_constraints=applyConstraints)

    @classmethod
    def deleteMany(cls, where: Any = None, connection: Any = None) -> None:
        """Refused: a bulk DELETE would bypass history."""
        _refuse_bulk(cls, "deleteMany")

    @classmethod
    def deleteBy(cls, connection: Any = None, **kw: Any) -> None:
        """Refused: a bulk DELETE would bypass history."""
        _refuse_bulk(cls, "deleteBy")

    @classmethod
    def clearTable(cls, connection: Any = None, clearJoinTables: bool = True) -> None:
        """Refused: emptying the table with one DELETE would bypass history."""
        _refuse_bulk(cls, "clearTable")


def _refuse_bulk(cls: type, method: str) -> None:
    raise UnversionedChangeError(
        f"{cls.__name__}.{method}() deletes rows with one raw DELETE and "
        f"would bypass their history; select the objects and call "
        f"destroySelf() (hard delete) or delete() (soft delete) on each",
        cls=cls,
    )


class _DeleteDescriptor:
    """``obj.delete()`` soft-deletes; ``Class.delete(id)`` stays SQLObject's.

    SQLObject's ``delete`` is a classmethod (a hard delete by id); vdm's is
    the undoable instance method.  Both spellings keep working.
    """

    def __get__(self, obj: Any, cls: type) -> Any:
        if obj is None:
            return functools.partial(_hard_delete_by_id, cls)
        return functools.partial(_soft_delete, obj)


def _hard_delete_by_id(cls: type[Any], id: Any, connection: Any = None) -> None:
    cls.get(id, connection=connection).destroySelf()


def _soft_delete(obj: Any) -> None:
    obj.state = State.DELETED.value


class Stateful(StatefulMethods):
    """Mixin for objects with a versioned ``state``: soft delete and undelete."""

    _vdm_active_value = State.ACTIVE.value

    delete = _DeleteDescriptor()


def _inherited_column(bases: tuple[type, ...], name: str) -> bool:
    for base in bases:
        meta = getattr(base, "sqlmeta", None)
        if meta is not None and name in getattr(meta, "columns", {}):
            return True
    return False


def _on_class_create(
    new_class_name: str, bases: tuple[type, ...], new_attrs: dict[str, Any],
    post_funcs: list[Any], early_funcs: list[Any],
) -> None:
    if not any(issubclass(b, Revisioned) for b in bases):
        return
    if not any(issubclass(b, sqlobject.SQLObject) for b in bases):
        return
    if REVISION_ID not in new_attrs and not _inherited_column(bases, REVISION_ID):
        new_attrs[REVISION_ID] = col.IntCol(dbName=REVISION_ID, default=None)
    stateful = any(issubclass(b, Stateful) for b in bases)
    if stateful and STATE not in new_attrs and not _inherited_column(bases, STATE):
        new_attrs[STATE] = col.StringCol(
            dbName=STATE, length=STATE_LENGTH, varchar=True, notNone=True,
            default=State.ACTIVE.value,
        )  # no SQL DEFAULT: the SQLAlchemy backend declares none either
    post_funcs.append(make_versioned)


def make_versioned(cls: type[Any]) -> Versioning:
    """Check ``cls``, build its version class and register its event handlers."""
    existing: Versioning | None = cls.__dict__.get("__versioning__")
    if existing is not None:
        return existing
    meta: Any = cls.sqlmeta
    _check_versionable(cls, meta)
    columns = [(c.name, c.dbName) for c in meta.columnList]
    fks = {}
    for c in meta.columnList:
        if isinstance(c, col.SOForeignKey):
            name = c.foreignName or c.name.removesuffix("ID")
            fks[name] = ForeignKeyInfo(name=name, attr=c.name, column=c.dbName,
                                       target=c.foreignKey)
    versioning = Versioning(
        cls=cls, table=meta.table, id_name=meta.idName,
        version_table=revision_table_name(meta.table),
        stateful=STATE in meta.columns, columns=columns, foreign_keys=fks,
    )
    version_cls = type(
        version_class_name(cls.__name__), (Version,),
        {"__module__": cls.__module__, "__versioning__": versioning,
         "__doc__": f"A version of {cls.__name__} (read-only)."},
    )
    versioning.version_class = version_cls
    cls.__versioning__ = versioning
    cls.__revision_class__ = version_cls
    versioned_classes.append(versioning)
    register_handlers(cls)
    return versioning


def _check_versionable(cls: type, meta: Any) -> None:
    try:
        _refuse_unversionable(cls, meta)
    except ConfigurationError:
        # Forget the refused class, so that the corrected one can be
        # declared under the same name.
        registry = classregistry.registry(meta.registry)
        if registry.classes.get(cls.__name__) is cls:
            del registry.classes[cls.__name__]
        raise


def _refuse_unversionable(cls: type, meta: Any) -> None:
    from sqlobject.inheritance import InheritableSQLObject

    name = cls.__name__
    if issubclass(cls, InheritableSQLObject):
        raise ConfigurationError(
            f"{name} is an InheritableSQLObject; vdm cannot version rows "
            f"spread over several tables, version each table as its own class",
            cls=cls,
        )
    if meta.lazyUpdate:
        raise ConfigurationError(
            f"{name} sets sqlmeta.lazyUpdate = True: its changes would be "
            f"written (and versioned) only at syncUpdate(), outside the "
            f"revision; remove lazyUpdate from versioned classes",
            cls=cls,
        )
    for j in meta.joins:
        if isinstance(j, (joins.SORelatedJoin, joins.SOSQLRelatedJoin)):
            raise ConfigurationError(
                f"{name}.{j.joinMethodName} is a RelatedJoin: SQLObject "
                f"writes its intermediate table with raw SQL and fires no "
                f"events, so it cannot be versioned; declare an explicit "
                f"link class (Revisioned, Stateful) and use "
                f"vdm.sqlobject.add_stateful_versioned_m2m",
                cls=cls,
            )
    for attr in dir(cls):
        if isinstance(inspect.getattr_static(cls, attr, None), joins.SOManyToMany):
            raise ConfigurationError(
                f"{name}.{attr} is a ManyToMany: SQLObject writes its "
                f"intermediate table with raw SQL and fires no events, so it "
                f"cannot be versioned; declare an explicit link class "
                f"(Revisioned, Stateful) and use "
                f"vdm.sqlobject.add_stateful_versioned_m2m",
                cls=cls,
            )
    refuse_reserved_columns([c.dbName for c in meta.columnList],
                            f"{name} (table {meta.table!r})", cls)


# Strong registration: a weakly held receiver would vanish with nothing
# referring to it; this module keeps the function alive anyway, but being
# explicit costs nothing.
events.dispatcher.connect(
    _on_class_create, signal=events.ClassCreateSignal, weak=False
)
