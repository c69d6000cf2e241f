"""The read budget: every history read is one statement.

One object as of R by its key (resolving R included), a version's
many-to-one and collections as of its revision, its versioned links, all
rows of a class as of R and the version list each cost exactly one SQL
statement, whatever the depth of the history, and give the values the
revisions wrote.  Statements are counted as in tests/test_statements.py.
"""

from __future__ import annotations

import pytest
from link_models import LinkBase, Package, Tag
from models import Author, Book, License
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_statements import StatementLog

from vdm import RevisionNotFoundError
from vdm.sqlalchemy import Revision, as_of

DEPTH = 12


def revise(session, message):
    session.revision = Revision(author="reader", message=message)


@pytest.fixture
def history(session):
    """r1: two books, one license, one author; r2..r12: title updates of b1;
    r13: the license renamed; r14: a second author of b1."""
    revise(session, "r1")
    gpl = License(name="gpl")
    b1 = Book(name="b1", title="t0", license=gpl)
    b2 = Book(name="b2", title="other")
    session.add_all([b1, b2, Author(name="tolstoy", book=b1)])
    session.commit()
    for k in range(1, DEPTH):
        revise(session, f"r{k + 1}")
        b1.title = f"t{k}"
        session.commit()
    revise(session, "rename the license")
    gpl.name = "GPL-3"
    session.commit()
    revise(session, "second author")
    session.add(Author(name="second", book=b1))
    session.commit()
    ids = {"b1": b1.id, "b2": b2.id}
    session.close()
    return ids


def one_statement(engine, read):
    """Run ``read()`` in a fresh state of the session, return (value, statements)."""
    with StatementLog(engine) as log:
        value = read()
    return value, log.statements


def test_one_object_as_of_r_by_key_is_one_statement_resolving_r_included(
        session, engine, history):
    for revision in (1, 6, DEPTH):
        version, statements = one_statement(
            engine, lambda revision=revision: as_of(session, revision).get(Book, history["b1"]))
        assert len(statements) == 1, statements
        assert version.title == f"t{revision - 1}"
        session.expunge_all()


def test_by_key_as_of_a_revision_object_is_one_statement(session, engine, history):
    revision = session.get(Revision, 3)
    session.expunge_all()
    version, statements = one_statement(
        engine, lambda: as_of(session, revision).get(Book, history["b2"]))
    assert len(statements) == 1, statements
    assert version.title == "other" and version.revision_id == 1


def test_by_key_of_an_object_that_did_not_exist_then_is_none_in_one_statement(
        session, engine, history):
    missing, statements = one_statement(engine, lambda: as_of(session, 1).get(Book, 999))
    assert missing is None
    # Nothing found: the revision's existence is checked on its own.
    assert len(statements) == 2, statements


def test_by_key_as_of_a_revision_that_does_not_exist_raises(session, history):
    with pytest.raises(RevisionNotFoundError, match="there is no revision with id 999"):
        as_of(session, 999).get(Book, history["b1"])
    with pytest.raises(RevisionNotFoundError, match="there is no revision with id 999"):
        as_of(session, 999).all(Book)


def test_get_as_of_on_the_live_object_is_one_statement(session, engine, history):
    book = session.get(Book, history["b1"])
    version, statements = one_statement(engine, lambda: book.get_as_of(4))
    assert len(statements) == 1, statements
    assert version.title == "t3"


def test_a_versions_many_to_one_is_one_statement(session, engine, history):
    old = as_of(session, DEPTH).get(Book, history["b1"])
    new = as_of(session, DEPTH + 1).get(Book, history["b1"])
    license, statements = one_statement(engine, lambda: old.license)
    assert len(statements) == 1, statements
    assert license.name == "gpl"
    license, statements = one_statement(engine, lambda: new.license)
    assert len(statements) == 1, statements
    assert license.name == "GPL-3"


def test_a_versions_collection_is_one_statement(session, engine, history):
    old = as_of(session, DEPTH + 1).get(Book, history["b1"])
    new = as_of(session, DEPTH + 2).get(Book, history["b1"])
    authors, statements = one_statement(engine, lambda: [a.name for a in old.authors])
    assert len(statements) == 1, statements
    assert authors == ["tolstoy"]
    authors, statements = one_statement(engine, lambda: [a.name for a in new.authors])
    assert len(statements) == 1, statements
    assert authors == ["tolstoy", "second"]


def test_all_rows_of_a_class_as_of_r_is_one_statement(session, engine, history):
    books, statements = one_statement(engine, lambda: as_of(session, 5).all(Book))
    assert len(statements) == 1, statements
    assert [(b.name, b.title) for b in books] == [("b1", "t4"), ("b2", "other")]
    titles, statements = one_statement(
        engine, lambda: as_of(session, 5).scalars(select(Book).where(Book.name == "b1")))
    assert len(statements) == 1, statements
    assert [b.title for b in titles] == ["t4"]


def test_an_aggregate_as_of_r_checks_the_revision_first(session, engine, history):
    count, statements = one_statement(
        engine, lambda: as_of(session, 5).scalar(select(func.count()).select_from(Book)))
    assert count == 2
    assert len(statements) == 2, statements
    with pytest.raises(RevisionNotFoundError):
        as_of(session, 999).scalar(select(func.count()).select_from(Book))


def test_the_version_list_is_one_statement(session, engine, history):
    book = session.get(Book, history["b1"])
    titles, statements = one_statement(engine, lambda: [v.title for v in book.versions])
    assert len(statements) == 1, statements
    assert titles == [f"t{k}" for k in range(DEPTH)]


@pytest.fixture
def links_session(engine):
    LinkBase.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def test_a_versions_link_collections_are_one_statement_each(links_session, engine):
    session = links_session
    revise(session, "r1")
    package = Package(name="pkg")
    package.tags = [Tag(name="a"), Tag(name="b")]
    session.add(package)
    session.commit()
    revise(session, "r2: only the links change")
    package.tags = [package.tags[1]]
    session.commit()
    old = as_of(session, 1).get(Package, package.id)
    new = as_of(session, 2).get(Package, package.id)
    for version, expected, deleted in ((old, ["a", "b"], []), (new, ["b"], ["a"])):
        tags, statements = one_statement(engine, lambda v=version: [t.name for t in v.tags])
        assert len(statements) == 1, statements
        assert tags == expected
        links, statements = one_statement(engine, lambda v=version: v.tags_deleted)
        assert len(statements) == 1, statements
        assert [session.get(Tag, link.tag_id).name for link in links] == deleted
