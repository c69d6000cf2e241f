"""The bad-input catalogue (doc/bad-input.rst), one test per row.

Each test checks the exact error class, that the message names the object
or class concerned and says what to do, and that the database is unchanged
(every table compared before and after).  Rows marked in the page as
SQLObject-only (``lazyUpdate``) belong to that backend's tests.
"""

from __future__ import annotations

import datetime as dt

import pytest
from models import Author, Base, Book
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Session, registry

from vdm import (
    ConfigurationError,
    ConflictError,
    IntegrityViolation,
    NoRevisionError,
    ReadOnlyError,
    RevisionInUseError,
    RevisionNotFoundError,
    UnversionedChangeError,
    VdmError,
)
from vdm.sqlalchemy import Repository, Revision, Revisioned, as_of


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


# -- writing without (a usable) revision --------------------------------------


def test_flush_without_a_revision(story, unchanged):
    book(story).title = "no revision"
    with pytest.raises(NoRevisionError) as caught:
        story.flush()
    assert type(caught.value) is NoRevisionError
    assert "session.revision = Revision(author=..., message=...)" in str(caught.value)
    # The message names what was changed, so the caller can find the code.
    assert "Book(id=1)" in str(caught.value), str(caught.value)


def test_a_revision_already_committed(story, unchanged):
    story.revision = story.get(Revision, 1)
    book(story).title = "reused revision"
    with pytest.raises(VdmError) as caught:
        story.flush()
    assert type(caught.value) is RevisionInUseError
    assert "<Revision id=1" in str(caught.value)
    assert "create a new Revision for these changes" in str(caught.value)


@pytest.fixture
def other_database_revision(tmp_path):
    """A revision committed in another (SQLite) database, as id 7 there."""
    other = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    Base.metadata.create_all(other)
    with Session(other, expire_on_commit=False) as s:
        for n in range(7):
            s.revision = rev = Revision(author="elsewhere", message=f"other {n}")
            s.add(Book(name=f"other{n}"))
            s.commit()
    other.dispose()
    return rev


def test_a_revision_from_another_database_for_writing(story, unchanged, other_database_revision):
    story.revision = other_database_revision
    book(story).title = "foreign revision"
    with pytest.raises(VdmError) as caught:
        story.flush()
    assert type(caught.value) is RevisionInUseError
    assert "<Revision id=7" in str(caught.value)
    assert "create a new Revision" in str(caught.value)


def test_a_revision_from_another_database_for_reading(story, unchanged, other_database_revision):
    # Revision 7 exists only in the other database: reading this one as of
    # it must not silently show this database's latest state.  The view
    # checks the revision inside its first read (one statement per read).
    view = as_of(story, other_database_revision)
    with pytest.raises(RevisionNotFoundError) as caught:
        view.get(Book, book(story).id)
    assert "there is no revision with id 7" in str(caught.value)
    with pytest.raises(RevisionNotFoundError):
        view.all(Book)


@pytest.mark.parametrize("value", [42, ["me"]], ids=["int", "list"])
def test_wrong_type_for_the_revision_author(value, engine):
    before = snapshot(engine)
    with pytest.raises(TypeError) as caught:
        Revision(author=value, message="m")
    assert "Revision author must be a str" in str(caught.value)
    assert isinstance(caught.value, VdmError), "every error vdm raises derives from VdmError"
    assert snapshot(engine) == before


@pytest.mark.parametrize("value", [b"bytes", 3.5], ids=["bytes", "float"])
def test_wrong_type_for_the_revision_message(value, engine):
    before = snapshot(engine)
    with pytest.raises(TypeError) as caught:
        Revision(author="me", message=value)
    assert "Revision message must be a str" in str(caught.value)
    assert isinstance(caught.value, VdmError), "every error vdm raises derives from VdmError"
    assert snapshot(engine) == before


def test_a_session_revision_that_is_not_a_revision(story, unchanged):
    story.revision = "me"
    book(story).title = "string revision"
    with pytest.raises(TypeError) as caught:
        story.flush()
    assert "session.revision must be a vdm.sqlalchemy.Revision, not str" in str(caught.value)
    assert isinstance(caught.value, VdmError), "every error vdm raises derives from VdmError"


# -- writing to history --------------------------------------------------------


def test_modifying_a_version(story, unchanged):
    version = book(story).versions[0]
    with pytest.raises(ReadOnlyError) as caught:
        version.title = "rewritten past"
    assert type(caught.value) is ReadOnlyError
    assert str(caught.value) == (
        "Book(id=1) as of revision 1 is a version and read-only; change the live "
        "object (version.continuity) in a new revision, or call version.revert()")


@pytest.mark.parametrize("how", ["attribute", "add", "delete", "commit"])
def test_modifying_the_as_of_view(story, unchanged, how):
    view = as_of(story, 1)
    with pytest.raises(ReadOnlyError) as caught:
        if how == "attribute":
            view.get(Book, 1).title = "rewritten past"
        elif how == "add":
            view.add(Book(name="into the past"))
        elif how == "delete":
            view.delete(view.get(Book, 1))
        else:
            view.commit()
    assert type(caught.value) is ReadOnlyError
    message = str(caught.value)
    assert "revision 1" in message
    assert "new revision" in message


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


# -- reading history ---------------------------------------------------------------


@pytest.mark.parametrize("revision", [99, 0, -1])
def test_an_as_of_with_an_unknown_revision_id(story, unchanged, revision):
    # An id no revision can have is refused when the view is made; an id
    # that could exist is checked by the view's first read.
    with pytest.raises(RevisionNotFoundError) as caught:
        if revision > 0:
            as_of(story, revision).get(Book, book(story).id)
        else:
            as_of(story, revision)
    assert type(caught.value) is RevisionNotFoundError
    assert str(caught.value) == (
        f"there is no revision with id {revision}; use an id from the history "
        f"(Repository.history())")
    with pytest.raises(RevisionNotFoundError):
        book(story).get_as_of(revision)


def test_an_as_of_with_a_datetime_before_the_first_revision(story, unchanged):
    first = story.get(Revision, 1).timestamp
    when = first - dt.timedelta(days=1)
    with pytest.raises(RevisionNotFoundError) as caught:
        as_of(story, when)
    assert type(caught.value) is RevisionNotFoundError
    assert f"there is no revision at or before {when.isoformat()} (UTC)" in str(caught.value)
    with pytest.raises(RevisionNotFoundError):
        book(story).get_as_of(when)


# -- maintenance ---------------------------------------------------------------------


def test_purge_of_an_object_referenced_by_live_rows(story, unchanged):
    repo = Repository(Base.metadata, story)
    with pytest.raises(IntegrityViolation) as caught:
        repo.purge(book(story))
    assert type(caught.value) is IntegrityViolation
    assert caught.value.cls is Book
    assert str(caught.value) == (
        "cannot purge Book(id=1): 1 row(s) of 'author' still refer to it "
        "(Author(id=1)); purge or change those first")
