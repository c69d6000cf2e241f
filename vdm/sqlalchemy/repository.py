"""The repository: database set-up, revisions, history and maintenance.

vdm 0.15's entry point, on SQLAlchemy 2::

    repo = Repository(Base.metadata, session)
    repo.create_db()
    rev = repo.new_revision(author="me", message="first")
    session.add(Book(name="warandpeace"))
    repo.commit()
    repo.history()          # revisions, newest first
    repo.verify()           # [] when the history is sound
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, MetaData, bindparam, create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session

from vdm.backends import BackendHooks, register_backend
from vdm.naming import REVISION_TABLE
from vdm.repository import RepositoryBackend, RepositoryCore
from vdm.sqlalchemy.asof import resolve_revision
from vdm.sqlalchemy.associations import associations_of
from vdm.sqlalchemy.inspection import in_session, loaded_versions, session_changes, session_diff
from vdm.sqlalchemy.maintenance import purge_object, purge_subjects
from vdm.sqlalchemy.mapping import (
    Versioning,
    hierarchy_bases,
    versioned_mappers,
    versioning_of,
)
from vdm.sqlalchemy.restore import restore_in_session, restore_model_in_session, undo_in_session
from vdm.sqlalchemy.revision import Revision, revision_table
from vdm.sqlalchemy.scope import revision_scope
from vdm.sqlalchemy.timetravel import ModelAsOf
from vdm.sqlalchemy.verification import Violation, check_mapped_links, verify_mapped
from vdm.sqlalchemy.versions import Version

__all__ = ["Repository", "Violation"]


def _history_tables(repo: Repository) -> list[Any]:
    # A subclass in single-table inheritance shares its base's table.
    owners = [v for v in repo.versioned_classes if v.owns_table]
    return [*owners, *associations_of(repo.metadata)]


def _model_of(repo: Repository) -> list[Versioning]:
    """The versioned classes given to the repository, else those of its metadata."""
    if repo._versioned_objects is not None:
        found = [versioning_of(c) for c in repo._versioned_objects]
        return [v for v in found if v is not None]
    return [v for v in versioned_mappers.values() if v.table.metadata is repo.metadata]


def _create_all(repo: Repository) -> None:
    repo._session().close()
    repo.metadata.create_all(repo.engine)


def _drop_all(repo: Repository) -> None:
    repo._session().close()
    repo.metadata.drop_all(repo.engine)


@contextmanager
def _in_session(session: Session) -> Iterator[Session]:
    """The repository's session, committed after the block, rolled back if it raises.

    Loaded objects are expired before the commit: the block rewrote rows
    under them (and a session may not expire on commit).
    """
    try:
        yield session
    except BaseException:
        # Refused (or failed) half-way: nothing of it stays.
        session.rollback()
        raise
    session.expire_all()
    session.commit()


def _loaded_revisions(session: Session, clause: str, params: dict[str, Any]) -> list[Revision]:
    """The revisions of ``SELECT ... FROM revision`` + ``clause``, as ORM objects."""
    columns = list(revision_table.columns)
    statement = text(
        f"SELECT {', '.join(c.name for c in columns)} FROM {REVISION_TABLE}{clause}"
    ).columns(*columns)
    # Datetimes bound with the timestamp column's type: SQLite compares them as text.
    typed = [bindparam(name, type_=revision_table.c.timestamp.type)
             for name, value in params.items() if isinstance(value, dt.datetime)]
    if typed:
        statement = statement.bindparams(*typed)
    with session.no_autoflush:
        return list(session.scalars(select(Revision).from_statement(statement), params))


def _versions_in(session: Session, versionings: list[Versioning],
                 revision_id: int) -> dict[type, list[Version]]:
    """``{Class: [versions revision_id wrote]}``, one query per table hierarchy."""
    changes: dict[type, list[Version]] = {}
    with session.no_autoflush:
        for v in hierarchy_bases(versionings):
            query = select(v.version_class).where(v.version_table.c.revision_id == revision_id)
            # Versions of a base class's query are of their own classes.
            for row in session.scalars(query):
                changes.setdefault(type(row).__versioning__.cls, []).append(row)
    return changes


class Repository(RepositoryCore):
    """Set up, inspect and maintain a versioned model.

    ``metadata`` holds the versioned tables, ``session`` is a Session or a
    ``scoped_session``; ``versioned_objects`` limits the versioned classes
    considered (default: every versioned class of ``metadata``); ``dburi``
    makes a new engine and binds the session to it when the session has no
    bind (for a ``scoped_session``, its factory too, so later sessions are
    bound as well), as vdm 0.15 did.
    """

    def __init__(
        self,
        metadata: MetaData,
        session: Session | scoped_session[Session],
        versioned_objects: Iterable[type] | None = None,
        dburi: str | None = None,
    ) -> None:
        self.metadata = metadata
        self.session = session
        self._versioned_objects = list(versioned_objects) if versioned_objects else None
        self._engine: Engine | None = create_engine(dburi) if dburi else None
        if self._engine is not None:
            _bind_unbound(session, self._engine)

    # -- set-up ---------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The engine the repository creates and drops tables with."""
        if self._engine is not None:
            return self._engine
        bind = self._session().get_bind()
        return bind if isinstance(bind, Engine) else bind.engine

    def _session(self) -> Session:
        s = self.session
        return s() if isinstance(s, scoped_session) else s

    # -- writing --------------------------------------------------------

    def commit(self) -> None:
        """Commit the session (and so the current revision)."""
        self._session().commit()

    def commit_and_remove(self) -> None:
        """Commit, then close the session (``remove()`` a scoped session)."""
        self.commit()
        if isinstance(self.session, scoped_session):
            self.session.remove()
        else:
            self.session.close()

    backend = RepositoryBackend(
        reader=lambda repo: repo._session(), default_session=lambda repo: repo._session(),
        versionings=_model_of, create_tables=_create_all, drop_tables=_drop_all,
        revision=Revision, scope=revision_scope, as_of=ModelAsOf,
        resolve_revision=resolve_revision,
        revisions=_loaded_revisions,
        versions_in=_versions_in,
        history_tables=_history_tables,
        maintenance=lambda repo, obj: _in_session(repo._session()),
        purge_subjects=purge_subjects,
        purge_object=lambda session, obj, repo: purge_object(session, obj),
    )


#: What this backend lends the public functions of the core (vdm.backends).
HOOKS = BackendHooks(
    is_live=in_session, read_history=loaded_versions, revision_changes=session_changes,
    model_diff=session_diff, restore_one=restore_in_session,
    restore_all=restore_model_in_session, undo=undo_in_session, verify=verify_mapped,
    link_check=check_mapped_links,
)
for _kind in (Versioning, Session, scoped_session, Connection):
    register_backend(_kind, HOOKS)


def _bind_unbound(session: Session | scoped_session[Session], engine: Engine) -> None:
    """Bind ``session`` to ``engine`` unless it has a bind already."""
    if isinstance(session, scoped_session):
        factory = session.session_factory
        if factory.kw.get("bind") is None and not factory.kw.get("binds"):
            factory.configure(bind=engine)
        if not session.registry.has():
            return
        session = session()
    if session.bind is None and not getattr(session, "binds", None):
        session.bind = engine


