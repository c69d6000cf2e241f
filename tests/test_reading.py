"""Reading history: get_as_of, versions, relationships in time, diffs."""

import datetime as dt

import pytest
from models import Author, Book, Edition, License, Publisher
from sqlalchemy import select

from vdm import Operation, ReadOnlyError, RevisionNotFoundError
from vdm.sqlalchemy import Revision, changeset


def revise(session, message="change"):
    rev = Revision(author="tester", message=message)
    session.revision = rev
    return rev


@pytest.fixture
def three_revisions(session):
    """r1 creates the book, r2 fixes the title, r3 soft-deletes it."""
    r1 = revise(session, "create")
    book = Book(name="wp", title="War and Peacee", text="line one\nline two")
    session.add(book)
    session.commit()
    r2 = revise(session, "fix")
    book.title = "War and Peace"
    book.text = "line one\nline 2"
    session.commit()
    r3 = revise(session, "delete")
    book.delete()
    session.commit()
    return book, r1, r2, r3


def test_get_as_of_accepts_a_revision_its_id_or_a_datetime(three_revisions):
    book, r1, r2, r3 = three_revisions
    assert book.get_as_of(r1).title == "War and Peacee"
    assert book.get_as_of(r2.id).title == "War and Peace"
    assert book.get_as_of(r3.timestamp).state == "deleted"
    assert book.get_as_of(r1.timestamp + dt.timedelta(microseconds=1)).revision_id in (1, 2)


def test_get_as_of_before_the_object_existed_is_none(session, three_revisions):
    book, r1, r2, r3 = three_revisions
    revise(session)
    other = Book(name="later")
    session.add(other)
    session.commit()
    assert other.get_as_of(r3) is None
    assert other.get_as_of(other.revision).name == "later"


def test_get_as_of_an_unknown_revision_or_too_early_a_time_is_an_error(three_revisions):
    book, r1, r2, r3 = three_revisions
    with pytest.raises(RevisionNotFoundError, match="there is no revision with id 99"):
        book.get_as_of(99)
    with pytest.raises(RevisionNotFoundError, match="no revision at or before 2000-01-01"):
        book.get_as_of(dt.datetime(2000, 1, 1))


def test_get_as_of_does_not_change_what_the_session_writes_next(session, three_revisions, engine):
    book, r1, r2, r3 = three_revisions
    book.title = "Pending"
    old = book.get_as_of(r1)
    assert old.title == "War and Peacee"
    assert book.title == "Pending"
    revise(session)
    session.commit()
    from history_helpers import rows
    assert rows(engine, "SELECT title FROM book") == [("Pending",)]


def test_versions_are_read_only(three_revisions):
    book, r1, *_ = three_revisions
    old = book.get_as_of(r1)
    with pytest.raises(ReadOnlyError, match=r"Book\(id=1\) as of revision 1 is a version and read-only"):
        old.title = "x"
    assert old.title == "War and Peacee"


def test_versions_and_all_revisions_list_history_both_ways(three_revisions):
    book, r1, r2, r3 = three_revisions
    assert [v.revision_id for v in book.versions] == [1, 2, 3]
    assert [v.revision_id for v in book.all_revisions] == [3, 2, 1]
    first, second, third = book.versions
    assert [v.index for v in book.versions] == [0, 1, 2]
    assert first.previous is None and first.next is second and second.next is third
    assert third.next is None and third.previous is second
    assert [v.operation_type for v in book.versions] == [Operation.INSERT, Operation.UPDATE, Operation.UPDATE]
    assert first.revision.message == "create" and second.revision.author == "tester"
    assert first.continuity is book


def test_changeset_covers_own_columns_and_state_but_no_bookkeeping(three_revisions):
    book, *_ = three_revisions
    first, second, third = book.versions
    assert first.changeset == {"id": [None, 1], "name": [None, "wp"], "title": [None, "War and Peacee"],
                               "text": [None, "line one\nline two"], "state": [None, "active"]}
    assert second.changeset == {"title": ["War and Peacee", "War and Peace"],
                                "text": ["line one\nline two", "line one\nline 2"]}
    assert third.changeset == {"state": ["active", "deleted"]}


def test_versions_reflect_committed_history_without_expire_on_commit(make_session):
    session = make_session(expire_on_commit=False)
    revise(session)
    book = Book(name="b", title="1")
    session.add(book)
    session.commit()
    assert len(book.versions) == 1
    revise(session)
    book.title = "2"
    session.commit()
    assert [v.title for v in book.versions] == ["1", "2"]


def test_diff_is_in_vdm_text_format(three_revisions):
    book, r1, r2, r3 = three_revisions
    assert book.diff(to_revision=r2, from_revision=r1) == {
        "title": "- War and Peacee\n?              -\n+ War and Peace",
        "text": "  line one\n- line two\n+ line 2",
    }
    assert book.diff() == {"state": "- active\n+ deleted"}
    assert book.diff(r2) == book.diff(r2, r1)


def test_pending_changeset_is_new_then_old(session, three_revisions):
    book, *_ = three_revisions
    assert changeset(book) == {}
    book.title = "New"
    assert changeset(book) == {"title": ["New", "War and Peace"]}


def test_a_versions_many_to_one_follows_the_key_stored_in_the_version(session):
    revise(session, "r1")
    gpl, mit = License(name="GPL"), License(name="MIT")
    book = Book(name="b", license=gpl, publisher=Publisher(name="pub"))
    session.add_all([book, mit])
    session.commit()
    r2 = revise(session, "r2: relicense")
    book.license = mit
    session.commit()
    revise(session, "r3: rename GPL")
    gpl.name = "GPL-3"
    session.commit()
    old = book.get_as_of(1)
    assert old.license.name == "GPL" and old.license.revision_id == 1
    assert book.get_as_of(r2).license.name == "MIT"
    assert book.get_as_of(3).license.name == "MIT"
    assert old.publisher.name == "pub" and isinstance(old.publisher, Publisher)


def test_a_collection_as_of_lists_what_was_active_then(session):
    revise(session)
    book = Book(name="b")
    book.authors.append(Author(name="a1"))
    session.add(book)
    session.commit()
    revise(session)
    book.authors.append(Author(name="a2"))
    session.commit()
    revise(session)
    book.authors[0].delete()
    book.title = "touched"
    session.commit()
    assert [a.name for a in book.get_as_of(1).authors] == ["a1"]
    assert [a.name for a in book.get_as_of(2).authors] == ["a1", "a2"]
    assert [a.name for a in book.get_as_of(3).authors] == ["a2"]
    assert book.get_as_of(3).authors[0].book.name == "b"


def test_revert_brings_back_old_values_as_a_new_revision(session, three_revisions):
    book, r1, r2, r3 = three_revisions
    revise(session, "revert")
    book.get_as_of(r1).revert()
    session.commit()
    assert book.title == "War and Peacee" and book.state == "active"
    assert book.versions[-1].changeset == {
        "title": ["War and Peace", "War and Peacee"],
        "text": ["line one\nline 2", "line one\nline two"],
        "state": ["deleted", "active"]}


def test_revert_recreates_a_hard_deleted_object(session, engine):
    revise(session)
    session.add(Edition(book_name="b", number=1, pages=5))
    session.commit()
    revise(session)
    session.delete(session.get(Edition, ("b", 1)))
    session.commit()
    assert session.get(Edition, ("b", 1)) is None
    version = session.scalars(select(Edition.__revision_class__).where(
        Edition.__revision_class__.revision_id == 1)).one()
    revise(session, "bring back")
    restored = version.revert()
    session.commit()
    assert session.get(Edition, ("b", 1)) is restored and restored.pages == 5
    assert [v.operation_type for v in restored.versions] == [Operation.INSERT, Operation.DELETE, Operation.INSERT]


def test_a_dynamic_relationship_of_a_version_gives_a_query_as_of_its_revision(session):
    revise(session)
    book = Book(name="b")
    book.authors.append(Author(name="a1"))
    session.add(book)
    session.commit()
    revise(session)
    book.authors.append(Author(name="a2"))
    book.title = "t"
    session.commit()
    query = book.get_as_of(1).author_query
    assert [a.name for a in session.scalars(query)] == ["a1"]
    assert [a.name for a in session.scalars(book.get_as_of(2).author_query.where(
        Author.__revision_class__.name == "a2"))] == ["a2"]


def test_the_changeset_of_an_object_deleted_right_after_a_commit_lists_its_values(session):
    revise(session, "r1")
    book = Book(name="b", title="T")
    session.add(book)
    session.commit()  # expires the book's attributes
    revise(session, "r2")
    session.delete(book)
    assert changeset(book) == {"id": [None, book.id], "name": [None, "b"],
                               "title": [None, "T"], "state": [None, "active"]}


def test_reverting_a_deleted_parents_children_first_needs_no_particular_order(session):
    revise(session, "r1")
    book = Book(name="b", title="T")
    book.authors.append(Author(name="tolstoy"))
    session.add(book)
    session.commit()
    author_then = book.authors[0].get_as_of(1)
    book_then = book.get_as_of(1)
    revise(session, "r2: both destroyed")
    session.delete(book.authors[0])
    session.delete(book)
    session.commit()
    revise(session, "r3: both back, the child first")
    author_then.revert()
    book_then.revert()
    session.commit()
    session.expunge_all()
    back = session.get(Book, book_then.id)
    assert back.title == "T" and [a.name for a in back.authors] == ["tolstoy"]
    assert session.get(Author, author_then.id).book_id == back.id


def test_versions_are_equal_when_they_are_the_same_row_even_after_a_commit(session):
    revise(session, "r1")
    a, b = Book(name="a"), Book(name="b")
    session.add_all([a, b])
    session.commit()
    first_a, first_b = a.versions[0], b.versions[0]
    revise(session, "r2")
    a.title = "changed"
    session.commit()  # expires the versions read before it
    assert first_a != first_b
    assert first_a == a.get_as_of(1) and first_a is not a.get_as_of(1)
    assert first_b == b.get_as_of(2) and first_a != a.get_as_of(2)
    assert len({first_a, a.get_as_of(1), first_b, b.get_as_of(2)}) == 2
