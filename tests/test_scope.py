"""The revision block on a scoped_session, as a decorator (SQLAlchemy only; the block
itself is in tests/acceptance/test_accept_drift.py and test_accept_views_once.py)."""

from models import Base, Book
from sqlalchemy.orm import scoped_session, sessionmaker

from vdm.sqlalchemy import Repository


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
