"""Whole-model time travel: a read-only view of the model as of a revision.

    view = as_of(session, first_revision)       # or a connection; an id; a datetime
    view.get(Book, 1)                           # BookRevision as of then, or None
    view.select(Book, Book.q.name == "wp", orderBy="-title", limit=2)
    view.select(Book, AND(Book.q.licenseID == License.q.id, License.q.name == "GPL"))
    view.all(Book)                              # every book as of then: one query
    view.count(Book, Book.q.title == "Anna")     # one COUNT query
    view.get(Book, 1).license                   # relationships resolve as of then
    view.get(Book, 1).authors                   # MultipleJoins too

Clauses are written against the live classes (``Book.q.name``), exactly as
for ``Book.select()``.  The view runs each call as *one* query on the
version tables: every versioned table the clause uses is read from its
``<table>_revision`` under the live table's name, restricted to the rows
current as of the revision, so the clause's ``book.name`` means the name
as of then.  Tables of classes that are not versioned are read live.

Versions the view returns resolve their ``ForeignKey``s and
``MultipleJoin``s as of the view's revision.  Writing through the view
(or to a version) raises :class:`vdm.ReadOnlyError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlobject import sqlbuilder

from vdm.errors import UnsupportedQueryError
from vdm.modelview import ModelView, ViewBackend
from vdm.naming import REVISION_TABLE
from vdm.sqlobject.registry import Versioning, versioned_classes
from vdm.sqlobject.session import Session, session_of
from vdm.sqlobject.versions import (
    RevisionRef,
    Version,
    current_as_of,
    resolve_revision,
    version_as_of,
    written_id,
)

#: sqlbuilder nodes whose inner SELECT would read the live tables.
_SUBQUERIES = (sqlbuilder.Select, sqlbuilder.INSubquery, sqlbuilder.Subquery,
               sqlbuilder.Union)


class ModelAsOf(ModelView):
    """The model as it was right after revision ``revision_id`` committed.

    ``source`` is a vdm :class:`~vdm.sqlobject.Session` (its pending changes
    are flushed before each read) or an SQLObject connection.  What a view
    means is :class:`vdm.modelview.ModelView`'s, the same on both backends;
    this class writes SQLObject's queries.
    """

    backend = ViewBackend(written_id=written_id, resolve=resolve_revision,
                          version_as_of=version_as_of, bare_keys=True)

    def __init__(self, source: Any, revision: RevisionRef | None) -> None:
        connection = source.transaction if isinstance(source, Session) else source
        super().__init__(connection, revision)
        self.connection: Any = connection

    def select(self, cls: type, where: Any = None, orderBy: Any = None,
               limit: int | None = None, offset: int = 0,
               distinct: bool = False) -> list[Version]:
        """The versions of ``cls`` matching ``where`` as of the revision: one query.

        ``where`` is an sqlbuilder clause on the live classes (``Book.q.name
        == "x"``, joins through ``Book.q.licenseID == License.q.id``) or SQL
        text naming live tables; ``orderBy`` is what ``Class.select()``
        takes (``"title"``, ``"-title"``, ``Book.q.title``,
        ``DESC(Book.q.title)`` or a list), ``id`` breaking ties.
        """
        return self._read_versions(self.viewable(cls), where, orderBy, limit, offset, distinct)

    def read_all(self, record: Any) -> list[Version]:
        """Every version of ``record``'s class as of the revision, by id."""
        return self._read_versions(record, None, None, None, 0, False)

    def count(self, cls: type, where: Any = None) -> int:
        """How many objects of ``cls`` matched ``where`` as of the revision: one query."""
        v = self.viewable(cls)
        sql = f"SELECT COUNT(DISTINCT {v.table}.{v.id_name}) {self._from_where(v, where)}"
        self._flush()
        return int(self.connection.queryOne(sql)[0])

    # -- the query ----------------------------------------------------------

    def _flush(self) -> None:
        session = session_of(self.connection)
        if session is not None:
            session.flush()

    def _from_where(self, v: Versioning, where: Any, rid: int | None = None) -> str:
        """FROM and WHERE as of ``rid`` (default: the checked revision id)."""
        conn = self.connection
        if rid is None:
            rid = self.revision_id
        versioned = {x.table: x for x in versioned_classes}
        tables = {v.table}
        if where is not None and not isinstance(where, str):
            _refuse_subqueries(where)
            tables |= {str(t) for t in sqlbuilder.tablesUsedSet(where, conn.dbName)}
        sources, conditions = [], []
        for table in sorted(tables):
            found = versioned.get(table)
            if found is None:
                sources.append(table)
                continue
            # The version table under the live table's name: the clause's
            # ``book.title`` then reads the title of the version.
            sources.append(f"{found.version_table} {table}")
            conditions.append(current_as_of(rid, table))
        if where is not None:
            clause = where if isinstance(where, str) else sqlbuilder.sqlrepr(where, conn.dbName)
            conditions.append(f"({clause})")
        return f"FROM {', '.join(sources)} WHERE {' AND '.join(conditions)}"

    def _read_versions(self, v: Versioning, where: Any, order_by: Any, limit: int | None,
             offset: int, distinct: bool) -> list[Version]:
        conn = self.connection
        # A revision given by id is checked in the same statement.
        rid = self.reading_id()
        from_where = self._from_where(v, where, rid)
        if self._checked is None:
            from_where += f" AND EXISTS (SELECT 1 FROM {REVISION_TABLE} WHERE id = {rid})"
        names = v.version_columns
        columns = ", ".join(f"{v.table}.{n}" for n in names)
        sql = (f"SELECT {'DISTINCT ' if distinct else ''}{columns} "
               f"{from_where} ORDER BY {_order_by(v, order_by, conn.dbName)}")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        if offset:
            if limit is None:
                sql += " LIMIT 1000000000"  # MySQL knows no OFFSET without LIMIT
            sql += f" OFFSET {int(offset)}"
        self._flush()
        rows = conn.queryAll(sql)
        self.found(bool(rows))
        return [v.version_class(conn, dict(zip(names, row, strict=True)), rid) for row in rows]


def as_of(session_or_connection: Any, revision: RevisionRef | None) -> ModelAsOf:
    """A read-only view of the model as of ``revision`` (None: the youngest).

    ``session_or_connection`` is a vdm session or an SQLObject connection.
    """
    return ModelAsOf(session_or_connection, revision)


def _refuse_subqueries(clause: Any) -> None:
    pending = [clause]
    while pending:
        node = pending.pop()
        if isinstance(node, _SUBQUERIES):
            raise UnsupportedQueryError(
                "an as-of view cannot rewrite a subquery (its tables would be "
                "read live); join the classes in the clause instead, e.g. "
                "AND(Book.q.licenseID == License.q.id, License.q.name == 'GPL')"
            )
        if isinstance(node, sqlbuilder.SQLExpression):
            pending.extend(node.components())
        elif isinstance(node, list | tuple):
            pending.extend(node)


def _order_by(v: Versioning, order_by: Any, db: str) -> str:
    cls: Any = v.cls
    if order_by is None:
        order_by = cls.sqlmeta.defaultOrder
    terms: Iterable[Any] = (
        order_by if isinstance(order_by, list | tuple) else [] if order_by is None
        else [order_by])
    parts = []
    for term in terms:
        descending = isinstance(term, str) and term.startswith("-")
        name = term[1:] if descending else term
        if isinstance(name, str):
            column = cls.sqlmeta.columns.get(name)
            text = (f"{v.table}.{column.dbName}" if column is not None
                    else f"{v.table}.{v.id_name}" if name == "id" else name)
        else:
            text = sqlbuilder.sqlrepr(name, db)
        parts.append(f"{text} DESC" if descending else text)
    parts.append(f"{v.table}.{v.id_name}")
    return ", ".join(parts)


__all__ = ["ModelAsOf", "as_of"]
