"""The revision block: one revision per outermost block, nothing on error."""

import pytest
from history_helpers import rows
from models import Base, Book
from sqlalchemy.orm import scoped_session, sessionmaker

from vdm.sqlalchemy import Repository, revision_scope


def test_a_block_commits_one_revision(session, engine):
    with revision_scope(session, author="ann", message="two books") as rev:
        session.add_all([Book(name="a"), Book(name="b")])
    assert rev.id == 1 and session.revision is None
    assert rows(engine, "SELECT author, message FROM revision") == [("ann", "two books")]
    assert rows(engine, "SELECT count(*) FROM book_revision WHERE revision_id = 1") == [(2,)]


def test_an_error_in_the_block_leaves_nothing(session, engine):
    with pytest.raises(RuntimeError, match="boom"):
        with revision_scope(session, author="ann"):
            session.add(Book(name="a"))
            session.flush()
            raise RuntimeError("boom")
    assert rows(engine, "SELECT count(*) FROM revision") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM book") == [(0,)]


def test_nested_blocks_join_the_outer_revision(session, engine):
    def add_book(name):
        with revision_scope(session, author="helper", message="inner"):
            session.add(Book(name=name))

    with revision_scope(session, author="ann", message="outer") as outer:
        add_book("a")
        add_book("b")
        assert session.revision is outer
    assert rows(engine, "SELECT id, author, message FROM revision") == [(1, "ann", "outer")]
    assert rows(engine, "SELECT name, revision_id FROM book ORDER BY name") == [("a", 1), ("b", 1)]


def test_the_block_decorates_functions_on_a_scoped_session(story_engine, engine):
    Session = scoped_session(sessionmaker(story_engine))
    repo = Repository(Base.metadata, Session)

    @repo.revision(author="importer", message="nightly")
    def import_books(names):
        Session.add_all(Book(name=n) for n in names)

    try:
        import_books(["x", "y"])
        import_books(["z"])
        assert [(r.id, r.message) for r in repo.history()] == [(2, "nightly"), (1, "nightly")]
    finally:
        Session.remove()
