"""The benchmark model in plain SQLAlchemy: the floor, no history at all.

``state`` is an ordinary column here, so soft-deleting a link is the same
work it is in the versioned systems.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from benchmarks.common import Adapter


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(8), default="active")
    book_authors: Mapped[list[BookAuthor]] = relationship(
        back_populates="book", order_by="BookAuthor.author_id"
    )
    authors: Mapped[list[Author]] = relationship(
        secondary="book_author", viewonly=True, order_by="Author.id",
        primaryjoin="and_(Book.id == BookAuthor.book_id, BookAuthor.state == 'active')",
    )


class BookAuthor(Base):
    __tablename__ = "book_author"
    book_id: Mapped[int] = mapped_column(ForeignKey("book.id"), primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(8), default="active")
    book: Mapped[Book] = relationship(back_populates="book_authors")
    author: Mapped[Author] = relationship()


class PlainAdapter(Adapter):
    name = "plain"


PlainAdapter.Base = Base
PlainAdapter.Author = Author
PlainAdapter.Book = Book
PlainAdapter.BookAuthor = BookAuthor


def adapter() -> Adapter:
    """This system's adapter."""
    return PlainAdapter()

