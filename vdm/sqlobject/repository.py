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

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlobject.dbconnection import DBAPI, Transaction

from vdm.backends import BackendHooks, register_backend
from vdm.naming import REVISION_ID
from vdm.repository import RepositoryBackend, RepositoryCore
from vdm.sqlobject.inspection import (
    connection_changes,
    connection_diff,
    not_a_version,
    versions_with_revisions,
)
from vdm.sqlobject.maintenance import class_subjects, purge_object
from vdm.sqlobject.registry import Versioning, versioning_of
from vdm.sqlobject.restore import restore_model_through, restore_through, undo_through
from vdm.sqlobject.revision import Revision, select_revisions
from vdm.sqlobject.schema import create_tables, drop_tables
from vdm.sqlobject.scope import revision_scope
from vdm.sqlobject.session import Session, session_of
from vdm.sqlobject.sqlrunner import ConnectionSql
from vdm.sqlobject.timetravel import as_of
from vdm.sqlobject.verification import check_link_class, verify_classes
from vdm.sqlobject.versions import resolve_revision, select_versions


def _selected_revisions(conn: Any, clause: str, params: dict[str, Any]) -> list[Revision]:
    """The revisions of ``SELECT ... FROM revision`` + ``clause``."""
    sql = ConnectionSql(conn)
    return select_revisions(conn, suffix=sql.bind(clause, params))


@contextmanager
def _transaction(conn: Any) -> Iterator[Any]:
    """A transaction for one purge: the session's own when ``conn`` is a
    session's, else a new one on ``conn``; committed after the block,
    rolled back if it raises.

    After a transaction of its own, the objects ``conn`` caches are
    expired, so they read the rewritten history.
    """
    session = session_of(conn)
    if session is not None:
        session.flush()
    transaction = conn if session is not None else conn.transaction()
    try:
        yield transaction
    except BaseException:
        if session is not None:
            session.rollback()
        else:
            transaction.rollback()
        raise
    if session is not None:
        session.commit()
        return
    transaction.commit(close=True)
    for instance in conn.cache.getAll():
        instance.expire()


class Repository(RepositoryCore):
    """Set up, inspect and maintain the versioned model of ``classes``.

    ``connection`` is an SQLObject connection; ``classes`` the SQLObject
    classes of the model (versioned or not), in any order.
    """

    def __init__(self, connection: Any, classes: Iterable[type]) -> None:
        self.connection = connection
        self.classes = list(classes)
        self._last_session: Session | None = None

    backend = RepositoryBackend(
        reader=lambda repo: repo.connection, default_session=lambda repo: repo._last_session,
        versionings=lambda repo: [v for v in map(versioning_of, repo.classes) if v is not None],
        create_tables=lambda repo: create_tables(repo.connection, repo.classes),
        drop_tables=lambda repo: drop_tables(repo.connection, repo.classes),
        revision=Revision, scope=revision_scope, as_of=as_of,
        resolve_revision=resolve_revision,
        revisions=_selected_revisions,
        versions_in=lambda conn, versionings, revision_id: {
            v.cls: select_versions(conn, v, f"{REVISION_ID} = {int(revision_id)}",
                                   f" ORDER BY {v.id_name}")
            for v in versionings},
        history_tables=lambda repo: repo.versioned_classes,
        maintenance=lambda repo, obj: _transaction(repo.connection if obj is None
                                                   else obj._connection),
        purge_subjects=class_subjects,
        purge_object=lambda conn, obj, repo: purge_object(obj, repo.classes, conn),
    )

    # -- writing --------------------------------------------------------

    def session(self, auto_revision_author: str | None = None) -> Session:
        """A new :class:`Session` on the repository's connection.

        It becomes the repository's session: the one :meth:`restore`,
        :meth:`undo` and :meth:`revision` work in when given none.
        """
        self._last_session = Session(self.connection,
                                     auto_revision_author=auto_revision_author)
        return self._last_session


#: What this backend lends the public functions of the core (vdm.backends).
HOOKS = BackendHooks(
    is_live=not_a_version, read_history=versions_with_revisions,
    revision_changes=connection_changes, model_diff=connection_diff,
    restore_one=restore_through, restore_all=restore_model_through, undo=undo_through,
    verify=verify_classes, link_check=check_link_class,
)
for _kind in (Versioning, Session, DBAPI, Transaction):
    register_backend(_kind, HOOKS)
