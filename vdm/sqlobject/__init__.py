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

from vdm.sharednames import *  # noqa: F403 - the names both backends share
from vdm.sharednames import __all__ as _shared
from vdm.sqlobject.declaration import Revisioned, Stateful, Versioning, versioning_of
from vdm.sqlobject.links import VersionedDict
from vdm.sqlobject.repository import Repository
from vdm.sqlobject.revision import Revision
from vdm.sqlobject.schema import create_tables, drop_tables
from vdm.sqlobject.scope import revision_scope
from vdm.sqlobject.session import Session
from vdm.sqlobject.timetravel import ModelAsOf, as_of
from vdm.sqlobject.versions import Version

__all__ = [
    *_shared,
    "ModelAsOf",
    "Repository",
    "Revision",
    "Revisioned",
    "Session",
    "Stateful",
    "Version",
    "VersionedDict",
    "Versioning",
    "as_of",
    "create_tables",
    "drop_tables",
    "revision_scope",
    "versioning_of",
]
