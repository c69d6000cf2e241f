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

Importing this package imports SQLObject (FormEncode's import-time
warnings silenced, ``inspect.getargspec`` provided for SQLObject on
Python 3.11+); ``import vdm`` alone does not.
"""

from vdm.operations import Operation
from vdm.sqlobject.declaration import Revisioned, Stateful, Versioning, versioning_of
from vdm.sqlobject.repository import Repository
from vdm.sqlobject.revision import Revision
from vdm.sqlobject.schema import create_tables, drop_tables
from vdm.sqlobject.session import Session
from vdm.sqlobject.versions import Version
from vdm.states import State

__all__ = [
    "Operation",
    "Repository",
    "Revision",
    "Revisioned",
    "Session",
    "State",
    "Stateful",
    "Version",
    "Versioning",
    "create_tables",
    "drop_tables",
    "versioning_of",
]
