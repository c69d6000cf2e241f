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

from vdm.errors import NotVersionedError, ReadOnlyError, UnsupportedQueryError
from vdm.sqlalchemy.asof import RevisionRef, current_as_of, resolve_revision
from vdm.sqlalchemy.asofreads import rows_as_of, scalars_as_of
from vdm.sqlalchemy.associations import associations
from vdm.sqlalchemy.registry import Versioning, versioned_mappers, versioning_of
from vdm.sqlalchemy.revision import Revision, revision_table
from vdm.sqlalchemy.versions import Version, version_as_of


class ModelAsOf:
    """The model as it was right after revision ``revision_id`` committed.

    A revision given by its id (or as a written :class:`Revision`) is
    checked inside the first read's own statement, so ``as_of(session,
    R).get(Book, key)`` is one statement, resolving R included; a datetime
    or ``None`` (the youngest) is resolved when the view is made.
    """

    def __init__(self, session: Session, revision: RevisionRef) -> None:
        self.session = session
        #: The revision id, once known to exist (None: not checked yet).
        self._checked: int | None = None
        self._asked = _written_id(revision)
        if self._asked is None:
            with session.no_autoflush:
                self._checked = resolve_revision(session, revision)

    @property
    def revision_id(self) -> int:
        """The id of the revision the view shows (checked to exist)."""
        if self._checked is None:
            assert self._asked is not None
            with self.session.no_autoflush:
                self._checked = resolve_revision(self.session, self._asked)
        return self._checked

    def __repr__(self) -> str:
        return f"<ModelAsOf revision {self._checked or self._asked}>"

    def get(self, cls: type, key: Any) -> Version | None:
        """The object of class ``cls`` with primary key ``key`` as of the revision.

        One statement (an index seek on the version table), or None if the
        object did not exist then.  This is the way to read one object as
        of a revision by its key: no live object is loaded.
        """
        versioning = _versioning(cls)
        key_tuple = tuple(key) if isinstance(key, tuple | list) else (key,)
        if self._checked is not None:
            return version_as_of(self.session, versioning, key_tuple, self._checked)
        assert self._asked is not None
        found = version_as_of(self.session, versioning, key_tuple, self._asked,
                              check_revision=True)
        if found is None:
            self.revision_id  # noqa: B018 - raises RevisionNotFoundError if missing
        else:
            self._checked = self._asked
        return found

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

    def all(self, cls: type) -> list[Version]:
        """Every object of ``cls`` as of the revision, by primary key: one query."""
        versioning = _versioning(cls)
        return self.scalars(select(cls).order_by(*versioning.table.primary_key.columns))

    def _rows(self, statement: Select[Any], scalars: bool = False) -> list[Any]:
        # A statement of entities proves the revision exists by returning
        # rows under the existence condition; any other (an aggregate, a
        # column) resolves the revision first, so it can never answer for
        # a revision that does not exist.
        run = scalars_as_of if scalars else rows_as_of
        if self._checked is not None or not _selects_versioned_entities(statement):
            return run(self.session, rewrite_as_of(statement, self.revision_id),
                       self.revision_id)
        assert self._asked is not None
        rewritten = rewrite_as_of(statement, self._asked).where(
            select(revision_table.c.id).where(revision_table.c.id == self._asked).exists())
        rows = run(self.session, rewritten, self._asked)
        if rows:
            self._checked = self._asked
        else:
            self.revision_id  # noqa: B018 - raises RevisionNotFoundError if missing
        return rows

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise ReadOnlyError(
            f"{self!r} is a read-only view of the past; write through the "
            f"session in a new revision (see revert() and restore)",
        )

    add = add_all = delete = merge = flush = commit = _refuse


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


def _versioning(cls: type) -> Versioning:
    versioning = versioning_of(cls)
    if versioning is None:
        raise NotVersionedError.of(cls, "it has no past to view")
    return versioning
