"""vdm for SQLAlchemy 2: revisions, versions and as-of reads.

Declare versioned classes with the :class:`Revisioned` (and optionally
:class:`Stateful`) mixins, then group every change in a revision::

    session.revision = Revision(author="me", message="first")
    session.add(Book(name="warandpeace", title="War and Peacee"))
    session.commit()

    old = book.get_as_of(first_revision)   # a BookRevision, or None
"""

from vdm.sharednames import *  # noqa: F403 - the names both backends share
from vdm.sharednames import __all__ as _shared
from vdm.sqlalchemy import session as _session_hooks  # noqa: F401 - registers the flush hooks
from vdm.sqlalchemy import sqlrunner as _sqlrunner  # noqa: F401 - lends the core its SQL
from vdm.sqlalchemy.changes import changeset
from vdm.sqlalchemy.links import VersionedDict
from vdm.sqlalchemy.mapping import Revisioned, Stateful, Versioning, versioning_of
from vdm.sqlalchemy.repository import Repository
from vdm.sqlalchemy.revision import Revision
from vdm.sqlalchemy.scope import revision_scope
from vdm.sqlalchemy.session import AUTO_REVISION_AUTHOR, DEFERRED_REVISION_IDS
from vdm.sqlalchemy.timetravel import ModelAsOf, as_of
from vdm.sqlalchemy.typedsession import VersionedSession, set_revision
from vdm.sqlalchemy.versions import Version

__all__ = [
    *_shared,
    "AUTO_REVISION_AUTHOR",
    "DEFERRED_REVISION_IDS",
    "ModelAsOf",
    "Repository",
    "Revision",
    "Revisioned",
    "Stateful",
    "Version",
    "VersionedDict",
    "VersionedSession",
    "Versioning",
    "as_of",
    "changeset",
    "revision_scope",
    "set_revision",
    "versioning_of",
]
