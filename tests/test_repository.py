"""The SQLAlchemy repository: limited to some classes, and key columns named as the model does
(the behaviour both backends share is in tests/acceptance)."""

import pytest
from history_helpers import rows
from models import Author, Base, Book, License

from vdm import IntegrityViolation
from vdm.sqlalchemy import Repository


@pytest.fixture
def repo(session):
    return Repository(Base.metadata, session)


def commit(repo, message, change):
    repo.new_revision(author="tester", message=message)
    change()
    repo.commit()
    return repo.youngest_revision()


@pytest.fixture
def story(repo, session):
    """r1: two books; r2: retitle one, add an author; r3: hard-delete the other."""
    books = {}

    def r1():
        books["a"] = Book(name="a", title="A")
        books["b"] = Book(name="b", title="B")
        session.add_all(books.values())

    def r2():
        books["a"].title = "A2"
        books["a"].authors.append(Author(name="x"))

    def r3():
        session.delete(books["b"])

    for message, change in (("r1", r1), ("r2", r2), ("r3", r3)):
        commit(repo, message, change)
    return books


def test_a_repository_can_be_limited_to_some_classes(session, story):
    repo = Repository(Base.metadata, session, versioned_objects=[License])
    assert [v.cls for v in repo.versioned_classes] == [License]
    assert repo.list_changes(1) == {License: []}


def test_purge_messages_name_key_columns_as_the_model_does(engine):
    from sqlalchemy import ForeignKey
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    from vdm.sqlalchemy import Revisioned

    class KeyBase(DeclarativeBase):
        pass

    class Shelf(Revisioned, KeyBase):
        __tablename__ = "keyed_shelf"
        id: Mapped[int] = mapped_column("shelf_no", primary_key=True)

    class Box(Revisioned, KeyBase):
        __tablename__ = "keyed_box"
        id: Mapped[int] = mapped_column("box_no", primary_key=True)
        shelf_id: Mapped[int] = mapped_column("on_shelf", ForeignKey("keyed_shelf.shelf_no"))

    KeyBase.metadata.create_all(engine)
    try:
        with Session(engine) as session:
            repo = Repository(KeyBase.metadata, session)
            commit(repo, "shelf", lambda: session.add(Shelf(id=1)))
            commit(repo, "box", lambda: session.add(Box(id=5, shelf_id=1)))
            with pytest.raises(IntegrityViolation) as refused:
                repo.purge_revision(1)
            assert str(refused.value) == (
                "cannot purge revision 1: it created Shelf(shelf_no=1), which Box(box_no=5) refers "
                "to in revision 2; purge that revision first")
            with pytest.raises(IntegrityViolation) as refused:
                repo.purge(session.get(Shelf, 1))
            assert str(refused.value) == (
                "cannot purge Shelf(shelf_no=1): 1 row(s) of 'keyed_box' still refer to it "
                "(Box(box_no=5)); purge or change those first")
            session.rollback()
            repo.purge_revision(2)
            repo.purge(session.get(Shelf, 1))
            assert rows(engine, "SELECT COUNT(*) FROM keyed_shelf_revision") == [(0,)]
            assert repo.verify() == []
    finally:
        KeyBase.metadata.drop_all(engine)
