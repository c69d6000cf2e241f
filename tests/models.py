"""The SQLAlchemy model of the test stories: books, authors, licenses.

``License`` is versioned so that as-of reads across a foreign key can be
checked; ``Publisher`` is not versioned; ``Edition`` has a composite key.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, DynamicMapped, Mapped, mapped_column, relationship

from vdm.sqlalchemy import Revisioned, Stateful


class Base(DeclarativeBase):
    pass


class Publisher(Base):
    __tablename__ = "publisher"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class License(Revisioned, Base):
    __tablename__ = "license"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100))


class Book(Revisioned, Stateful, Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)
    license_id: Mapped[int | None] = mapped_column(ForeignKey("license.id"))
    publisher_id: Mapped[int | None] = mapped_column(ForeignKey("publisher.id"))
    license: Mapped[License | None] = relationship()
    publisher: Mapped[Publisher | None] = relationship()
    authors: Mapped[list[Author]] = relationship(back_populates="book", order_by="Author.id")
    author_query: DynamicMapped[Author] = relationship(lazy="dynamic", viewonly=True)

    def __repr__(self) -> str:
        return f"Book({self.name!r})"


class Author(Revisioned, Stateful, Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    book_id: Mapped[int | None] = mapped_column(ForeignKey("book.id"))
    book: Mapped[Book | None] = relationship(back_populates="authors")


class Edition(Revisioned, Base):
    __tablename__ = "edition"
    book_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    pages: Mapped[int | None]
