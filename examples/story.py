"""The vdm story with SQLAlchemy: books, a typo, a delete and its undo.

Run it with an SQLite file to write (it is recreated), or with nothing to
use a temporary file::

    python examples/story.py [story.db]

Every change happens inside a revision (who, why, when).  Afterwards any
object can be read as of any revision, its changes listed and diffed, and a
soft delete undone like any other change.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from vdm.sqlalchemy import Repository, Revision, Revisioned, Stateful


class Base(DeclarativeBase):
    pass


class Book(Revisioned, Stateful, Base):
    __tablename__ = "book"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(String(200))
    authors: Mapped[list[Author]] = relationship(back_populates="book")


class Author(Revisioned, Base):
    __tablename__ = "author"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    book_id: Mapped[int | None] = mapped_column(ForeignKey("book.id"))
    book: Mapped[Book | None] = relationship(back_populates="authors")


def book_named(session: Session, name: str) -> Book:
    return session.scalars(select(Book).filter_by(name=name)).one()


def tell(path: Path) -> None:
    path.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)  # the revision tables included

    with Session(engine) as session:
        # Revision 1: two books, one title misspelt.
        first = Revision(author="editor", message="Add two novels")
        session.revision = first
        session.add_all([
            Book(name="warandpeace", title="War and Peacee"),
            Book(name="annakarenina", title="Anna Karenina"),
        ])
        session.commit()

        # Revision 2: fix the typo and record the author.
        session.revision = Revision(author="proofreader", message="Fix the typo, add the author")
        warandpeace = book_named(session, "warandpeace")
        warandpeace.title = "War and Peace"
        warandpeace.authors.append(Author(name="tolstoy"))
        session.commit()

        # Revision 3: a soft delete is a change of state, kept in history.
        session.revision = Revision(author="editor", message="Remove Anna Karenina")
        book_named(session, "annakarenina").delete()
        session.commit()

        # Revision 4: and so it can be undone.
        session.revision = Revision(author="editor", message="Bring Anna Karenina back")
        book_named(session, "annakarenina").undelete()
        session.commit()

        repo = Repository(Base.metadata, session)
        print("History, newest first:")
        for revision in repo.history():
            print(f"  r{revision.id} {revision.timestamp:%Y-%m-%d %H:%M:%S} "
                  f"{revision.author}: {revision.message}")
            for cls, versions in repo.list_changes(revision).items():
                for version in versions:
                    print(f"    {cls.__name__} {version.field_values['name']}: "
                          f"{version.operation_type.name.lower()} "
                          f"{sorted(version.changeset)}")

        old = warandpeace.get_as_of(first)
        assert old is not None
        print(f"Title as of revision {first.id}: {old.title}")
        print(f"Title now: {warandpeace.title}")
        print(f"Authors as of revision {first.id}: {[a.name for a in old.authors]}")
        print(f"State of annakarenina now: {book_named(session, 'annakarenina').state}")
        print("Diff of the title:")
        print(warandpeace.diff()["title"])
        print(f"History problems found: {len(repo.verify())}")
    engine.dispose()


def main() -> None:
    if len(sys.argv) > 1:
        tell(Path(sys.argv[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        tell(Path(tmp) / "story.db")


if __name__ == "__main__":
    main()
