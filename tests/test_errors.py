"""Bad input: each error names the object, says what to do, writes nothing."""

import pytest
from history_helpers import rows
from models import Book
from sqlalchemy import ForeignKey, String, delete, insert, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, load_only, mapped_column

from vdm import (
    ConfigurationError,
    ConflictError,
    ReadOnlyError,
    UnversionedChangeError,
)
from vdm.sqlalchemy import Revision, Revisioned


def snapshot(engine):
    return {t: rows(engine, f"SELECT * FROM {t} ORDER BY 1, 2")
            for t in ("revision", "book", "book_revision")}


@pytest.fixture
def one_book(session):
    session.revision = Revision(author="a", message="create")
    book = Book(name="b", title="t")
    session.add(book)
    session.commit()
    return book


def test_a_stale_write_raises_conflict_naming_object_and_revision(make_session, engine, one_book):
    alice, bob = make_session(), make_session()
    a_book = alice.get(Book, one_book.id)
    b_book = bob.get(Book, one_book.id)
    alice.revision = Revision(author="alice", message="edit")
    a_book.title = "alice's"
    alice.commit()
    before = snapshot(engine)
    bob.revision = Revision(author="bob", message="edit")
    b_book.title = "bob's"
    with pytest.raises(ConflictError) as caught:
        bob.commit()
    assert str(caught.value) == (
        "Book(id=1) was changed by revision 2 after this session read it (at "
        "revision 1); refresh it (session.refresh(obj)) and apply your change again")
    assert caught.value.obj is b_book and caught.value.revision == 2
    bob.rollback()
    assert snapshot(engine) == before
    bob.revision = Revision(author="bob", message="edit again")
    b_book.title = "bob's"
    bob.commit()
    assert rows(engine, "SELECT title, revision_id FROM book") == [("bob's", 3)]


@pytest.mark.parametrize("statement", [
    update(Book).values(title="bulk"),
    delete(Book).where(Book.name == "b"),
], ids=["update", "delete"])
def test_bulk_statements_on_versioned_classes_are_refused(session, engine, one_book, statement):
    before = snapshot(engine)
    session.revision = Revision(author="a")
    verb = "UPDATE" if "update" in str(type(statement)).lower() else "DELETE"
    with pytest.raises(UnversionedChangeError, match=f"a bulk {verb} statement on Book would bypass its history"):
        session.execute(statement)
    session.rollback()
    assert snapshot(engine) == before


def test_bulk_insert_of_versioned_objects_is_refused(session, engine):
    with pytest.raises(UnversionedChangeError, match="bulk INSERT statement on Book"):
        session.execute(insert(Book), [{"name": "x"}, {"name": "y"}])
    session.rollback()
    assert rows(engine, "SELECT count(*) FROM book") == [(0,)]


def test_versions_cannot_be_deleted_or_added_through_the_session(session, engine, one_book):
    version = one_book.versions[0]
    session.revision = Revision(author="a")
    session.delete(version)
    with pytest.raises(ReadOnlyError, match="versions are read-only"):
        session.flush()
    session.rollback()
    assert len(rows(engine, "SELECT * FROM book_revision")) == 1
    with pytest.raises(UnversionedChangeError, match="BookRevision"):
        session.execute(update(Book.__revision_class__).values(title="x"))


class OtherBase(DeclarativeBase):
    pass


def test_a_versioned_class_without_primary_key_fails_when_declared():
    from sqlalchemy import Column, Integer, Table

    table = Table("nokey", OtherBase.metadata, Column("x", Integer), Column("revision_id", Integer))
    with pytest.raises(Exception) as caught:
        class NoKey(Revisioned, OtherBase):
            __table__ = table
    assert caught.type is ConfigurationError
    assert str(caught.value) == (
        "NoKey (table 'nokey') has no primary key; versioned classes need one "
        "to identify their versions")


def test_concrete_inheritance_of_a_versioned_class_fails_when_declared():
    # Joined and single-table inheritance are versioned (tests/test_inheritance.py).
    class Parent(Revisioned, OtherBase):
        __tablename__ = "parent_inh"
        id: Mapped[int] = mapped_column(primary_key=True)
        kind: Mapped[str] = mapped_column(String(10))
        __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "p"}

    with pytest.raises(ConfigurationError) as caught:
        class Child(Parent):
            __tablename__ = "child_inh"
            id: Mapped[int] = mapped_column(primary_key=True)
            kind: Mapped[str] = mapped_column(String(10))
            revision_id: Mapped[int | None] = mapped_column(ForeignKey("revision.id"))
            __mapper_args__ = {"polymorphic_identity": "c", "concrete": True}
    assert str(caught.value) == (
        "Child uses concrete table inheritance from Parent; vdm versions joined "
        "and single-table inheritance only: declare it as its own Revisioned class")


def test_a_versioned_subclass_of_an_unversioned_class_fails_when_declared():
    class Animal(OtherBase):
        __tablename__ = "animal_inh"
        id: Mapped[int] = mapped_column(primary_key=True)
        kind: Mapped[str] = mapped_column(String(10))
        __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "a"}

    with pytest.raises(ConfigurationError) as caught:
        class Dog(Revisioned, Animal):
            __tablename__ = "dog_inh"
            id: Mapped[int] = mapped_column(ForeignKey("animal_inh.id"), primary_key=True)
            __mapper_args__ = {"polymorphic_identity": "d"}
    assert str(caught.value) == (
        "Dog is versioned but inherits from the mapped class Animal, which is "
        "not; make the base class Revisioned")


def test_a_column_clashing_with_history_bookkeeping_fails_when_declared():
    with pytest.raises(ConfigurationError, match="has a column named 'expired_id'"):
        class Clash(Revisioned, OtherBase):
            __tablename__ = "clash"
            id: Mapped[int] = mapped_column(primary_key=True)
            expired_id: Mapped[int | None]


# -- stale writes found by the flush's own UPDATE and DELETE ------------------

def _ten_books(session):
    session.revision = Revision(author="a", message="ten")
    session.add_all([Book(id=i, name=f"b{i}", title="t") for i in range(1, 11)])
    session.commit()


def test_one_stale_object_among_ten_is_named_exactly(make_session, engine):
    """Bob's flush updates ten books in one executemany; Alice changed the
    seventh meanwhile: the conflict names it and the revision, and nothing
    of Bob's revision remains."""
    alice, bob = make_session(), make_session()
    _ten_books(alice)
    bobs = bob.scalars(select(Book).order_by(Book.id)).all()
    alice.revision = Revision(author="alice", message="edit")
    alice.get(Book, 7).title = "alice's"
    alice.commit()
    before = snapshot(engine)
    bob.revision = Revision(author="bob", message="edit all")
    for book in bobs:
        book.title = "bob's"
    with pytest.raises(ConflictError) as caught:
        bob.commit()
    assert str(caught.value) == (
        "Book(id=7) was changed by revision 2 after this session read it (at "
        "revision 1); refresh it (session.refresh(obj)) and apply your change again")
    assert caught.value.obj is bobs[6] and caught.value.revision == 2
    bob.rollback()
    assert snapshot(engine) == before


def test_a_stale_delete_names_the_object_and_the_revision_exactly(make_session, engine, one_book):
    alice, bob = make_session(), make_session()
    a_book, b_book = alice.get(Book, 1), bob.get(Book, 1)
    alice.revision = Revision(author="alice")
    a_book.title = "new"
    alice.commit()
    before = snapshot(engine)
    bob.revision = Revision(author="bob")
    bob.delete(b_book)
    with pytest.raises(ConflictError) as caught:
        bob.commit()
    assert str(caught.value) == (
        "Book(id=1) was changed by revision 2 after this session read it (at "
        "revision 1); refresh it (session.refresh(obj)) and apply your change again")
    assert caught.value.obj is b_book and caught.value.revision == 2
    bob.rollback()
    assert snapshot(engine) == before


@pytest.mark.parametrize("bobs_change", ["update", "delete"])
def test_writing_a_row_deleted_meanwhile_names_it_exactly(make_session, engine, one_book,
                                                          bobs_change):
    alice, bob = make_session(), make_session()
    a_book, b_book = alice.get(Book, 1), bob.get(Book, 1)
    alice.revision = Revision(author="alice")
    alice.delete(a_book)
    alice.commit()
    before = snapshot(engine)
    bob.revision = Revision(author="bob")
    if bobs_change == "update":
        b_book.title = "new"
    else:
        bob.delete(b_book)
    with pytest.raises(ConflictError) as caught:
        bob.commit()
    assert str(caught.value) == (
        "Book(id=1) was deleted by another transaction after this session "
        "read it; reload your data and decide again")
    assert caught.value.obj is b_book
    bob.rollback()
    assert snapshot(engine) == before


def test_an_object_read_without_its_revision_id_is_written_without_a_false_conflict(
        make_session, engine, one_book):
    alice, bob = make_session(), make_session()
    alice.revision = Revision(author="alice")
    alice.get(Book, 1).title = "alice's"
    alice.commit()
    # Bob never loaded revision_id: nothing he read can be found stale.
    b_book = bob.scalars(select(Book).options(load_only(Book.title))).one()
    assert "revision_id" not in b_book.__dict__
    bob.revision = Revision(author="bob")
    b_book.title = "bob's"
    bob.commit()
    assert rows(engine, "SELECT title, revision_id FROM book") == [("bob's", 3)]
    assert rows(engine, "SELECT revision_id, expired_id FROM book_revision ORDER BY 1") == [
        (1, 2), (2, 3), (3, None)]
