"""The benchmark model for the peers built like SQLAlchemy-Continuum.

SQLAlchemy-Continuum 2.x and sqlalchemy-history 2.x (a fork of it) share
their API: ``make_versioned``, ``__versioned__`` classes, ``version_class``
and a validity strategy with ``transaction_id`` / ``end_transaction_id``
columns.  :func:`adapter_for` declares the model once the library is
configured; each library calls it from its own worker process, so its
session listeners never see the other systems' sessions.

Neither library has an "as of" call: a read by key queries the version
class with the validity interval, as their documentation shows for the
validity strategy; the authors of a book as of a revision follow the
relationships their version classes offer (``book_version.book_authors``,
``link_version.author``), which resolve as of the book version's own
transaction.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import ForeignKey, String, Text, and_, func, or_, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from benchmarks.common import Adapter

DELETE = 2  # Operation.DELETE of both libraries


def adapter_for(name: str, make_versioned: Any, version_class: Any, manager: Any) -> Adapter:
    """Configure the library, declare the model, return its adapter."""
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
        authors: Mapped[list[Author]] = relationship(
            secondary="book_author", viewonly=True, order_by="Author.id",
            primaryjoin="and_(Book.id == BookAuthor.book_id, BookAuthor.state == 'active')",
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
    book_version = version_class(Book)

    def valid_at(version: Any, tx: int) -> Any:
        return and_(
            version.transaction_id <= tx,
            or_(version.end_transaction_id.is_(None), version.end_transaction_id > tx),
            version.operation_type != DELETE,
        )

    class PeerAdapter(Adapter):
        own_tables = r"transaction|\w+_version"

        def revision_id(self, session: Session, token: Any) -> int:
            # The library's transaction is the session's last one: the newest.
            tx = manager.transaction_cls
            return int(session.execute(select(func.max(tx.id))).scalar_one())

        def _book_as_of(self, session: Session, book_id: int, revision_id: int) -> Any:
            return session.scalars(
                select(book_version).where(book_version.id == book_id,
                                           valid_at(book_version, revision_id))
            ).one_or_none()

        def as_of_title(self, session: Session, book_id: int, revision_id: int) -> str | None:
            found = self._book_as_of(session, book_id, revision_id)
            return None if found is None else found.title

        def authors_as_of(self, session: Session, book_id: int, revision_id: int) -> list[str]:
            found = self._book_as_of(session, book_id, revision_id)
            return [link.author.name for link in found.book_authors if link.state == "active"]

        def all_as_of(self, session: Session, revision_id: int) -> list[Any]:
            return list(session.scalars(
                select(book_version).where(valid_at(book_version, revision_id))))

        def version_titles(self, session: Session, book: Any) -> list[str]:
            return [v.title for v in book.versions]

        def version_count(self, session: Session, cls: Any) -> int | None:
            return self.count(session, version_class(cls))

    PeerAdapter.name = name
    PeerAdapter.Base = Base
    PeerAdapter.Author = Author
    PeerAdapter.Book = Book
    PeerAdapter.BookAuthor = BookAuthor
    return PeerAdapter()
