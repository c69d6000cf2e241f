"""vdm.sqlobject.Repository: history, changes and purging, on every database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlobject_models import (  # noqa: F401 - fixtures
    STORY,
    Author,
    Book,
    License,
    connection,
    new_session,
    session,
    so_connection,
)

from vdm import IntegrityViolation
from vdm.sqlobject import Repository, Revision, Session


def rows(engine: Any, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_history_and_changes(connection: Any, session: Session) -> None:
    repo = Repository(connection, STORY)
    assert repo.youngest_revision() is None
    t = session.transaction
    session.revision = repo.new_revision(author="me", message="first", extra={"req": 7})
    book = Book(name="b", connection=t)
    session.commit()
    session.revision = Revision(author="you", message="second")
    book.title = "t"
    Author(name="a", book=book, connection=t)
    session.commit()
    assert [(r.id, r.author, r.message) for r in repo.history()] == [
        (2, "you", "second"), (1, "me", "first")]
    assert [r.id for r in repo.history(limit=1, offset=1)] == [1]
    assert repo.get_revision(1).extra == {"req": 7}
    youngest = repo.youngest_revision()
    assert youngest is not None and youngest.id == 2 and youngest.timestamp is not None
    changes = repo.list_changes(2)
    assert {cls: [v.id for v in vs] for cls, vs in changes.items()} == {
        Book: [1], Author: [1], License: []}  # every versioned class, as vdm 0.2 did
    assert changes[Book][0].changeset == {"title": [None, "t"]}
    assert repo.count_revisions() == 2
    assert [r.id for r in repo.history(author="me")] == [1]
    second = repo.get_revision(2)
    assert second.timestamp is not None
    assert [r.id for r in repo.history(since=second.timestamp)] == [2]
    assert [r.id for r in repo.history(until=second.timestamp, author="you")] == [2]
    assert [(c.kind, c.class_name) for c in repo.changes(2).objects] == [
        ("created", "Author"), ("updated", "Book")]
    assert repo.as_of(1).get(Book, book.id).title is None
    assert repo.diff(1, 2).classes["Book"].changed == {(book.id,): {"title": (None, "t")}}


def test_purge(connection: Any, session: Session, engine: Any) -> None:
    repo = Repository(connection, STORY)
    t = session.transaction
    session.revision = Revision(author="me")
    book = Book(name="b", connection=t)
    author = Author(name="a", book=book, connection=t)
    session.commit()
    with pytest.raises(IntegrityViolation, match=r"cannot purge Book\(id=1\): 1 row\(s\) "
                                                 r"of 'author' still refer to it"):
        repo.purge(book)
    repo.purge(author)
    repo.purge(book)
    session.commit()
    assert rows(engine, "SELECT COUNT(*) FROM book_revision") == [(0,)]
    assert rows(engine, "SELECT COUNT(*) FROM author") == [(0,)]


def test_example_story_runs(tmp_path: Any) -> None:
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).parent.parent / "examples" / "sqlobject_story.py"
    result = subprocess.run([sys.executable, "-W", "error", str(example),
                             str(tmp_path / "story.db")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "as of revision 1: 'War and Peacee', authors []" in result.stdout


def test_purge_of_an_object_read_outside_a_session(connection: Any, session: Session,
                                                    engine: Any) -> None:
    """A maintenance script reads objects straight off the connection (no
    vdm session) and purges them: the purge runs in a transaction of its
    own, committed when it succeeds and rolled back when it is refused."""
    repo = Repository(connection, STORY)
    t = session.transaction
    session.revision = Revision(author="me")
    book = Book(name="b", connection=t)
    Author(name="a", book=book, connection=t)
    session.commit()
    plain_book = Book.get(book.id, connection=connection)
    with pytest.raises(IntegrityViolation):
        repo.purge(plain_book)
    assert rows(engine, "SELECT COUNT(*) FROM book_revision") == [(1,)]
    plain_author = Author.selectBy(connection=connection, name="a").getOne()
    repo.purge(plain_author)
    repo.purge(plain_book)
    assert rows(engine, "SELECT COUNT(*) FROM book") == [(0,)]
    assert rows(engine, "SELECT COUNT(*) FROM author_revision") == [(0,)]
    assert repo.verify() == []
