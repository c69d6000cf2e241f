"""Model shapes, part 2: relationships of every kind between versioned classes.

Many-to-one and one-to-many with delete-orphan, self-referential trees,
circular references written with ``post_update``, relationships to an
unversioned class, dynamic and write-only collections, and a foreign key
declared before the class it points to.  Each story is checked against a
reference recording (:mod:`shapes`): columns, versions, changesets, diffs,
the whole-model view, verify, and every relationship of every version as
of every revision.  (Secondary many-to-many tables, inheritance and custom
join conditions are covered by their own suites.)
"""

from __future__ import annotations

import pytest
from shapes import Recorder, check_relationships
from sqlalchemy import ForeignKey, ForeignKeyConstraint, String, select
from sqlalchemy.orm import (
    DeclarativeBase,
    DynamicMapped,
    Mapped,
    Session,
    WriteOnlyMapped,
    mapped_column,
    relationship,
)

from vdm.sqlalchemy import Revisioned, Stateful


class Base(DeclarativeBase):
    pass


class Shelf(Revisioned, Stateful, Base):
    """Declared before Publisher and Author: forward references by string."""

    __tablename__ = "rel_shelf"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(20))
    author_id = mapped_column(ForeignKey("rel_author.id"), nullable=True)  # no type: the target's
    author: Mapped[Author | None] = relationship()


class Publisher(Base):
    """Not versioned."""

    __tablename__ = "rel_publisher"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


class Author(Revisioned, Stateful, Base):
    __tablename__ = "rel_author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    favourite_id: Mapped[int | None] = mapped_column(
        ForeignKey("rel_book.id", use_alter=True, name="fk_author_favourite"))
    books: Mapped[list[Book]] = relationship(
        back_populates="author", cascade="all, delete-orphan",
        foreign_keys="Book.author_id", order_by="Book.id")
    favourite: Mapped[Book | None] = relationship(
        foreign_keys=[favourite_id], post_update=True)
    letters: DynamicMapped[Letter] = relationship(lazy="dynamic", back_populates="author")
    notes: WriteOnlyMapped[Memo] = relationship(back_populates="author")


class Book(Revisioned, Stateful, Base):
    __tablename__ = "rel_book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("rel_author.id"))
    publisher_id: Mapped[int | None] = mapped_column(ForeignKey("rel_publisher.id"))
    author: Mapped[Author | None] = relationship(
        back_populates="books", foreign_keys=[author_id])
    publisher: Mapped[Publisher | None] = relationship()


class Letter(Revisioned, Base):
    __tablename__ = "rel_letter"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[int] = mapped_column(ForeignKey("rel_author.id"))
    author: Mapped[Author] = relationship(back_populates="letters")


class Memo(Revisioned, Base):
    __tablename__ = "rel_memo"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[int] = mapped_column(ForeignKey("rel_author.id"))
    author: Mapped[Author] = relationship(back_populates="notes")


class Node(Revisioned, Stateful, Base):
    """Self-referential tree."""

    __tablename__ = "rel_node"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("rel_node.id"))
    parent: Mapped[Node | None] = relationship(back_populates="children", remote_side=[id])
    children: Mapped[list[Node]] = relationship(back_populates="parent")


CLASSES = [Shelf, Author, Book, Letter, Memo, Node]


@pytest.fixture
def recorder(engine):
    Base.metadata.create_all(engine)
    yield Recorder(engine, Base.metadata, CLASSES)
    # The metadata knows the author/book cycle (use_alter); a reflected one does not.
    Base.metadata.drop_all(engine)


def test_a_typeless_foreign_key_follows_its_target_declared_later():
    column = Shelf.__revision_class__.__table__.c.author_id
    assert column.type._type_affinity is Author.__table__.c.id.type._type_affinity


def test_parents_children_and_orphans(recorder):
    with Session(recorder.engine) as session:
        with recorder.revision(session, "a family"):
            acme = Publisher(id=1, name="acme")
            tolstoy = Author(id=1, name="tolstoy", books=[
                Book(id=1, title="war", publisher=acme), Book(id=2, title="anna")])
            session.add_all([tolstoy, Shelf(id=1, label="top", author=tolstoy)])
        with recorder.revision(session, "a favourite (post_update) and a retitle"):
            tolstoy.favourite = tolstoy.books[0]
            tolstoy.books[1].title = "anna k"
        with recorder.revision(session, "an orphan goes, a book moves"):
            dostoevsky = Author(id=2, name="dostoevsky")
            session.add(dostoevsky)
            tolstoy.favourite = None
            session.flush()
            orphan = tolstoy.books[0]
            tolstoy.books.remove(orphan)
            tolstoy.books[0].author = dostoevsky
        with recorder.revision(session, "soft delete of an author"):
            dostoevsky.delete()
            session.get(Shelf, 1).author = dostoevsky
    recorder.check()
    check_relationships(recorder, Author, ["books", "favourite"])
    check_relationships(recorder, Book, ["author", "publisher"])
    check_relationships(recorder, Shelf, ["author"])


def test_self_referential_tree(recorder):
    with Session(recorder.engine) as session:
        with recorder.revision(session, "a tree"):
            root = Node(id=1, name="root", children=[Node(id=2, name="a"), Node(id=3, name="b")])
            session.add(root)
        with recorder.revision(session, "a move"):
            a, b = sorted(root.children, key=lambda n: n.id)
            b.parent = a
        with recorder.revision(session, "a soft delete and a hard delete"):
            a.delete()
            b.parent = None
            session.flush()
            session.delete(b)
    recorder.check()
    check_relationships(recorder, Node, ["parent", "children"])


def test_dynamic_and_write_only_collections(recorder):
    with Session(recorder.engine) as session:
        with recorder.revision(session, "letters and memos"):
            author = Author(id=1, name="chekhov")
            session.add(author)
            author.letters.append(Letter(id=1, text="dear"))
            author.notes.add(Memo(id=1, text="remember"))
        with recorder.revision(session, "more"):
            author.letters.append(Letter(id=2, text="again"))
            memo = session.scalars(select(Memo)).one()
            memo.text = "forgot"
        with recorder.revision(session, "one goes"):
            session.delete(session.get(Letter, 1))
    recorder.check()
    check_relationships(recorder, Author, ["letters", "notes"])
    check_relationships(recorder, Letter, ["author"])


class KeyedBase(DeclarativeBase):
    pass


class Volume(Revisioned, Stateful, KeyedBase):
    """A composite natural key whose columns are named unlike their attributes."""

    __tablename__ = "rel_volume"
    series: Mapped[str] = mapped_column("series_code", String(10), primary_key=True)
    number: Mapped[int] = mapped_column("volume_no", primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(20))
    chapters: Mapped[list[Chapter]] = relationship(back_populates="volume")


class Chapter(Revisioned, KeyedBase):
    """A composite foreign key to it, also renamed."""

    __tablename__ = "rel_chapter"
    __table_args__ = (ForeignKeyConstraint(
        ["vol_series", "vol_number"], ["rel_volume.series_code", "rel_volume.volume_no"]),)
    id: Mapped[int] = mapped_column("chapter_id", primary_key=True)
    series: Mapped[str | None] = mapped_column("vol_series", String(10))
    number: Mapped[int | None] = mapped_column("vol_number")
    volume: Mapped[Volume | None] = relationship(back_populates="chapters")


def test_composite_renamed_keys_across_a_relationship(engine):
    KeyedBase.metadata.create_all(engine)
    recorder = Recorder(engine, KeyedBase.metadata, [Volume, Chapter])
    with Session(engine) as session:
        with recorder.revision(session, "two volumes"):
            one = Volume(series="lotr", number=1, title="fellowship",
                         chapters=[Chapter(id=1), Chapter(id=2)])
            two = Volume(series="lotr", number=2, title="towers")
            session.add_all([one, two])
        with recorder.revision(session, "a chapter moves, a title changes"):
            one.chapters[1].volume = two
            two.title = "two towers"
        with recorder.revision(session, "a volume is deleted"):
            one.delete()
            session.delete(one.chapters[0])
    recorder.check()
    check_relationships(recorder, Volume, ["chapters"])
    check_relationships(recorder, Chapter, ["volume"])
