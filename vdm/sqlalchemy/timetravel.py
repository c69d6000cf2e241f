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

from typing import Any, cast

from sqlalchemy import Select, inspect, select
from sqlalchemy.engine import Result
from sqlalchemy.orm import RelationshipProperty, Session
from sqlalchemy.sql import visitors

from vdm.errors import NotVersionedError, ReadOnlyError, UnsupportedQueryError
from vdm.sqlalchemy.asof import RevisionRef, current_as_of, resolve_revision
from vdm.sqlalchemy.associations import associations
from vdm.sqlalchemy.registry import Versioning, versioned_mappers, versioning_of
from vdm.sqlalchemy.versions import Version, version_as_of


class ModelAsOf:
    """The model as it was right after revision ``revision_id`` committed."""

    def __init__(self, session: Session, revision: RevisionRef) -> None:
        self.session = session
        with session.no_autoflush:
            self.revision_id = resolve_revision(session, revision)

    def __repr__(self) -> str:
        return f"<ModelAsOf revision {self.revision_id}>"

    def get(self, cls: type, key: Any) -> Version | None:
        """The object of class ``cls`` with primary key ``key`` as of the revision."""
        versioning = _versioning(cls)
        key_tuple = tuple(key) if isinstance(key, tuple | list) else (key,)
        return version_as_of(self.session, versioning, key_tuple, self.revision_id)

    def select(self, statement: Select[Any]) -> Select[Any]:
        """``statement`` rewritten to read the versions current as of the revision."""
        return rewrite_as_of(statement, self.revision_id)

    def execute(self, statement: Select[Any]) -> Result[Any]:
        """Run ``statement`` as of the revision."""
        with self.session.no_autoflush:
            result = self.session.execute(self.select(statement))
        return _Marked(result, self.revision_id)  # type: ignore[return-value]

    def scalars(self, statement: Select[Any]) -> list[Any]:
        """The first column of each row of ``statement`` as of the revision."""
        return list(self.execute(statement).scalars())

    def scalar(self, statement: Select[Any]) -> Any:
        """The first column of the first row of ``statement`` as of the revision."""
        return self.execute(statement).scalar()

    def all(self, cls: type) -> list[Version]:
        """Every object of ``cls`` as of the revision, by primary key: one query."""
        versioning = _versioning(cls)
        return self.scalars(select(cls).order_by(*versioning.table.primary_key.columns))

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise ReadOnlyError(
            f"{self!r} is a read-only view of the past; write through the "
            f"session in a new revision (see revert() and restore)",
        )

    add = add_all = delete = merge = flush = commit = _refuse


class _Marked:
    """A result whose versions resolve their relationships as of the view."""

    def __init__(self, result: Result[Any], revision_id: int) -> None:
        self._result = result
        self._revision_id = revision_id

    def _mark(self, value: Any) -> Any:
        if isinstance(value, Version):
            return value._bound_as_of(self._revision_id)
        return value

    def scalars(self) -> list[Any]:
        return [self._mark(v) for v in self._result.scalars()]

    def scalar(self) -> Any:
        return self._mark(self._result.scalar())

    def all(self) -> list[Any]:
        return [tuple(self._mark(v) for v in row) for row in self._result.all()]

    def __iter__(self) -> Any:
        return iter(self.all())


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


def _versioning(cls: type) -> Versioning:
    versioning = versioning_of(cls)
    if versioning is None:
        raise NotVersionedError.of(cls, "it has no past to view")
    return versioning
