"""Reading history, the SQLAlchemy way: expire_on_commit, pending changesets, composite
keys, dynamic relationships, the unit of work's order (the rest is in tests/acceptance)."""


import pytest
from models import Author, Book, Edition
from sqlalchemy import select

from vdm import Operation
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


def test_pending_changeset_is_new_then_old(session, three_revisions):
    book, *_ = three_revisions
    assert changeset(book) == {}
    book.title = "New"
    assert changeset(book) == {"title": ["New", "War and Peace"]}


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
