"""vdm.sqlobject.Repository: what only SQLObject has (objects read outside a session),
and the example story; history, changes and purging are in tests/acceptance."""

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
