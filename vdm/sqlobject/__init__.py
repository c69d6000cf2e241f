"""vdm for SQLObject 3: revisions, versions and as-of reads.

The same concepts and the same database schema as :mod:`vdm.sqlalchemy`,
in SQLObject's idiom.  Declare versioned classes with the
:class:`Revisioned` (and optionally :class:`Stateful`) mixins, create the
tables, and change objects through a :class:`Session` that owns one
SQLObject transaction and the current revision::

    from sqlobject import SQLObject, StringCol, connectionForURI
    from vdm.sqlobject import Revision, Revisioned, Session, Stateful, create_tables

    class Book(Revisioned, Stateful, SQLObject):
        name = StringCol(length=100, unique=True, notNone=True)
        title = StringCol(length=200, default=None)

    connection = connectionForURI("sqlite:/tmp/books.db")
    create_tables(connection, [Book])

    session = Session(connection)
    session.revision = Revision(author="me", message="first")
    book = Book(name="warandpeace", title="War and Peacee",
                connection=session.transaction)
    session.commit()
    first = book.revision

    session.revision = Revision(author="me", message="fix typo")
    book.title = "War and Peace"
    session.commit()

    book.get_as_of(first).title       # 'War and Peacee'

Versioned many-to-many links and key/value maps are explicit link classes
(:func:`add_stateful_versioned_m2m`, :func:`add_stateful_versioned_dict`);
:class:`Repository` lists, purges and verifies history.

Importing this package imports SQLObject (FormEncode's import-time
warnings silenced, ``inspect.getargspec`` provided for SQLObject on
Python 3.11+); ``import vdm`` alone does not.
"""

from vdm.collections import StatefulDict, StatefulList
from vdm.operations import Operation
from vdm.sqlobject.declaration import Revisioned, Stateful, Versioning, versioning_of
from vdm.sqlobject.inspection import (
    ModelDiff,
    ObjectChange,
    RevisionChanges,
    blame,
    changes_in,
    diff_model,
    field_history,
)
from vdm.sqlobject.links import (
    VersionedDict,
    add_stateful_versioned_dict,
    add_stateful_versioned_m2m,
)
from vdm.sqlobject.repository import Repository
from vdm.sqlobject.restore import restore_model, restore_object, undo_revision
from vdm.sqlobject.revision import Revision
from vdm.sqlobject.schema import create_tables, drop_tables
from vdm.sqlobject.scope import revision_scope
from vdm.sqlobject.session import Session
from vdm.sqlobject.timetravel import ModelAsOf, as_of
from vdm.sqlobject.versions import Version
from vdm.states import State
from vdm.violations import Violation

__all__ = [
    "ModelAsOf",
    "ModelDiff",
    "ObjectChange",
    "Operation",
    "Repository",
    "Revision",
    "RevisionChanges",
    "Revisioned",
    "Session",
    "State",
    "Stateful",
    "StatefulDict",
    "StatefulList",
    "Version",
    "VersionedDict",
    "Versioning",
    "Violation",
    "add_stateful_versioned_dict",
    "add_stateful_versioned_m2m",
    "as_of",
    "blame",
    "changes_in",
    "create_tables",
    "diff_model",
    "drop_tables",
    "field_history",
    "restore_model",
    "restore_object",
    "revision_scope",
    "undo_revision",
    "versioning_of",
]
