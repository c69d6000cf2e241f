"""Rewriting history: ``purge_revision`` and ``purge``.

What purging means lives in :mod:`vdm.purging`, shared with the SQLObject
backend; this module describes the metadata's tables and foreign keys to
it, lets native versioning stand aside, and forgets the session's copies
of what the SQL rewrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import MetaData, Table
from sqlalchemy.orm import Session, object_session

from vdm import purging
from vdm.errors import DetachedError, NotVersionedError
from vdm.purging import PurgeSubjects, PurgeTable, Reference, duplicate_links_among
from vdm.sql import sql_of
from vdm.sqlalchemy import native
from vdm.sqlalchemy.associations import associations, purge_links
from vdm.sqlalchemy.mapping import Versioning, versioned_mappers, versioning_of
from vdm.tables import TableRecord


def purge_subjects(session: Session, versionings: Iterable[Versioning]) -> PurgeSubjects:
    """What a purge_revision of ``versionings`` (and association tables) covers.

    Native-mode triggers are bypassed for the rest of the transaction: the
    purge rewrites history itself.
    """
    native.bypass(session)
    connection = session.connection()
    versionings = list(versionings)
    tables, references = ({}, []) if not versionings else _metadata_tables(
        versionings[0].table.metadata)
    return PurgeSubjects([tables[v.table] for v in versionings], references,
                         duplicate_links_among(connection, versioned_mappers.values))


def _metadata_tables(metadata: MetaData) -> tuple[dict[Table, PurgeTable], list[Reference]]:
    """Every table of ``metadata`` as purging sees it, and their foreign keys."""
    tables = {table: _unversioned(table) for table in metadata.tables.values()}
    for v in versioned_mappers.values():
        if v.owns_table and v.table.metadata is metadata:
            tables[v.table] = _versioned(v.tables_record, v.table, v.cls, v.key_names)
    for a in associations.values():
        if a.table.metadata is metadata:
            record = TableRecord(name=a.name, table=a.table.name,
                                 version_table=a.version_table.name,
                                 key_columns=tuple(a.table.c[n].name for n in a.key_names))
            tables[a.table] = _versioned(record, a.table, None, a.key_names)
    references = [
        Reference(tables[table], tables[fk.referred_table],
                  tuple(el.parent.name for el in fk.elements),
                  tuple(el.column.name for el in fk.elements))
        for table in metadata.tables.values()
        for fk in table.foreign_key_constraints if fk.referred_table in tables
    ]
    return tables, references


def _versioned(record: TableRecord, table: Table, cls: type | None,
               key_names: list[str]) -> PurgeTable:
    return PurgeTable(
        record, tuple(c.name for c in table.c), cls,
        frozenset(c.name for c in table.c if c.computed is not None), table.schema,
        key_labels=tuple(key_names))


def _unversioned(table: Table) -> PurgeTable:
    record = TableRecord(name=table.name, table=table.name, version_table="",
                         key_columns=tuple(c.name for c in table.primary_key.columns))
    return PurgeTable(record, schema=table.schema, versioned=False)


def purge_from_session(session: Session, obj: Any) -> None:
    """Erase live ``obj``, its versioned links and every version of them.

    Link rows (of the versioned link classes) referring to ``obj`` go with
    it, history included; rows of other tables referring to it, or to one
    of those links, make it refuse with :class:`vdm.IntegrityViolation`
    naming them, before anything is erased.
    """
    versioning = versioning_of(obj)
    if versioning is None:
        raise NotVersionedError.of(obj, "delete it with session.delete()")
    if object_session(obj) is not session:
        raise DetachedError(f"{obj!r} is not in this repository's session", obj=obj)
    key = versioning.key_of(obj)
    native.bypass(session)
    connection = session.connection()
    # Its links through association tables go with it (they are its history).
    for writer in versioning.writers:
        purge_links(connection, writer.table, dict(zip(writer.key_names, key, strict=True)))
    tables, references = _metadata_tables(versioning.table.metadata)
    link_classes = {spec.link for v in versioned_mappers.values() for spec in v.links.values()}
    classes = {tables[v.table]: v.cls for v in link_classes if v.table in tables}
    # In joined inheritance the object's row in each table of its class goes.
    writers = [tables[w.table] for w in versioning.writers]
    classes.update({tables[w.table]: w.cls for w in versioning.writers})
    erased = purging.purge_object(sql_of(connection), writers, key, references,
                                  set(classes) - set(writers))
    for table, keys in erased.items():
        for k in keys:
            loaded = session.identity_map.get(session.identity_key(classes[table], k))
            if loaded is not None and loaded in session:
                session.expunge(loaded)


#: What :class:`vdm.sqlalchemy.Repository` calls (the name both backends export).
purge_object = purge_from_session
