"""Reading a versioned many-to-many list costs one statement, whatever its length.

``book.authors`` (made by ``add_stateful_versioned_m2m``) loads the link
rows and their targets together: one SELECT for 50 authors, not one per
author.  The values are those of the links: creation (or position) order,
deleted links left out, changes pending in the session included.
Statements are counted as in tests/test_statements.py.
"""

from __future__ import annotations

import pytest
from link_models import LinkBase, Package, Tag
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from test_statements import StatementLog

from vdm.sqlalchemy import Revision, Revisioned, Stateful, add_stateful_versioned_m2m

AUTHORS = 50


class _Library(DeclarativeBase):
    pass


class Writer(Revisioned, Stateful, _Library):
    __tablename__ = "lib_writer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class Title(Revisioned, Stateful, _Library):
    __tablename__ = "lib_title"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class TitleWriter(Revisioned, Stateful, _Library):
    __tablename__ = "lib_title_writer"
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("lib_title.id"))
    writer_id: Mapped[int] = mapped_column(ForeignKey("lib_writer.id"))
    writer: Mapped[Writer] = relationship()


add_stateful_versioned_m2m(Title, TitleWriter, "writers", "writer", "writer_links")


def revise(session, message):
    session.revision = Revision(author="librarian", message=message)


@pytest.fixture
def session(engine):
    _Library.metadata.create_all(engine)
    LinkBase.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


@pytest.fixture
def title_id(session):
    """A title with 50 writers, the links of w5, w10, ... w45 deleted."""
    revise(session, "fifty writers")
    title = Title(name="anthology")
    title.writers = [Writer(name=f"w{k}") for k in range(AUTHORS)]
    session.add(title)
    session.commit()
    revise(session, "some links deleted")
    for writer in [w for w in title.writers if int(w.name[1:]) % 5 == 0 and w.name != "w0"]:
        title.writers.remove(writer)
    session.commit()
    found = title.id
    session.close()
    return found


EXPECTED = [f"w{k}" for k in range(AUTHORS) if k % 5 or k == 0]


def read(engine, reader):
    with StatementLog(engine) as log:
        value = reader()
    return value, log.statements


def test_fifty_writers_are_read_in_one_statement_in_creation_order(session, engine, title_id):
    title = session.get(Title, title_id)
    names, statements = read(engine, lambda: [w.name for w in title.writers])
    assert names == EXPECTED
    assert len(statements) == 1, statements
    # The deleted links are on the list of every link, read with it.
    deleted, statements = read(engine, lambda: [link.writer.name for link in title.writers_deleted])
    assert deleted == [f"w{k}" for k in range(5, AUTHORS, 5)]
    assert statements == []


def test_after_a_commit_the_list_is_read_again_in_one_statement(session, engine, title_id):
    title = session.get(Title, title_id)
    revise(session, "one more")
    title.writers.append(Writer(name="late"))
    session.commit()
    names, statements = read(engine, lambda: [w.name for w in title.writers])
    # The title's own row (expired by the commit) and the list.
    assert len(statements) <= 2, statements
    assert names == [*EXPECTED, "late"]


def test_changes_pending_in_the_session_are_in_the_list(session, engine, title_id):
    title = session.get(Title, title_id)
    revise(session, "pending")
    # A link made directly, not through the list: the read flushes it first.
    session.add(TitleWriter(title_id=title_id, writer=Writer(name="direct")))
    names = [w.name for w in title.writers]
    assert names == [*EXPECTED, "direct"]
    title.writers.remove(session.scalars(select(Writer).filter_by(name="w1")).one())
    title.writers.append(Writer(name="appended"))
    expected = [n for n in EXPECTED if n != "w1"] + ["direct", "appended"]
    assert [w.name for w in title.writers] == expected
    session.commit()
    session.expunge_all()
    again, statements = read(engine, lambda: [w.name for w in session.get(Title, title_id).writers])
    assert again == expected
    assert len(statements) == 2, statements  # the title, then its list


def test_a_positioned_list_is_read_in_its_stored_order_in_one_statement(session, engine):
    revise(session, "tags")
    package = Package(name="ordered")
    package.tags = [Tag(name=f"t{k}") for k in range(20)]
    session.add(package)
    session.commit()
    revise(session, "reorder")
    package.tags = list(reversed(list(package.tags)))
    session.commit()
    package_id = package.id
    session.expunge_all()
    package = session.get(Package, package_id)
    names, statements = read(engine, lambda: [t.name for t in package.tags])
    assert names == [f"t{k}" for k in reversed(range(20))]
    assert len(statements) == 1, statements
