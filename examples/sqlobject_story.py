"""The seed story with vdm's SQLObject backend: books, authors, a typo,
a correction, a delete and an as-of read.

    python examples/sqlobject_story.py [path/to/file.db]

Runs on an SQLite file (a temporary one by default) and prints what it does.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

# vdm.sqlobject first: it imports SQLObject without FormEncode's warnings.
from vdm.sqlobject import Repository, Revision, Revisioned, Stateful  # isort: skip

from sqlobject import ForeignKey, MultipleJoin, SQLObject, StringCol, connectionForURI  # isort: skip


class Book(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        table = "book"

    name = StringCol(length=100, unique=True, notNone=True)
    title = StringCol(length=200, default=None)
    authors = MultipleJoin("Author", joinColumn="book_id", orderBy="id")


class Author(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        table = "author"

    name = StringCol(length=100, notNone=True)
    book = ForeignKey("Book", default=None)


def main(path: str) -> int:
    connection = connectionForURI("sqlite:" + str(Path(path).resolve()))
    repo = Repository(connection, [Book, Author])
    repo.rebuild_db()
    session = repo.session()
    t = session.transaction

    first = Revision(author="me", message="first books")
    session.revision = first
    war = Book(name="warandpeace", title="War and Peacee", connection=t)
    anna = Book(name="annakarenina", title="Anna Karenina", connection=t)
    session.commit()
    print(f"revision {first.id}: created {war.name!r} (title {war.title!r}) and {anna.name!r}")

    session.revision = Revision(author="me", message="fix typo, add author")
    war.title = "War and Peace"
    Author(name="tolstoy", book=war, connection=t)
    session.commit()
    print(f"revision 2: title is now {war.title!r}, authors {[a.name for a in war.authors]}")

    session.revision = Revision(author="me", message="remove anna")
    anna.delete()
    session.commit()
    print(f"revision 3: {anna.name!r} is {anna.state}")

    old = war.get_as_of(first)
    print(f"as of revision {first.id}: {old.title!r}, authors {old.authors}")
    print("diff of the typo fix:")
    print(war.diff(2, 1)["title"])
    print("history, newest first:")
    for revision in repo.history():
        print(f"  {revision.id} {revision.author}: {revision.message}")
    session.close()
    connection.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(sys.argv[1]))
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(main(str(Path(tmp) / "story.db")))
