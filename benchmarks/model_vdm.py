"""The benchmark model in vdm: ``Revisioned`` classes, a stateful link.

Reads go through the whole-model view, by key: ``as_of(session, R).get(Book, key)``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from benchmarks.common import Adapter
from vdm.sqlalchemy import Revision, Revisioned, Stateful, add_stateful_versioned_m2m, as_of


class Base(DeclarativeBase):
    pass


class Author(Revisioned, Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Book(Revisioned, Stateful, Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)
    book_authors: Mapped[list[BookAuthor]] = relationship(
        back_populates="book", order_by="BookAuthor.author_id"
    )


class BookAuthor(Revisioned, Stateful, Base):
    __tablename__ = "book_author"
    book_id: Mapped[int] = mapped_column(ForeignKey("book.id"), primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"), primary_key=True)
    book: Mapped[Book] = relationship(back_populates="book_authors")
    author: Mapped[Author] = relationship()


# book.authors: the active authors, live and as of any revision.
add_stateful_versioned_m2m(Book, BookAuthor, "authors", "author", "book_authors")


class VdmAdapter(Adapter):
    name = "vdm"
    own_tables = r"revision|revision_sequence|\w+_revision"

    def begin(self, session: Session, message: str) -> Any:
        revision = Revision(author="bench", message=message)
        session.revision = revision  # type: ignore[attr-defined]
        return revision

    def revision_id(self, session: Session, token: Any) -> int:
        assert token.id is not None
        return int(token.id)

    def as_of_title(self, session: Session, book_id: int, revision_id: int) -> str | None:
        version = as_of(session, revision_id).get(Book, book_id)
        return None if version is None else version.title

    def authors_as_of(self, session: Session, book_id: int, revision_id: int) -> list[str]:
        version = as_of(session, revision_id).get(Book, book_id)
        return [author.name for author in version.authors]

    def all_as_of(self, session: Session, revision_id: int) -> list[Any]:
        return as_of(session, revision_id).scalars(select(Book))

    def version_titles(self, session: Session, book: Any) -> list[str]:
        return [v.title for v in book.versions]

    def version_count(self, session: Session, cls: Any) -> int | None:
        return self.count(session, cls.__revision_class__)

    def set_state(self, link: Any, active: bool) -> None:
        if active:
            link.undelete()
        else:
            link.delete()


VdmAdapter.Base = Base
VdmAdapter.Author = Author
VdmAdapter.Book = Book
VdmAdapter.BookAuthor = BookAuthor


def adapter() -> Adapter:
    """This system's adapter."""
    return VdmAdapter()

