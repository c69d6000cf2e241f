"""``purge_revision`` and ``purge`` for SQLObject: rewriting history.

What purging means lives in :mod:`vdm.purging`, shared with the
SQLAlchemy backend; this module describes the classes' tables and foreign
keys to it and expires the connection's cached objects it erased.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlobject.classregistry import findClass

from vdm import purging
from vdm.errors import NotVersionedError
from vdm.purging import PurgeSubjects, PurgeTable, Reference, duplicate_links_among
from vdm.sql import sql_of
from vdm.sqlobject.registry import Versioning, versioned_classes, versioning_of
from vdm.sqlobject.session import session_of
from vdm.tables import TableRecord


def class_subjects(conn: Any, versionings: Iterable[Versioning]) -> PurgeSubjects:
    """What a purge_revision of ``versionings`` covers, in transaction ``conn``."""
    versionings = list(versionings)
    tables, references = _class_tables([v.cls for v in versionings])
    # SQLObject writes names unquoted: purging's SQL names tables as its own does.
    return PurgeSubjects([tables[v.cls] for v in versionings], references,
                         duplicate_links_among(conn, lambda: versionings), quoted=False)


def _class_tables(classes: Iterable[Any]) -> tuple[dict[Any, PurgeTable], list[Reference]]:
    """``classes`` (and the versioned classes they refer to) as purging sees
    them, and their foreign keys to versioned classes."""
    tables: dict[Any, PurgeTable] = {}

    def table_of(cls: Any) -> PurgeTable:
        if cls not in tables:
            v = versioning_of(cls)
            if v is not None:
                tables[cls] = PurgeTable(v.tables_record, tuple(v.live_columns), cls)
            else:
                meta = cls.sqlmeta
                record = TableRecord(name=cls.__name__, table=meta.table, version_table="",
                                     key_columns=(meta.idName,))
                tables[cls] = PurgeTable(record, cls=cls, versioned=False)
        return tables[cls]

    references = []
    for cls in classes:
        for column in cls.sqlmeta.columnList:
            name = getattr(column, "foreignKey", None)
            target = findClass(name, cls.sqlmeta.registry) if name else None
            referred = versioning_of(target) if target is not None else None
            if referred is not None:
                references.append(Reference(table_of(cls), table_of(target),
                                            (column.dbName,), (referred.id_name,)))
        table_of(cls)
    return tables, references


def purge_from_connection(obj: Any, classes: Iterable[type], conn: Any = None) -> None:
    """Erase live ``obj``, the versioned link rows referring to it, and all their versions.

    The erasing runs on ``conn`` (default: the object's connection), a
    transaction the caller commits or rolls back.

    Rows of ``classes`` that are not links and refer to ``obj`` (or to one
    of its links) make it refuse with :class:`vdm.IntegrityViolation`
    naming them, before anything is erased.
    """
    v = versioning_of(obj)
    if v is None:
        raise NotVersionedError.of(obj, "delete it with destroySelf()")
    conn = obj._connection if conn is None else conn
    session = session_of(conn)
    if session is not None:
        session.flush()
    link_classes = {spec.link.cls for owner in versioned_classes for spec in owner.links.values()}
    tables, references = _class_tables({*classes, *link_classes, v.cls})
    erased = purging.purge_object(sql_of(conn), [tables[v.cls]], (obj.id,), references,
                                  {tables[c] for c in link_classes}, quoted=False)
    for table, keys in erased.items():
        for key in keys:
            conn.cache.expire(key[0], table.cls)


#: What :class:`vdm.sqlobject.Repository` calls (the name both backends export).
purge_object = purge_from_connection
