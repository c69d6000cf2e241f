"""The benchmark model in SQLAlchemy-Continuum 2.x (validity strategy).

Importing this module configures Continuum; it is only ever imported in
Continuum's own worker process, so its session listeners never see the
other systems' sessions.  Continuum has no "as of" call: history reads
query the version classes with the validity interval
(``transaction_id <= T < end_transaction_id``), as its documentation
shows for the validity strategy.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import ForeignKey, String, Text, func, or_, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy_continuum import make_versioned, version_class, versioning_manager

from benchmarks.common import Adapter

make_versioned(user_cls=None)


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    __versioned__: dict[str, Any] = {}
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Book(Base):
    __tablename__ = "book"
    __versioned__: dict[str, Any] = {}
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(8), default="active")
    book_authors: Mapped[list[BookAuthor]] = relationship(
        back_populates="book", order_by="BookAuthor.author_id"
    )


class BookAuthor(Base):
    __tablename__ = "book_author"
    __versioned__: dict[str, Any] = {}
    book_id: Mapped[int] = mapped_column(ForeignKey("book.id"), primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(8), default="active")
    book: Mapped[Book] = relationship(back_populates="book_authors")
    author: Mapped[Author] = relationship()


sa.orm.configure_mappers()
BookVersion = version_class(Book)
BookAuthorVersion = version_class(BookAuthor)
DELETE = 2  # Continuum's Operation.DELETE


def _valid_at(version: Any, tx: int) -> Any:
    return (
        version.transaction_id <= tx,
        or_(version.end_transaction_id.is_(None), version.end_transaction_id > tx),
        version.operation_type != DELETE,
    )


class ContinuumAdapter(Adapter):
    name = "continuum"
    own_tables = r"transaction|\w+_version"

    def revision_id(self, session: Session, token: Any) -> int:
        # Continuum's transaction is the session's last one: the newest.
        tx = versioning_manager.transaction_cls
        return int(session.execute(select(func.max(tx.id))).scalar_one())

    def as_of_title(self, session: Session, book: Any, revision_id: int) -> str | None:
        found = session.scalars(
            select(BookVersion).where(BookVersion.id == book.id,
                                      *_valid_at(BookVersion, revision_id))
        ).one_or_none()
        return None if found is None else found.title

    def all_as_of(self, session: Session, revision_id: int) -> list[Any]:
        return list(session.scalars(
            select(BookVersion).where(*_valid_at(BookVersion, revision_id))
        ))

    def version_titles(self, session: Session, book: Any) -> list[str]:
        return [v.title for v in book.versions]

    def links_as_of(self, session: Session, book: Any, revision_id: int) -> list[int]:
        v = BookAuthorVersion
        links = session.scalars(
            select(v).where(v.book_id == book.id, v.state == "active",
                            *_valid_at(v, revision_id))
            .order_by(v.author_id)
        )
        return [link.author_id for link in links]

    def version_count(self, session: Session, cls: Any) -> int | None:
        return self.count(session, version_class(cls))


ContinuumAdapter.Base = Base
ContinuumAdapter.Author = Author
ContinuumAdapter.Book = Book
ContinuumAdapter.BookAuthor = BookAuthor


def adapter() -> Adapter:
    """This system's adapter."""
    return ContinuumAdapter()

