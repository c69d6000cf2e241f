"""The write path: one version per object per revision, intervals, collapse."""

import pytest
from history_helpers import revision_ids, rows, version_rows
from models import Author, Base, Book, Edition, License
from sqlalchemy import select

from vdm import Operation
from vdm.sqlalchemy import DEFERRED_REVISION_IDS, Repository, Revision


def commit_revision(session, message="change"):
    session.revision = Revision(author="tester", message=message)
    return session


def test_each_change_writes_one_version_with_a_closed_interval(session, engine):
    commit_revision(session, "create")
    book = Book(name="b", title="one")
    session.add(book)
    session.commit()
    commit_revision(session, "edit")
    book.title = "two"
    session.commit()
    assert version_rows(engine, "book") == [
        (book.id, 1, 2, Operation.INSERT), (book.id, 2, None, Operation.UPDATE)]
    assert rows(engine, "SELECT revision_id FROM book") == [(2,)]


def test_several_flushes_in_one_revision_leave_one_version_with_the_last_values(session, engine):
    commit_revision(session)
    book = Book(name="b", title="one")
    session.add(book)
    session.flush()
    book.title = "two"
    session.flush()
    book.title = "three"
    session.commit()
    assert rows(engine, "SELECT title, operation_type, expired_id FROM book_revision") == [
        ("three", 0, None)]
    commit_revision(session)
    book.title = "four"
    session.flush()
    book.title = "five"
    session.commit()
    assert rows(engine, "SELECT title, operation_type, expired_id FROM book_revision ORDER BY revision_id") == [
        ("three", 0, 2), ("five", 1, None)]


def test_assigning_an_unchanged_value_writes_nothing(session, engine):
    commit_revision(session)
    book = Book(name="b", title="same")
    session.add(book)
    session.commit()
    commit_revision(session, "no-op")
    book.title = "same"
    session.commit()
    assert revision_ids(engine) == [1]
    assert len(version_rows(engine, "book")) == 1


def test_a_revision_that_changed_nothing_leaves_no_row(session, engine):
    commit_revision(session, "nothing")
    session.commit()
    assert revision_ids(engine) == []
    assert session.revision is None


def test_an_object_created_with_only_defaults_is_recorded(session, engine):
    commit_revision(session)
    session.add(License())
    session.commit()
    assert rows(engine, "SELECT name, operation_type FROM license_revision") == [(None, 0)]


def test_a_hard_delete_writes_a_delete_version_and_keeps_history(session, engine):
    commit_revision(session)
    book = Book(name="b", title="t")
    session.add(book)
    session.commit()
    book_id = book.id
    commit_revision(session, "destroy")
    session.delete(book)
    session.commit()
    assert rows(engine, "SELECT count(*) FROM book") == [(0,)]
    assert version_rows(engine, "book", "id, revision_id, expired_id, operation_type, title") == [
        (book_id, 1, 2, 0, "t"), (book_id, 2, None, 2, "t")]


def test_created_and_destroyed_in_one_revision_leaves_nothing(session, engine):
    commit_revision(session)
    session.add(Book(name="keep"))
    book = Book(name="tmp")
    session.add(book)
    session.flush()
    session.delete(book)
    session.commit()
    assert rows(engine, "SELECT name FROM book_revision") == [("keep",)]


def test_deleted_and_recreated_in_one_revision_is_an_update(session, engine):
    commit_revision(session)
    session.add(Edition(book_name="b", number=1, pages=10))
    session.commit()
    commit_revision(session)
    session.delete(session.get(Edition, ("b", 1)))
    session.flush()
    session.add(Edition(book_name="b", number=1, pages=20))
    session.commit()
    assert rows(engine, "SELECT revision_id, expired_id, operation_type, pages FROM edition_revision ORDER BY revision_id") == [
        (1, 2, 0, 10), (2, None, 1, 20)]


def test_commit_makes_the_revision_permanent_and_clears_it(session, engine):
    rev = commit_revision(session).revision
    session.add(Book(name="b"))
    session.commit()
    assert session.revision is None
    assert rev.id == 1 and rev.timestamp is not None
    assert rows(engine, "SELECT id, author, message, state FROM revision") == [
        (1, "tester", "change", "active")]


def test_rollback_leaves_no_trace_of_the_revision(session, engine):
    rev = commit_revision(session).revision
    session.add(Book(name="b"))
    session.flush()
    assert rev.id is not None
    session.rollback()
    assert session.revision is None and rev.id is None
    assert rows(engine, "SELECT count(*) FROM revision") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM book_revision") == [(0,)]
    session.revision = rev
    session.add(Book(name="again"))
    session.commit()
    assert rows(engine, "SELECT name, revision_id FROM book_revision") == [("again", rev.id)]


def test_a_rolled_back_savepoint_forgets_its_versions(session, engine):
    commit_revision(session)
    session.add(Book(name="outer", title="o"))
    session.flush()
    with session.begin_nested() as savepoint:
        session.add(Book(name="inner"))
        session.flush()
        savepoint.rollback()
    outer = session.scalars(select(Book).filter_by(name="outer")).one()
    outer.title = "o2"
    session.commit()
    assert rows(engine, "SELECT name, title, operation_type FROM book_revision") == [
        ("outer", "o2", 0)]


def test_a_savepoint_that_wrote_the_revision_row_rolls_it_back_too(session, engine):
    commit_revision(session)
    with session.begin_nested() as savepoint:
        session.add(Book(name="inner"))
        session.flush()
        savepoint.rollback()
    session.add(Book(name="after"))
    session.commit()
    assert rows(engine, "SELECT name, revision_id FROM book_revision") == [("after", 1)]
    assert revision_ids(engine) == [1]


def test_one_to_many_changes_version_the_child_whose_key_changed(session, engine):
    commit_revision(session)
    a, b = Book(name="a"), Book(name="b")
    author = Author(name="x")
    a.authors.append(author)
    session.add_all([a, b])
    session.commit()
    commit_revision(session, "move")
    b.authors.append(author)
    session.commit()
    assert rows(engine, "SELECT book_id, revision_id, expired_id FROM author_revision ORDER BY revision_id") == [
        (a.id, 1, 2), (b.id, 2, None)]


def test_changing_a_primary_key_ends_the_old_object_and_starts_a_new_one(session, engine):
    commit_revision(session)
    session.add(Edition(book_name="b", number=1))
    session.commit()
    commit_revision(session)
    session.get(Edition, ("b", 1)).number = 2
    session.commit()
    assert rows(engine, "SELECT number, revision_id, expired_id, operation_type FROM edition_revision ORDER BY number, revision_id") == [
        (1, 1, 2, 0), (1, 2, None, 2), (2, 2, None, 0)]


@pytest.mark.parametrize("author", ["", "a" * 200])
def test_revision_metadata_is_stored_as_given(session, engine, author):
    session.revision = Revision(author=author, message="m\nmultiline", extra={"request": "r-1"})
    session.add(Book(name="b"))
    session.commit()
    assert rows(engine, "SELECT author, message FROM revision") == [(author, "m\nmultiline")]
    stored = session.get(Revision, 1)
    assert stored.extra == {"request": "r-1"}


def test_timestamps_are_utc_and_never_decrease(session, engine):
    import datetime as dt

    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for i in range(3):
        commit_revision(session)
        session.add(Book(name=f"b{i}"))
        session.commit()
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    stamps = list(session.scalars(select(Revision.timestamp).order_by(Revision.id)))
    assert stamps == sorted(stamps)
    assert before - dt.timedelta(seconds=1) <= stamps[0] and stamps[-1] <= after + dt.timedelta(seconds=1)


def test_automatic_revisions_are_opt_in_with_a_default_author(make_session, engine):
    from vdm.sqlalchemy import AUTO_REVISION_AUTHOR

    session = make_session(info={AUTO_REVISION_AUTHOR: "importer"})
    session.add(Book(name="b"))
    session.commit()
    assert rows(engine, "SELECT author FROM revision") == [("importer",)]


def test_deleting_and_re_adding_the_same_key_in_one_flush_is_versioned(session, engine):
    # SQLAlchemy writes this as one UPDATE (a "row switch"); the history
    # must still record the new object's values for the revision.
    commit_revision(session, "create")
    session.add(Book(id=7, name="old", title="one"))
    session.commit()
    commit_revision(session, "replace")
    session.delete(session.get(Book, 7))
    session.add(Book(id=7, name="new", title="two"))
    session.commit()
    assert rows(engine, "SELECT name, title, revision_id, expired_id, operation_type "
                        "FROM book_revision ORDER BY revision_id") == [
        ("old", "one", 1, 2, Operation.INSERT), ("new", "two", 2, None, Operation.UPDATE)]
    assert Repository(Base.metadata, session).verify() == []
    assert session.get(Book, 7).get_as_of(1).name == "old"


def test_a_row_switch_of_an_object_created_in_the_same_revision_stays_an_insert(session, engine):
    commit_revision(session, "create and replace")
    session.add(Book(id=7, name="old", title="one"))
    session.flush()
    session.delete(session.get(Book, 7))
    session.add(Book(id=7, name="new", title="two"))
    session.commit()
    assert rows(engine, "SELECT name, revision_id, expired_id, operation_type "
                        "FROM book_revision") == [("new", 1, None, Operation.INSERT)]


@pytest.mark.parametrize("deferred", [False, True], ids=["ids-at-first-flush", "ids-at-commit"])
def test_a_savepoint_rolled_back_leaves_the_rest_of_the_revision_with_its_final_id(
        session, engine, deferred):
    session.info[DEFERRED_REVISION_IDS] = deferred
    commit_revision(session, "create")
    kept, dropped = Book(name="kept", title="k0"), Book(name="dropped", title="d0")
    session.add_all([kept, dropped])
    session.commit()
    session.expire_on_commit = False
    commit_revision(session, "edit")
    kept.title = "k1"
    session.flush()
    with session.begin_nested() as savepoint:
        dropped.title = "d1"
        Book(name="never", title="n")
        session.flush()
        savepoint.rollback()
    kept.title = "k2"
    session.commit()
    assert revision_ids(engine) == [1, 2]
    assert kept.revision_id == 2 and dropped.revision_id == 1
    assert rows(engine, "SELECT name, title, revision_id FROM book ORDER BY name") == [
        ("dropped", "d0", 1), ("kept", "k2", 2)]
    assert version_rows(engine, "book", "title, revision_id, expired_id") == [
        ("k0", 1, 2), ("k2", 2, None), ("d0", 1, None)]


@pytest.mark.parametrize("deferred", [False, True], ids=["ids-at-first-flush", "ids-at-commit"])
def test_a_revision_that_writes_and_takes_everything_back_takes_no_id(session, engine, deferred):
    session.info[DEFERRED_REVISION_IDS] = deferred
    commit_revision(session, "create")
    book = Book(name="b", title="same")
    session.add(book)
    session.commit()
    commit_revision(session, "and back")
    book.title = "other"
    session.flush()
    book.title = "same"
    session.commit()
    commit_revision(session, "next")
    book.title = "new"
    session.commit()
    # The undone revision left no row, and took no id: the next one is 2.
    assert revision_ids(engine) == [1, 2]
    assert version_rows(engine, "book", "title, revision_id, expired_id") == [
        ("same", 1, 2), ("new", 2, None)]
