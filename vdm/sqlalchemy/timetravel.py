"""Whole-model time travel: a read-only view of the model as of a revision.

    view = as_of(session, first_revision)        # or repo.as_of(...)
    view.get(Book, 1)                            # BookRevision as of then, or None
    view.scalars(select(Book).where(Book.name == "wp").order_by(Book.title))
    view.all(Book)                               # every book as of then: one query
    view.get(Book, 1).license                    # relationships resolve as of then

Statements are written against the live classes; the view rewrites them to
the version tables with the as-of condition, one set-based query per
statement, never one per object.  Writing through the view raises
:class:`vdm.ReadOnlyError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from sqlalchemy import Select, inspect, select
from sqlalchemy.orm import RelationshipProperty, Session
from sqlalchemy.sql import visitors

from vdm.errors import UnsupportedQueryError
from vdm.modelview import ModelView, ViewBackend
from vdm.sqlalchemy.asof import RevisionRef, current_as_of, resolve_revision
from vdm.sqlalchemy.asofreads import rows_as_of, scalars_as_of
from vdm.sqlalchemy.associations import associations
from vdm.sqlalchemy.registry import Versioning, versioned_mappers, versioning_of
from vdm.sqlalchemy.revision import Revision, revision_table
from vdm.sqlalchemy.versions import Version, version_as_of


def _written_id(revision: Any) -> int | None:
    """The id of a revision given by id or as a written Revision, else None."""
    if isinstance(revision, Revision):
        identity = inspect(revision).identity
        written = identity[0] if identity is not None else revision.__dict__.get("id")
        return None if written is None else int(written)
    if isinstance(revision, int) and not isinstance(revision, bool) and revision > 0:
        return revision
    # No revision has an id below 1: such a view is refused when it is made.
    return None


def _resolve_unflushed(session: Session, revision: Any) -> int:
    # Resolving must not flush the session's pending changes into the past.
    with session.no_autoflush:
        return resolve_revision(session, revision)


class ModelAsOf(ModelView):
    """The model as it was right after revision ``revision_id`` committed.

    A revision given by its id (or as a written :class:`Revision`) is
    checked inside the first read's own statement, so ``as_of(session,
    R).get(Book, key)`` is one statement, resolving R included; a datetime
    or ``None`` (the youngest) is resolved when the view is made.  What a
    view means is :class:`vdm.modelview.ModelView`'s, the same on both
    backends; this class rewrites SQLAlchemy statements.
    """

    backend = ViewBackend(written_id=_written_id, resolve=_resolve_unflushed,
                          version_as_of=version_as_of)

    def __init__(self, session: Session, revision: RevisionRef) -> None:
        super().__init__(session, revision)
        self.session: Session = session

    def select(self, statement: Select[Any]) -> Select[Any]:
        """``statement`` rewritten to read the versions current as of the revision."""
        return rewrite_as_of(statement, self.revision_id)

    def execute(self, statement: Select[Any]) -> _Rows:
        """Run ``statement`` as of the revision (rows read at once)."""
        return _Rows(self._rows(statement))

    def scalars(self, statement: Select[Any]) -> list[Any]:
        """The first column of each row of ``statement`` as of the revision."""
        return self._rows(statement, scalars=True)

    def scalar(self, statement: Select[Any]) -> Any:
        """The first column of the first row of ``statement`` as of the revision."""
        rows = self._rows(statement)
        return rows[0][0] if rows else None

    def read_all(self, record: Any) -> list[Version]:
        """Every version of ``record``'s class as of the revision, by primary key."""
        return self.scalars(select(record.cls).order_by(*record.table.primary_key.columns))

    def _rows(self, statement: Select[Any], scalars: bool = False) -> list[Any]:
        # A statement of entities proves the revision exists by returning
        # rows under the existence condition; any other (an aggregate, a
        # column) resolves the revision first, so it can never answer for
        # a revision that does not exist.
        run = scalars_as_of if scalars else rows_as_of
        if self._checked is not None or not _selects_versioned_entities(statement):
            return run(self.session, rewrite_as_of(statement, self.revision_id),
                       self.revision_id)
        rid = self.reading_id()
        rewritten = rewrite_as_of(statement, rid).where(
            select(revision_table.c.id).where(revision_table.c.id == rid).exists())
        rows = run(self.session, rewritten, rid)
        self.found(bool(rows))
        return rows


class _Rows:
    """The rows of an as-of statement; versions in them answer as of the view."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def all(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)


def _selects_versioned_entities(statement: Select[Any]) -> bool:
    descriptions = statement.column_descriptions
    return bool(descriptions) and all(
        d.get("expr") is d.get("entity") is not None
        and versioning_of(d["entity"]) is not None for d in descriptions)


def as_of(session: Session, revision: RevisionRef) -> ModelAsOf:
    """A read-only view of the model of ``session`` as of ``revision``."""
    return ModelAsOf(session, revision)


def rewrite_as_of(statement: Select[Any], revision_id: int) -> Select[Any]:
    """Rewrite a select on live classes into one on their versions as of a revision."""
    for join in getattr(statement, "_setup_joins", ()):
        # ORM joins along relationships carry today's join condition;
        # explicit ON clauses are rewritten like everything else.
        along = [part for part in join[:2]
                 if isinstance(getattr(part, "property", None), RelationshipProperty)]
        if along:
            raise UnsupportedQueryError(
                "an as-of view cannot follow a relationship join "
                f"({along[0]}); join with an explicit ON clause, or traverse "
                "the relationship on the versions"
            )
    used: dict[Any, Versioning] = {}
    entities: list[Any] = []
    by_table: dict[Any, Any] = {v.table: v for v in versioned_mappers.values() if v.owns_table}
    by_table.update(associations)
    # Joined inheritance: a subclass's live join becomes its versions' join.
    by_join = {v.mapper.persist_selectable: v for v in versioned_mappers.values()
               if v.parent is not None and v.owns_table}

    def replace(element: Any, **kw: Any) -> Any:
        entity = getattr(element, "_annotations", {}).get("parententity")
        table = getattr(element, "table", None)
        if entity is not None and table is None and hasattr(element, "c"):
            versioning = versioning_of(entity.class_)
            if versioning is not None:
                used[versioning.version_table] = versioning
                entities.append(inspect(versioning.version_class).__clause_element__())
                return entities[-1]
        joined = by_join.get(element) if table is None else None
        if joined is not None:
            for writer in joined.writers:
                used[writer.version_table] = writer
            return inspect(joined.version_class).persist_selectable
        versioning = by_table.get(table) if table is not None else None
        if versioning is None and element in by_table:
            versioning = by_table[element]
            used[versioning.version_table] = versioning
            return versioning.version_table
        name = getattr(element, "key", None)
        if versioning is not None and isinstance(name, str) and name in versioning.version_table.c:
            used[versioning.version_table] = versioning
            return versioning.version_table.c[name]
        return None

    rewritten = cast("Select[Any]", visitors.replacement_traverse(statement, {}, replace))
    for version_table in used:
        rewritten = rewritten.where(current_as_of(version_table, revision_id))
    if entities:
        # The ORM picks the left side of joins from the statement's "plugin
        # subject", which the traversal copied from the live class.
        rewritten._propagate_attrs = entities[0]._propagate_attrs
    return rewritten
