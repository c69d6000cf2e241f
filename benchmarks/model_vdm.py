"""The benchmark model in vdm: ``Revisioned`` classes, a stateful link."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from benchmarks.common import Adapter
from vdm.sqlalchemy import Revision, Revisioned, Stateful
from vdm.sqlalchemy.versions import select_as_of


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

    def as_of_title(self, session: Session, book: Any, revision_id: int) -> str | None:
        version = book.get_as_of(revision_id)
        return None if version is None else version.title

    def all_as_of(self, session: Session, revision_id: int) -> list[Any]:
        return list(session.scalars(select_as_of(Book.__versioning__, revision_id)))

    def version_titles(self, session: Session, book: Any) -> list[str]:
        return [v.title for v in book.versions]

    def links_as_of(self, session: Session, book: Any, revision_id: int) -> list[int]:
        version = book.get_as_of(revision_id)
        return [link.author_id for link in version.book_authors]

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

