"""vdm.sqlobject: the SQLObject idioms of writing revisions (delete by id, deleteMany,
a connection outside a session, the object cache); what both backends share is in
tests/acceptance."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlobject_models import (  # noqa: F401 - fixtures
    Book,
    connection,
    new_session,
    session,
    so_connection,
)

from vdm import NoRevisionError
from vdm.sqlobject import Revision, Session


def rows(engine: Any, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_book_delete_by_id_is_sqlobjects_versioned_hard_delete(session: Session,
                                                             engine: Any) -> None:
    t = session.transaction
    session.revision = Revision(author="me")
    other = Book(name="c", connection=t)
    session.commit()
    session.revision = Revision(author="me")
    Book.delete(other.id, connection=t)
    session.commit()
    assert rows(engine, "SELECT COUNT(*) FROM book") == [(0,)]
    assert rows(engine, "SELECT operation_type FROM book_revision WHERE name = 'c' "
                        "ORDER BY revision_id") == [(0,), (2,)]


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
