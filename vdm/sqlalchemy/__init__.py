"""vdm for SQLAlchemy 2: revisions, versions and as-of reads.

Declare versioned classes with the :class:`Revisioned` (and optionally
:class:`Stateful`) mixins, then group every change in a revision::

    session.revision = Revision(author="me", message="first")
    session.add(Book(name="warandpeace", title="War and Peacee"))
    session.commit()

    old = book.get_as_of(first_revision)   # a BookRevision, or None
"""

from vdm.collections import StatefulDict, StatefulList
from vdm.operations import Operation
from vdm.sqlalchemy import session as _session_hooks  # noqa: F401 - registers the flush hooks
from vdm.sqlalchemy import sqlrunner as _sqlrunner  # noqa: F401 - lends the core its SQL
from vdm.sqlalchemy.changes import changeset
from vdm.sqlalchemy.inspection import (
    ModelDiff,
    ObjectChange,
    RevisionChanges,
    blame,
    changes_in,
    diff_model,
    field_history,
)
from vdm.sqlalchemy.links import (
    VersionedDict,
    add_stateful_versioned_dict,
    add_stateful_versioned_m2m,
)
from vdm.sqlalchemy.mapping import Revisioned, Stateful, Versioning, versioning_of
from vdm.sqlalchemy.repository import Repository, Violation
from vdm.sqlalchemy.restore import restore_model, restore_object, undo_revision
from vdm.sqlalchemy.revision import Revision
from vdm.sqlalchemy.scope import revision_scope
from vdm.sqlalchemy.session import AUTO_REVISION_AUTHOR, DEFERRED_REVISION_IDS
from vdm.sqlalchemy.timetravel import ModelAsOf, as_of
from vdm.sqlalchemy.typedsession import VersionedSession, set_revision
from vdm.sqlalchemy.versions import Version
from vdm.states import State

__all__ = [
    "AUTO_REVISION_AUTHOR",
    "DEFERRED_REVISION_IDS",
    "ModelAsOf",
    "ModelDiff",
    "ObjectChange",
    "Operation",
    "Repository",
    "Revision",
    "RevisionChanges",
    "Revisioned",
    "State",
    "Stateful",
    "StatefulDict",
    "StatefulList",
    "VersionedDict",
    "add_stateful_versioned_dict",
    "add_stateful_versioned_m2m",
    "as_of",
    "blame",
    "changes_in",
    "diff_model",
    "field_history",
    "restore_model",
    "restore_object",
    "revision_scope",
    "undo_revision",
    "Version",
    "VersionedSession",
    "Versioning",
    "Violation",
    "changeset",
    "set_revision",
    "versioning_of",
]
