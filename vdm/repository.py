"""What a repository means, written once for both backends.

:class:`vdm.sqlalchemy.Repository` and :class:`vdm.sqlobject.Repository`
derive from :class:`RepositoryCore`.  A backend supplies how it reads
(:meth:`RepositoryCore.reader`: a session or a connection), which classes
make its model (:attr:`RepositoryCore.versioned_classes`), its sessions,
and the functions of :class:`RepositoryBackend`; the core turns them, and
the public functions both backends share (:func:`vdm.restoring.restore_model`,
:func:`vdm.inspecting.changes_in`, :func:`vdm.verifying.verify_history`
...), into the methods both repositories share, with one signature and one
meaning:

* ``new_revision(author, message, extra, session=None)`` starts a revision
  on a session (default: the repository's) and returns it;
* ``revision(..., session=None)`` is a block that commits one revision;
* ``restore(revision, session=None)`` and ``undo(revision, session=None)``
  write into a session's current revision;
* ``as_of``, ``changes`` and ``diff`` read the whole model;
* ``history``, ``count_revisions``, ``get_revision`` and ``list_changes``
  read the revision table and the version tables the same way on both;
* ``init_db``, ``rebuild_db`` and ``youngest_revision`` build on
  ``create_db``, ``clean_db`` and ``history``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from vdm import purging
from vdm.errors import InvalidInputError
from vdm.inspecting import changes_in, diff_model
from vdm.naming import REVISION_TABLE
from vdm.purging import PurgeSubjects
from vdm.restoring import restore_model, undo_revision
from vdm.sql import scalar, sql_of
from vdm.verifying import verify_history

#: A LIMIT that keeps every row: an OFFSET needs one on SQLite and MariaDB.
_NO_LIMIT = 10**12


@dataclass(frozen=True)
class RepositoryBackend:
    """The functions a backend plugs into :class:`RepositoryCore`.

    Each function takes what the backend reads through (``reader``) or
    writes through first.
    """

    #: ``Revision(author=..., message=..., extra=...)``.
    revision: Callable[..., Any]
    #: ``revision_scope(session, author=..., message=..., extra=...)``.
    scope: Callable[..., Any]
    #: ``as_of(reader, revision)``: the read-only view of the model.
    as_of: Callable[..., Any]
    #: ``resolve_revision(reader, ref)``: the id a revision reference names.
    resolve_revision: Callable[[Any, Any], int]
    #: ``revisions(reader, clause, params)``: the Revision objects of
    #: ``SELECT ... FROM revision`` + ``clause`` (WHERE/ORDER/LIMIT text with
    #: ``:name`` placeholders), in its order.
    revisions: Callable[[Any, str, dict[str, Any]], list[Any]]
    #: ``reader(repo)``: what whole-model reads go through (a session or a
    #: connection).
    reader: Callable[[Any], Any]
    #: ``default_session(repo)``: the repository's own session, or None.
    default_session: Callable[[Any], Any]
    #: ``versionings(repo)``: the per-class records of the model's versioned
    #: classes.
    versionings: Callable[[Any], list[Any]]
    #: ``create_tables(repo)`` and ``drop_tables(repo)``: every table of the
    #: model, the revision tables included.
    create_tables: Callable[[Any], object]
    drop_tables: Callable[[Any], object]
    #: ``history_tables(repo)``: what ``verify`` and ``purge_revision`` cover
    #: (the versioned classes, and on SQLAlchemy the versioned association
    #: tables).
    history_tables: Callable[[Any], list[Any]]
    #: ``maintenance(repo, obj)``: a context manager around one purge; it
    #: yields what the purge writes through, commits when the block ends and
    #: rolls everything back when it raises.  ``obj`` is the object a
    #: ``purge`` erases (None for ``purge_revision``).
    maintenance: Callable[[Any, Any], AbstractContextManager[Any]]
    #: ``purge_subjects(writer, tables)``: the :class:`vdm.purging.PurgeSubjects`
    #: of a purge_revision over ``tables`` (what ``history_tables`` returned).
    purge_subjects: Callable[[Any, list[Any]], PurgeSubjects]
    #: ``purge_object(writer, obj, repo)``.
    purge_object: Callable[[Any, Any, Any], None]
    #: ``versions_in(reader, versionings, revision_id)``: the versions that
    #: revision wrote, as ``{Class: [versions]}`` (classes it did not touch
    #: may be left out).
    versions_in: Callable[[Any, list[Any], int], dict[type, list[Any]]]


class RepositoryCore:
    """The methods both backends' repositories share (see the module)."""

    backend: RepositoryBackend

    # -- what a backend provides --------------------------------------------

    def reader(self) -> Any:
        """What whole-model reads go through: the SQLAlchemy repository's
        session (a scoped session's current one), the SQLObject repository's
        connection."""
        return self.backend.reader(self)

    def default_session(self) -> Any:
        """The session :meth:`restore`, :meth:`undo` and :meth:`revision`
        write in when given none: the SQLAlchemy repository's session, the
        one a SQLObject repository made last (None before it made one)."""
        return self.backend.default_session(self)

    def create_db(self) -> None:
        """Create every table of the model, the revision tables included."""
        self.backend.create_tables(self)

    def clean_db(self) -> None:
        """Drop every table of the model, the revision tables included."""
        self.backend.drop_tables(self)

    @property
    def versioned_classes(self) -> list[Any]:
        """The per-class versioning records (:class:`Versioning`) of the
        model's versioned classes."""
        return self.backend.versionings(self)

    # -- set-up -------------------------------------------------------------

    def init_db(self) -> None:
        """Create what is missing; existing tables and data are kept."""
        self.create_db()

    def rebuild_db(self) -> None:
        """Drop and recreate every table: an empty model."""
        self.clean_db()
        self.init_db()

    # -- writing ------------------------------------------------------------

    def _writing_session(self, session: Any, verb: str) -> Any:
        if session is not None:
            return session
        found = self.default_session()
        if found is None:
            raise InvalidInputError(
                f"Repository.{verb} needs a session to write in: pass "
                f"session=..., or make one with repo.session() first",
            )
        return found

    def new_revision(self, author: str | None = None, message: str | None = None,
                     extra: Any = None, session: Any = None) -> Any:
        """Start a revision on ``session`` (default: the repository's session)
        and return it; commit the session to write it.

        A repository without a session of its own (a SQLObject repository
        that has made none yet) starts it nowhere: give the revision to a
        session yourself (``session.revision = repo.new_revision(...)``),
        as vdm 0.15 code does.
        """
        revision = self.backend.revision(author=author, message=message, extra=extra)
        target = self.default_session() if session is None else session
        if target is not None:
            target.revision = revision
        return revision

    def revision(self, author: str | None = None, message: str | None = None,
                 extra: Any = None, session: Any = None) -> Any:
        """A block (``with`` or decorator) that commits one revision in
        ``session`` (default: the repository's session)."""
        return self.backend.scope(self._writing_session(session, "revision"),
                                  author=author, message=message, extra=extra)

    def restore(self, revision: Any, session: Any = None) -> None:
        """Bring the whole model back to ``revision``, in ``session``'s
        revision (default: the repository's session)."""
        restore_model(self._writing_session(session, "restore"), revision,
                      self.versioned_classes)

    def undo(self, revision: Any, session: Any = None) -> None:
        """Undo ``revision``'s changes in ``session``'s revision (default: the
        repository's session); may raise :class:`vdm.ConflictError`."""
        undo_revision(self._writing_session(session, "undo"), revision, self.versioned_classes)

    # -- reading ------------------------------------------------------------

    def history(self, limit: int | None = None, offset: int = 0, author: str | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None,
                ) -> list[Any]:
        """Revisions, newest first; ``limit``/``offset`` page through them.

        ``author`` keeps one author's revisions; ``since`` and ``until``
        (UTC, inclusive) keep those whose timestamp lies between.
        """
        conditions: list[str] = []
        params: dict[str, Any] = {}
        for name, test, value in (("author", "author = :author", author),
                                  ("since", "timestamp >= :since", since),
                                  ("until", "timestamp <= :until", until)):
            if value is not None:
                conditions.append(test)
                params[name] = naive_utc(value) if isinstance(value, dt.datetime) else value
        clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        clause += " ORDER BY id DESC"
        if limit is not None or offset:
            clause += f" LIMIT {_NO_LIMIT if limit is None else int(limit)} OFFSET {int(offset)}"
        return self.backend.revisions(self.reader(), clause, params)

    def count_revisions(self) -> int:
        """How many revisions the database holds."""
        return int(scalar(sql_of(self.reader()), f"SELECT COUNT(*) FROM {REVISION_TABLE}"))

    def get_revision(self, revision: Any) -> Any:
        """The revision with this id (or at this datetime, or this Revision's own)."""
        reader = self.reader()
        revision_id = self.backend.resolve_revision(reader, revision)
        return self.backend.revisions(reader, " WHERE id = :id", {"id": revision_id})[0]

    def list_changes(self, revision: Any) -> dict[type, list[Any]]:
        """``{Class: [versions written by the revision]}``; one query per table.

        Every versioned class is a key, with ``[]`` when the revision did
        not change it (as in vdm 0.15), so ``changes[Tag]`` never fails.
        """
        reader = self.reader()
        revision_id = self.backend.resolve_revision(reader, revision)
        versionings = self.versioned_classes
        found = self.backend.versions_in(reader, versionings, revision_id)
        return {v.cls: found.get(v.cls, []) for v in versionings}

    def youngest_revision(self) -> Any:
        """The most recent revision, or None in an empty database."""
        page = self.history(limit=1)
        return page[0] if page else None

    def as_of(self, revision: Any) -> Any:
        """A read-only view of the whole model as of ``revision``."""
        return self.backend.as_of(self.reader(), revision)

    def changes(self, revision: Any) -> Any:
        """Everything ``revision`` changed, object by object (plain data:
        :class:`vdm.changes.RevisionChanges`)."""
        return changes_in(self.reader(), revision, self.versioned_classes)

    def diff(self, a: Any, b: Any) -> Any:
        """The whole model's differences from revision ``a`` to ``b``
        (:class:`vdm.changes.ModelDiff`)."""
        return diff_model(self.reader(), a, b, self.versioned_classes)


    # -- maintenance --------------------------------------------------------

    def purge_revision(self, revision: Any, leave_record: bool = False) -> None:
        """Rewrite history as if ``revision`` never happened, and commit.

        Live rows it changed fall back to their previous version (rows it
        created vanish, rows it hard-deleted come back); validity intervals
        stay contiguous.  With ``leave_record`` the revision row is kept,
        marked deleted.  One transaction: refused or failed half-way,
        nothing of it stays.
        """
        with self.backend.maintenance(self, None) as writer:
            revision_id = self.backend.resolve_revision(writer, revision)
            subjects = self.backend.purge_subjects(writer, self.backend.history_tables(self))
            purging.purge_revision(sql_of(writer), subjects.tables, subjects.references,
                                   revision_id, leave_record, subjects.duplicate_links,
                                   quoted=subjects.quoted)

    def purge(self, obj: Any) -> None:
        """Erase ``obj``, its versioned links and all their history, and commit.

        Rows of other classes that still refer to ``obj`` (or to one of its
        links) make it refuse with :class:`vdm.IntegrityViolation` naming
        them; refused or failed, nothing is erased and the transaction it
        ran in is rolled back.
        """
        with self.backend.maintenance(self, obj) as writer:
            self.backend.purge_object(writer, obj, self)

    def verify(self) -> list[Any]:
        """Check the history invariants; the list of violations (empty if sound)."""
        return verify_history(self.reader(), self.backend.history_tables(self))


def naive_utc(when: dt.datetime) -> dt.datetime:
    """``when`` as a naive UTC datetime, as the revision table stores timestamps
    (a naive ``when`` is taken to be UTC already)."""
    if when.tzinfo is None:
        return when
    return when.astimezone(dt.UTC).replace(tzinfo=None)
