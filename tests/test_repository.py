"""The repository: set-up, history, list_changes, purge and verify."""

import pytest
from history_helpers import rows
from models import Author, Base, Book, License
from sqlalchemy import inspect, select, text

from vdm import IntegrityViolation, Operation
from vdm.sqlalchemy import Repository, Revision


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


def test_create_clean_and_rebuild_db(engine, session):
    repo = Repository(Base.metadata, session)
    repo.clean_db()
    assert "revision" not in inspect(engine).get_table_names()
    repo.create_db()
    names = set(inspect(engine).get_table_names())
    assert {"revision", "revision_sequence", "book", "book_revision", "author_revision"} <= names
    commit(repo, "one", lambda: session.add(Book(name="x")))
    repo.rebuild_db()
    assert rows(engine, "SELECT count(*) FROM book") == [(0,)]
    assert rows(engine, "SELECT last_id FROM revision_sequence") == [(0,)]


def test_history_is_newest_first_and_pageable(repo, story):
    assert [r.message for r in repo.history()] == ["r3", "r2", "r1"]
    assert [r.message for r in repo.history(limit=2)] == ["r3", "r2"]
    assert [r.message for r in repo.history(limit=2, offset=2)] == ["r1"]
    assert repo.youngest_revision().message == "r3"


def test_list_changes_reports_every_version_a_revision_wrote(repo, story):
    changes = repo.list_changes(2)
    assert {cls.__name__: sorted((v.name, v.operation_type) for v in versions)
            for cls, versions in changes.items()} == {
        "Book": [("a", Operation.UPDATE)], "Author": [("x", Operation.INSERT)],
        # Every versioned class is listed, as vdm 0.15 did; unchanged ones with [].
        "License": [], "Edition": []}
    assert [(v.name, v.operation_type) for v in repo.list_changes(3)[Book]] == [("b", Operation.DELETE)]


def test_purging_a_middle_revision_rewrites_history_as_if_it_never_happened(repo, story, engine):
    repo.purge_revision(2)
    assert [r.message for r in repo.history()] == ["r3", "r1"]
    assert rows(engine, "SELECT name, title, revision_id FROM book") == [("a", "A", 1)]
    assert rows(engine, "SELECT count(*) FROM author") == [(0,)]
    assert rows(engine, "SELECT name, revision_id, expired_id, operation_type FROM book_revision ORDER BY name, revision_id") == [
        ("a", 1, None, 0), ("b", 1, 3, 0), ("b", 3, None, 2)]
    assert repo.verify() == []


def test_purging_a_hard_delete_brings_the_object_back(repo, story, engine):
    repo.purge_revision(3)
    assert rows(engine, "SELECT name, title, revision_id FROM book ORDER BY name") == [
        ("a", "A2", 2), ("b", "B", 1)]
    assert repo.verify() == []


def test_purging_the_creating_revision_erases_later_traces(repo, story, engine):
    repo.purge_revision(1)
    assert rows(engine, "SELECT name, title FROM book") == [("a", "A2")]
    assert rows(engine, "SELECT name, revision_id, operation_type FROM book_revision ORDER BY name, revision_id") == [
        ("a", 2, 0)]
    assert repo.verify() == []


def test_purge_revision_can_leave_a_record(repo, story, engine):
    repo.purge_revision(3, leave_record=True)
    assert rows(engine, "SELECT id, state FROM revision ORDER BY id") == [
        (1, "active"), (2, "active"), (3, "deleted")]
    assert repo.verify() == []


def test_purge_erases_an_object_and_its_history(repo, story, engine, session):
    author = session.scalars(select(Author)).one()
    repo.purge(author)
    assert rows(engine, "SELECT count(*) FROM author") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM author_revision") == [(0,)]
    assert repo.verify() == []


def test_purge_refuses_an_object_live_rows_refer_to(repo, story, engine, session):
    book = session.scalars(select(Book).filter_by(name="a")).one()
    with pytest.raises(IntegrityViolation, match=r"cannot purge Book\(id=1\): 1 row\(s\) of 'author' still refer to it"):
        repo.purge(book)
    session.rollback()
    assert rows(engine, "SELECT count(*) FROM book_revision WHERE name = 'a'") == [(2,)]


@pytest.mark.parametrize(("fault", "kind"), [
    ("DELETE FROM book_revision WHERE name = 'a' AND expired_id IS NULL", "missing-version"),
    ("UPDATE book_revision SET expired_id = NULL WHERE name = 'a'", "multiple-current"),
    ("UPDATE book_revision SET expired_id = 3 WHERE name = 'a' AND revision_id = 1", "gap"),
    ("UPDATE book SET title = 'tampered' WHERE name = 'a'", "head-mismatch"),
    ("UPDATE book_revision SET expired_id = 1 WHERE name = 'a' AND revision_id = 1", "bad-interval"),
    ("INSERT INTO book_revision (id, name, revision_id, operation_type, state) VALUES (1, 'a', 9, 1, 'active')", "missing-revision"),
    ("DELETE FROM author", "orphan-current"),
])
def test_verify_finds_each_kind_of_broken_history(repo, story, engine, fault, kind):
    assert repo.verify() == []
    with engine.begin() as conn:
        # Inject the fault past the foreign keys, as a broken tool would.
        if engine.dialect.name in ("mysql", "mariadb"):
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        elif engine.dialect.name == "postgresql":
            conn.execute(text("SET session_replication_role = replica"))
        conn.execute(text(fault))
    repo.session.rollback()
    found = repo.verify()
    assert kind in {v.kind for v in found}, found


def test_a_repository_can_be_limited_to_some_classes(session, story):
    repo = Repository(Base.metadata, session, versioned_objects=[License])
    assert [v.cls for v in repo.versioned_classes] == [License]
    assert repo.list_changes(1) == {License: []}


def test_new_revision_sets_the_sessions_revision(repo, session):
    rev = repo.new_revision(author="me", message="hello")
    assert session.revision is rev and isinstance(rev, Revision)


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
