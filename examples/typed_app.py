"""A vdm application that type-checks under ``mypy --strict``.

Run it with an SQLite file to write (it is recreated), or with nothing to
use a temporary file; check its types with mypy::

    python examples/typed_app.py [typed.db]
    mypy --strict examples/typed_app.py

Sessions come from ``sessionmaker(class_=VersionedSession)``, so that
``session.revision = Revision(...)`` is a typed assignment.  Versions are
typed as :class:`vdm.sqlalchemy.Version`; the columns a version copies from
its class are read by name (``version.title``) and typed ``Any``, like the
rows of a query.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

from vdm import Operation, State
from vdm.sqlalchemy import (
    ModelAsOf,
    Repository,
    Revision,
    Revisioned,
    Stateful,
    Version,
    VersionedSession,
    as_of,
    revision_scope,
)


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


def book_named(session: VersionedSession, name: str) -> Book:
    return session.scalars(select(Book).filter_by(name=name)).one()


def title_then(book: Book, revision: Revision) -> str | None:
    """The book's title as of ``revision`` (None if it did not exist then)."""
    old: Version | None = book.get_as_of(revision)
    if old is None:
        return None
    title: str | None = old.title
    return title


def tell(path: Path) -> None:
    path.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    Session = sessionmaker(engine, class_=VersionedSession)

    with Session() as session:
        first = Revision(author="editor", message="Add a novel")
        session.revision = first
        session.add(Book(name="warandpeace", title="War and Peacee"))
        session.commit()
        assert session.revision is None  # commit clears it

        with revision_scope(session, author="editor", message="Fix the typo, add tolstoy"):
            book = book_named(session, "warandpeace")
            book.title = "War and Peace"
            book.authors.append(Author(name="tolstoy"))

        print(f"Title as of revision {first.id}: {title_then(book, first)}")
        print(f"Title now: {book.title}")
        versions: list[Version] = book.versions
        operations: list[Operation] = [v.operation_type for v in versions]
        print("Operations:", ", ".join(op.name for op in operations))
        changes: dict[str, str] = book.diff()
        print(changes["title"])

        view: ModelAsOf = as_of(session, first)
        then = view.get(Book, book.id)
        authors_then: list[Version] = view.all(Author)
        print(f"As of revision {first.id}: {then.title if then else None!r}, "
              f"{len(authors_then)} authors")

        session.revision = Revision(author="editor", message="Withdraw")
        book.delete()
        session.commit()
        state: State = book.state
        print(f"State now: {state}")
        problems = Repository(Base.metadata, session).verify()
        print(f"History problems found: {len(problems)}")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        tell(Path(argv[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        tell(Path(tmp) / "typed.db")


if __name__ == "__main__":
    main(sys.argv)
