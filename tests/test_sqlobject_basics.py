"""vdm.sqlobject: writing revisions and reading history, on every database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlobject_models import (  # noqa: F401 - fixtures
    Author,
    Book,
    connection,
    new_session,
    session,
    so_connection,
)

from vdm import NoRevisionError, Operation, ReadOnlyError, State
from vdm.sqlobject import Revision, Session, as_of


def rows(engine: Any, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_story(session: Session, engine: Any) -> None:
    t = session.transaction
    rev1 = Revision(author="me", message="first")
    session.revision = rev1
    b1 = Book(name="warandpeace", title="War and Peacee", connection=t)
    Book(name="annakarenina", title="Anna", connection=t)
    session.commit()
    assert rev1.id == 1 and session.revision is None

    session.revision = Revision(author="me", message="fix typo, add author")
    b1.title = "War and Peace"
    Author(name="tolstoy", book=b1, connection=t)
    session.commit()

    assert rows(engine, "SELECT id, title, revision_id, state FROM book ORDER BY id") == [
        (1, "War and Peace", 2, "active"), (2, "Anna", 1, "active")]
    assert rows(engine, "SELECT id, title, revision_id, expired_id, operation_type "
                        "FROM book_revision ORDER BY id, revision_id") == [
        (1, "War and Peacee", 1, 2, 0), (1, "War and Peace", 2, None, 1),
        (2, "Anna", 1, None, 0)]
    assert rows(engine, "SELECT id, author, message FROM revision ORDER BY id") == [
        (1, "me", "first"), (2, "me", "fix typo, add author")]

    old = b1.get_as_of(rev1)
    assert old.title == "War and Peacee" and old.authors == []
    assert old.operation_type is Operation.INSERT and old.state is State.ACTIVE
    new = b1.get_as_of(2)
    assert [a.name for a in new.authors] == ["tolstoy"]
    assert [v.title for v in b1.versions] == ["War and Peacee", "War and Peace"]
    assert [v.revision_id for v in b1.all_revisions] == [2, 1]
    assert new.changeset == {"title": ["War and Peacee", "War and Peace"]}
    assert b1.diff() == {"title": "- War and Peacee\n?              -\n+ War and Peace"}
    assert old.next == new and new.previous == old and new.index == 1
    with pytest.raises(ReadOnlyError, match="read-only"):
        old.title = "x"


def test_no_revision_writes_nothing(session: Session, engine: Any) -> None:
    with pytest.raises(NoRevisionError, match="has no revision"):
        Book(name="x", connection=session.transaction)
    session.rollback()
    assert rows(engine, "SELECT COUNT(*) FROM book") == [(0,)]
    assert rows(engine, "SELECT COUNT(*) FROM revision") == [(0,)]


def test_rollback_leaves_nothing(session: Session, engine: Any) -> None:
    rev = Revision(author="me", message="oops")
    session.revision = rev
    Book(name="x", connection=session.transaction)
    session.rollback()
    assert rev.id is None and session.revision is None
    assert rows(engine, "SELECT COUNT(*) FROM book") == [(0,)]
    assert rows(engine, "SELECT COUNT(*) FROM book_revision") == [(0,)]
    assert rows(engine, "SELECT COUNT(*) FROM revision") == [(0,)]
    session.revision = rev  # a rolled-back revision can be used again
    Book(name="y", connection=session.transaction)
    session.commit()
    assert rows(engine, "SELECT id, author FROM revision") == [(1, "me")]


def test_one_version_per_object_per_revision(session: Session, engine: Any) -> None:
    t = session.transaction
    session.revision = Revision(author="me")
    book = Book(name="b", title="one", connection=t)
    session.flush()
    book.title = "two"
    book.title = "three"
    session.commit()
    session.revision = Revision(author="me")
    book.title = "four"
    session.flush()
    book.title = "five"
    session.commit()
    assert rows(engine, "SELECT title, revision_id, expired_id, operation_type FROM "
                        "book_revision ORDER BY revision_id") == [
        ("three", 1, 2, 0), ("five", 2, None, 1)]


def test_unchanged_value_writes_nothing(session: Session, engine: Any) -> None:
    session.revision = Revision(author="me")
    book = Book(name="b", title="same", connection=session.transaction)
    session.commit()
    book.title = "same"  # no revision needed: nothing changes
    book.set(title="same", name="b")
    session.commit()
    assert rows(engine, "SELECT COUNT(*) FROM revision") == [(1,)]
    assert rows(engine, "SELECT COUNT(*) FROM book_revision") == [(1,)]


def test_created_with_defaults_only_is_recorded(session: Session, engine: Any) -> None:
    session.revision = Revision(author="me")
    Author(name="anon", connection=session.transaction)
    session.commit()
    assert rows(engine, "SELECT name, state, operation_type FROM author_revision") == [
        ("anon", "active", 0)]


def test_soft_delete_and_undelete(session: Session, engine: Any) -> None:
    session.revision = Revision(author="me")
    book = Book(name="b", connection=session.transaction)
    session.commit()
    session.revision = Revision(author="me")
    book.delete()
    session.commit()
    assert not book.is_active()
    session.revision = Revision(author="me")
    book.undelete()
    session.commit()
    assert [v.state for v in book.versions] == ["active", "deleted", "active"]
    assert book.get_as_of(2).changeset == {"state": ["active", "deleted"]}


def test_hard_delete_keeps_history(session: Session, engine: Any) -> None:
    t = session.transaction
    session.revision = Revision(author="me")
    book = Book(name="b", title="t", connection=t)
    session.commit()
    versions_before = book.versions
    session.revision = Revision(author="me")
    book.destroySelf()
    session.commit()
    assert rows(engine, "SELECT COUNT(*) FROM book") == [(0,)]
    assert rows(engine, "SELECT title, revision_id, expired_id, operation_type FROM "
                        "book_revision ORDER BY revision_id") == [
        ("t", 1, 2, 0), ("t", 2, None, 2)]
    assert versions_before[0].next.operation_type is Operation.DELETE
    assert versions_before[0].continuity is None
    # Book.delete(id) is still SQLObject's hard delete by id, and versioned.
    session.revision = Revision(author="me")
    other = Book(name="c", connection=t)
    session.commit()
    session.revision = Revision(author="me")
    Book.delete(other.id, connection=t)
    session.commit()
    assert rows(engine, "SELECT operation_type FROM book_revision WHERE name = 'c' "
                        "ORDER BY revision_id") == [(0,), (2,)]


def test_created_and_destroyed_in_one_revision_leaves_nothing(session: Session,
                                                              engine: Any) -> None:
    session.revision = Revision(author="me")
    Book(name="keep", connection=session.transaction)
    Book(name="gone", connection=session.transaction).destroySelf()
    session.commit()
    assert rows(engine, "SELECT name FROM book_revision") == [("keep",)]


def test_as_of_datetime_and_unknown_revision(session: Session) -> None:
    import datetime as dt

    from vdm import RevisionNotFoundError

    session.revision = Revision(author="me")
    book = Book(name="b", title="t", connection=session.transaction)
    session.commit()
    assert book.get_as_of(dt.datetime.now(dt.UTC)).title == "t"
    with pytest.raises(RevisionNotFoundError, match="no revision with id 9"):
        book.get_as_of(9)
    with pytest.raises(RevisionNotFoundError, match="no revision at or before"):
        book.get_as_of(dt.datetime(2000, 1, 1))


def test_historical_foreign_key(session: Session) -> None:
    from sqlobject_models import License, Publisher

    t = session.transaction
    session.revision = Revision(author="me")
    gpl = License(name="gpl", connection=t)
    pub = Publisher(name="penguin", connection=t)
    book = Book(name="b", license=gpl, publisher=pub, connection=t)
    session.commit()
    session.revision = Revision(author="me")
    gpl.name = "GPL-3"
    book.license = License(name="mit", connection=t)
    session.commit()
    old = book.get_as_of(1)
    assert old.license.name == "gpl" and old.license.revision_id == 1
    assert old.publisher.name == "penguin"  # not versioned: the live object
    assert book.get_as_of(2).license.name == "mit"
    assert book.revision.id == 2 and old.revision.author == "me"


def test_bulk_delete_is_refused(session: Session) -> None:
    from vdm import UnversionedChangeError

    with pytest.raises(UnversionedChangeError, match=r"Book.deleteMany\(\) .* bypass"):
        Book.deleteMany(None, connection=session.transaction)
    with pytest.raises(UnversionedChangeError, match=r"Book.deleteBy\(\)"):
        Book.deleteBy(name="x", connection=session.transaction)


def test_change_outside_a_session_is_refused(connection: Any, engine: Any) -> None:
    with pytest.raises(NoRevisionError, match="outside a vdm session"):
        Book(name="x", connection=connection)
    assert rows(engine, "SELECT COUNT(*) FROM book") == [(0,)]


def test_versions_are_read_only(session: Session) -> None:
    session.revision = Revision(author="me")
    book = Book(name="b", connection=session.transaction)
    session.commit()
    version = book.versions[0]
    with pytest.raises(ReadOnlyError) as info:
        version.title = "x"
    assert str(info.value) == (
        "Book(id=1) as of revision 1 is a version and read-only; change the live "
        "object (version.continuity) in a new revision, or call version.revert()")
    with pytest.raises(ReadOnlyError):
        del version.name


def test_objects_held_across_commits_stay_the_cached_ones(session: Session, engine: Any) -> None:
    t = session.transaction
    session.revision = Revision(author="me", message="create")
    book = Book(name="b", title="one", connection=t)
    session.commit()
    assert Book.get(book.id, connection=t) is book
    session.revision = Revision(author="me", message="edit through the held object")
    book.title = "two"
    session.commit()
    session.revision = Revision(author="me", message="and again")
    Book.get(book.id, connection=t).title = "three"
    session.commit()
    assert book.title == "three"
    assert rows(engine, "SELECT title, revision_id FROM book") == [("three", 3)]


def test_reverting_a_destroyed_stateful_object_brings_it_back(session: Session, engine: Any) -> None:
    t = session.transaction
    session.revision = Revision(author="me", message="create")
    book = Book(name="b", title="kept", connection=t)
    book_id = book.id
    session.commit()
    session.revision = Revision(author="me", message="destroy")
    Book.delete(book_id, connection=t)
    session.commit()
    version = as_of(t, 1).get(Book, book_id)
    session.revision = Revision(author="me", message="bring back")
    restored = version.revert()
    session.commit()
    assert (restored.title, restored.state) == ("kept", State.ACTIVE)
    assert rows(engine, "SELECT id, title, state FROM book") == [(book_id, "kept", "active")]
