"""The model and the story of ``vdm demo``.

Two novels, one typo and one regretted delete, told in four revisions:

1. an editor adds "warandpeace" (title misspelt "War and Peacee") and
   "annakarenina";
2. a proofreader fixes the typo and records the author, tolstoy;
3. the editor deletes "annakarenina" (a soft delete: a change of state);
4. the editor undeletes it.

The module imports SQLAlchemy, so :mod:`vdm.cli` imports it only when the
demo runs.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from vdm.sqlalchemy import Repository, Revisioned, Stateful


class Base(DeclarativeBase):
    """The demo's own declarative base (and so its own metadata)."""


class Book(Revisioned, Stateful, Base):
    """A book: versioned, and stateful so that it can be deleted softly."""

    __tablename__ = "book"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(String(200))
    authors: Mapped[list[Author]] = relationship(back_populates="book", order_by="Author.id")


class Author(Revisioned, Base):
    """An author of one book: versioned, not stateful."""

    __tablename__ = "author"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    book_id: Mapped[int | None] = mapped_column(ForeignKey("book.id"))
    book: Mapped[Book | None] = relationship(back_populates="authors")


def book_named(session: Session, name: str) -> Book:
    """The live book called ``name``."""
    return session.scalars(select(Book).filter_by(name=name)).one()


def tell_story(repo: Repository, say: Callable[[str], None]) -> None:
    """Write the story's four revisions through ``repo``, narrating each.

    ``repo``'s database must hold the demo's tables and no revisions yet.
    """
    session = repo.session
    assert isinstance(session, Session)

    repo.new_revision(author="editor", message="Add two novels")
    session.add_all([
        Book(name="warandpeace", title="War and Peacee"),
        Book(name="annakarenina", title="Anna Karenina"),
    ])
    repo.commit()
    say("revision 1: the editor adds warandpeace (title 'War and Peacee', a typo) "
        "and annakarenina")

    repo.new_revision(author="proofreader", message="Fix the typo, add the author")
    warandpeace = book_named(session, "warandpeace")
    warandpeace.title = "War and Peace"
    warandpeace.authors.append(Author(name="tolstoy"))
    repo.commit()
    say("revision 2: the proofreader fixes the title to 'War and Peace' "
        "and adds the author tolstoy")

    repo.new_revision(author="editor", message="Remove Anna Karenina")
    book_named(session, "annakarenina").delete()
    repo.commit()
    say("revision 3: the editor deletes annakarenina (soft delete: its state "
        "becomes 'deleted')")

    repo.new_revision(author="editor", message="Bring Anna Karenina back")
    book_named(session, "annakarenina").undelete()
    repo.commit()
    say("revision 4: the editor undeletes annakarenina (state 'active' again)")


def browse_hint(url: str) -> str:
    """The demo's last words: how to look at its story in a web browser."""
    return (f"Browse this story in a web browser: vdm serve --url {url} "
            f"(with the serve extra: pip install -e '.[serve]'), then open "
            f"http://127.0.0.1:8000/")
