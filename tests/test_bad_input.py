"""The bad-input catalogue (doc/bad-input.rst): the rows only vdm.sqlalchemy has.

The rows both backends share are told in tests/acceptance (test_accept_errors.py,
test_accept_history.py, test_accept_versions_once.py, test_accept_views_once.py,
test_accept_maintenance.py).  Each test checks the exact error class, that the message names the object
or class concerned and says what to do, and that the database is unchanged
(every table compared before and after).  Rows marked in the page as
SQLObject-only (``lazyUpdate``) belong to that backend's tests.
"""

from __future__ import annotations

import pytest
from models import Author, Book
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.orm import DeclarativeBase, registry

from vdm import (
    ConfigurationError,
    ConflictError,
    UnversionedChangeError,
)
from vdm.sqlalchemy import Revision, Revisioned


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order."""
    with engine.connect() as conn:
        return {t: sorted((tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}"))), key=repr)
                for t in sorted(inspect(conn).get_table_names())}


@pytest.fixture
def story(session, engine):
    """Revision 1: books a (with author x) and b; revision 2: a retitled."""
    session.revision = Revision(author="setup", message="r1")
    session.add_all([Book(name="a", title="A", authors=[Author(name="x")]), Book(name="b")])
    session.commit()
    session.revision = Revision(author="setup", message="r2")
    session.scalars(select(Book).filter_by(name="a")).one().title = "A2"
    session.commit()
    return session


@pytest.fixture
def unchanged(story, engine):
    """Assert, after the test, that the database is as the story left it."""
    before = snapshot(engine)
    yield
    story.rollback()
    assert snapshot(engine) == before


def book(session, name="a"):
    return session.scalars(select(Book).filter_by(name=name)).one()


# -- writing to history --------------------------------------------------------


def test_a_stale_write(story, make_session):
    other = make_session()
    stale = other.get(Book, 1)
    story.revision = Revision(author="first")
    book(story).title = "first"
    story.commit()
    before = snapshot(story.get_bind())
    other.revision = Revision(author="second")
    stale.title = "second, from a stale read"
    with pytest.raises(ConflictError) as caught:
        other.commit()
    other.rollback()
    assert type(caught.value) is ConflictError
    assert caught.value.obj is stale and caught.value.revision == 3
    assert "Book(id=1) was changed by revision 3" in str(caught.value)
    assert "refresh it (session.refresh(obj)) and apply your change again" in str(caught.value)
    # Compared from after the first, legitimate write.
    assert snapshot(story.get_bind()) == before


@pytest.mark.parametrize("statement", [
    update(Book).where(Book.name == "a").values(title="bulk"),
    delete(Author),
], ids=["update", "delete"])
def test_a_bulk_orm_statement_on_a_versioned_class(story, unchanged, statement):
    story.revision = Revision(author="bulk")
    with pytest.raises(UnversionedChangeError) as caught:
        story.execute(statement)
    assert type(caught.value) is UnversionedChangeError
    name = "Book" if "book" in str(statement).lower().split("from")[0] else "Author"
    assert f"on {name} would bypass its history" in str(caught.value)
    assert "load the objects and change them through the session" in str(caught.value)


# -- unsupported models ----------------------------------------------------------


def test_an_unsupported_model_without_primary_key(engine):
    before = snapshot(engine)

    class BadBase(DeclarativeBase):
        pass

    table = Table("keyless", BadBase.metadata, Column("x", Integer),
                  Column("revision_id", Integer))
    with pytest.raises(ConfigurationError) as caught:
        class Keyless(Revisioned, BadBase):
            __table__ = table
    assert type(caught.value) is ConfigurationError
    assert str(caught.value) == (
        "Keyless (table 'keyless') has no primary key; versioned classes need one "
        "to identify their versions")
    assert snapshot(engine) == before


def test_an_unsupported_model_whose_table_lacks_revision_id(engine):
    before = snapshot(engine)
    metadata = MetaData()
    table = Table("bare", metadata, Column("id", Integer, primary_key=True),
                  Column("name", String(20)))

    class Bare(Revisioned):
        pass

    with pytest.raises(ConfigurationError) as caught:
        registry(metadata=metadata).map_imperatively(Bare, table)
    assert type(caught.value) is ConfigurationError
    assert "Bare (table 'bare') has no 'revision_id' column" in str(caught.value)
    assert "make_revisioned_table()" in str(caught.value)
    assert snapshot(engine) == before
