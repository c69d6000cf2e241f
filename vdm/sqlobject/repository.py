"""The repository: tables, revisions, history and maintenance.

vdm 0.15's entry point, for SQLObject::

    repo = Repository(connection, [License, Book, Author])
    repo.create_db()
    session = repo.session()
    session.revision = repo.new_revision(author="me", message="first")
    ...
    session.commit()
    repo.history()            # revisions, newest first
    repo.list_changes(1)      # {Book: [versions written by revision 1]}
    repo.purge_revision(2)    # history as if revision 2 never happened
    repo.verify()             # [] when the history is sound
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vdm.naming import REVISION_ID
from vdm.repository import RepositoryBackend, RepositoryCore
from vdm.sqlobject.inspection import changes_in, diff_model
from vdm.sqlobject.maintenance import purge_object, purge_revision
from vdm.sqlobject.registry import Versioning, versioning_of
from vdm.sqlobject.restore import restore_model, undo_revision
from vdm.sqlobject.revision import Revision, select_revisions
from vdm.sqlobject.schema import create_tables, drop_tables
from vdm.sqlobject.scope import revision_scope
from vdm.sqlobject.session import Session, session_of
from vdm.sqlobject.sqlrunner import ConnectionSql
from vdm.sqlobject.timetravel import as_of
from vdm.sqlobject.verification import verify_history
from vdm.sqlobject.versions import RevisionRef, resolve_revision, select_versions
from vdm.violations import Violation


class Repository(RepositoryCore):
    """Set up, inspect and maintain the versioned model of ``classes``.

    ``connection`` is an SQLObject connection; ``classes`` the SQLObject
    classes of the model (versioned or not), in any order.
    """

    def __init__(self, connection: Any, classes: Iterable[type]) -> None:
        self.connection = connection
        self.classes = list(classes)
        self._last_session: Session | None = None

    @property
    def versioned_classes(self) -> list[Versioning]:
        """The versioning of each versioned class of the model."""
        found = [versioning_of(c) for c in self.classes]
        return [v for v in found if v is not None]

    backend = RepositoryBackend(
        revision=Revision, scope=revision_scope, restore_model=restore_model,
        undo_revision=undo_revision, as_of=as_of, changes_in=changes_in,
        diff_model=diff_model, resolve_revision=resolve_revision,
        revisions=lambda conn, clause, params: _revisions(conn, clause, params),
        versions_in=lambda conn, versionings, revision_id: {
            v.cls: select_versions(conn, v, f"{REVISION_ID} = {int(revision_id)}",
                                   f" ORDER BY {v.id_name}")
            for v in versionings},
    )

    def reader(self) -> Any:
        """The repository's SQLObject connection."""
        return self.connection

    def default_session(self) -> Session | None:
        """The session the repository made last (:meth:`session`), if any."""
        return self._last_session

    def model(self) -> list[type]:
        """The versioned classes of the model."""
        return [v.cls for v in self.versioned_classes]

    # -- set-up ---------------------------------------------------------

    def create_db(self) -> None:
        """Create every table of the model, the revision tables included."""
        create_tables(self.connection, self.classes)

    def clean_db(self) -> None:
        """Drop every table of the model and the revision tables."""
        drop_tables(self.connection, self.classes)

    # -- writing --------------------------------------------------------

    def session(self, auto_revision_author: str | None = None) -> Session:
        """A new :class:`Session` on the repository's connection.

        It becomes the repository's session: the one :meth:`restore`,
        :meth:`undo` and :meth:`revision` work in when given none.
        """
        self._last_session = Session(self.connection,
                                     auto_revision_author=auto_revision_author)
        return self._last_session

    # -- reading --------------------------------------------------------

    # -- maintenance ----------------------------------------------------

    def purge(self, obj: Any) -> None:
        """Erase ``obj``, its versioned links and all their history, and commit.

        The erasing runs in ``obj``'s session, which is committed after it
        (as on SQLAlchemy).  Link rows (of versioned link classes) referring
        to ``obj`` go with it; rows of the model's other classes referring
        to it (or to those links) make it refuse with
        :class:`vdm.IntegrityViolation` naming them, before anything is
        erased.
        """
        session = session_of(obj._connection)
        purge_object(obj, self.classes)
        if session is not None:
            session.commit()

    def purge_revision(self, revision: RevisionRef, leave_record: bool = False) -> None:
        """Rewrite history as if ``revision`` never happened, and commit.

        Live rows it changed fall back to their previous version (rows it
        created vanish, rows it hard-deleted come back); validity intervals
        stay contiguous.  With ``leave_record`` the revision row is kept,
        marked deleted.  Runs in a transaction of its own on the
        repository's connection; objects cached by that connection are
        expired, and sessions read the new history from their next
        transaction on.
        """
        transaction = self.connection.transaction()
        try:
            revision_id = resolve_revision(transaction, revision)
            purge_revision(transaction, self.versioned_classes, revision_id, leave_record)
        except BaseException:
            transaction.rollback()
            raise
        finally:
            if not transaction._obsolete:
                transaction.commit(close=True)
        for instance in self.connection.cache.getAll():
            instance.expire()

    def verify(self) -> list[Violation]:
        """Check the history invariants; the list of violations (empty if sound)."""
        return verify_history(self.connection, self.versioned_classes)


def _revisions(conn: Any, clause: str, params: dict[str, Any]) -> list[Revision]:
    """The revisions of ``SELECT ... FROM revision`` + ``clause``."""
    sql = ConnectionSql(conn)
    return select_revisions(conn, suffix=sql.bind(clause, params))
