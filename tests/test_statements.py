"""The statement budget: versioning costs a constant number of statements.

A revision that creates or updates many objects must not issue more
statements for 100 objects than for 1: history rows are written set-based,
and vdm never selects per object.
"""

import re

import pytest
from models import Book
from sqlalchemy import event, select

from vdm.sqlalchemy import DEFERRED_REVISION_IDS, Revision

VDM_TABLE = re.compile(r"\b(INSERT INTO|UPDATE|DELETE FROM|FROM) (revision|revision_sequence|\w+_revision)\b")


class StatementLog:
    def __init__(self, engine):
        self.statements: list[str] = []
        self.engine = engine

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(" ".join(statement.split()))

    def vdm_own(self):
        """Statements on the revision tables and the version tables."""
        return [s for s in self.statements if VDM_TABLE.search(s)]


def revision_statements(engine, deferred=False):
    """Writing the revision row and taking its id, for a revision of one table.

    By default the id is taken at the first flush: PostgreSQL does it and
    writes the revision row in one statement (a data-modifying CTE); SQLite
    bumps the sequence with UPDATE ... RETURNING, then inserts; MariaDB has
    no UPDATE ... RETURNING, so its bump sets LAST_INSERT_ID(), which comes
    back with the UPDATE's reply, then inserts.

    ``deferred`` (DEFERRED_REVISION_IDS): PostgreSQL and MariaDB write the
    revision under a provisional id at the first flush and take the real
    id in the final step of the commit.  PostgreSQL bumps the sequence,
    then does the rest in one statement (data-modifying CTEs); MariaDB
    bumps, reads the id back, inserts the real revision row, rewrites the
    version table's two columns and deletes the provisional row (and
    rewrites the live table's ``revision_id``: :func:`live_rewrites`).
    """
    if deferred and engine.dialect.name != "sqlite":
        return {"postgresql": 3}.get(engine.dialect.name, 7)
    return {"postgresql": 1}.get(engine.dialect.name, 2)


def live_rewrites(engine, deferred=False):
    """Statements on the live table that give its rows the real revision id:
    MariaDB's own with ``deferred`` (PostgreSQL's is part of its final
    statement)."""
    return 1 if deferred and engine.dialect.name in ("mysql", "mariadb") else 0


def version_statements(engine):
    """Copying the versions and closing the previous ones: one statement on
    PostgreSQL (a data-modifying CTE) and SQLite (INSERT ... SELECT whose
    ON CONFLICT DO UPDATE closes the previous versions), two on MariaDB."""
    return 2 if engine.dialect.name in ("mysql", "mariadb") else 1


def create_books(session, engine, count, first_id):
    session.revision = Revision(author="bench", message=f"create {count}")
    with StatementLog(engine) as log:
        session.add_all([Book(id=first_id + i, name=f"b{first_id + i}", title="t")
                         for i in range(count)])
        session.commit()
    return log


@pytest.mark.parametrize("count", [1, 10, 100])
def test_creating_objects_costs_the_same_statements_for_1_10_and_100(session, engine, count):
    log = create_books(session, engine, count, first_id=1)
    # the revision, the live INSERT (executemany), the versions.
    overhead = revision_statements(engine) + version_statements(engine)
    assert len(log.statements) == overhead + live_rewrites(engine) + 1, log.statements
    assert len(log.vdm_own()) == overhead


@pytest.mark.parametrize("deferred", [False, True], ids=["ids-at-first-flush", "ids-at-commit"])
def test_updating_100_objects_costs_as_many_statements_as_updating_1(session, engine, deferred):
    create_books(session, engine, 100, first_id=1)
    session.info[DEFERRED_REVISION_IDS] = deferred
    counts = {}
    for count in (1, 100):
        books = session.scalars(select(Book).order_by(Book.id).limit(count)).all()
        session.revision = Revision(author="bench", message=f"update {count}")
        with StatementLog(engine) as log:
            for book in books:
                book.title = f"updated {count}"
            session.commit()
        counts[count] = log.statements
    # the revision, the live UPDATE (executemany, which checks that each
    # row still has the revision_id read: no stale-check statement of its
    # own) and the versions.
    overhead = (revision_statements(engine, deferred) + version_statements(engine)
                + live_rewrites(engine, deferred))
    assert len(counts[1]) == len(counts[100]) == overhead + 1, counts
    assert not any(s.startswith("SELECT") and "revision_sequence" not in s for s in counts[100])


def test_vdm_issues_no_select_per_object_with_database_generated_keys(session, engine):
    session.revision = Revision(author="bench", message="autoincrement keys")
    with StatementLog(engine) as log:
        session.add_all([Book(name=f"auto{i}") for i in range(50)])
        session.commit()
    assert len(log.vdm_own()) == revision_statements(engine) + version_statements(engine)


def small_revision_statements(engine):
    """Statements of one small revision, the object's load included: the
    revision, the live write (which checks the revision_id read itself) and
    the versions."""
    return revision_statements(engine) + 1 + version_statements(engine)


@pytest.mark.parametrize("count", [1, 10])
def test_a_small_update_revision_costs_its_load_and_three_to_five_statements(
        session, engine, count):
    create_books(session, engine, 10, first_id=1)
    with StatementLog(engine) as log:
        books = session.scalars(select(Book).where(Book.id <= count)).all()
        session.revision = Revision(author="bench", message=f"update {count}")
        for book in books:
            book.title = "updated"
        session.commit()
    # PostgreSQL 4, SQLite 5, MariaDB 6, for 1 object as for 10.
    expected = {"postgresql": 4, "sqlite": 5}.get(engine.dialect.name, 6)
    assert len(log.statements) == 1 + small_revision_statements(engine) == expected, log.statements
    # No stale-check statement of its own: the live UPDATE carries it.
    assert not any("FOR UPDATE" in s for s in log.statements)
    [live] = [s for s in log.statements if s.startswith("UPDATE book ")]
    assert re.search(r"WHERE book\.id = \S+ AND book\.revision_id", live), live
    with engine.connect() as conn:
        titles = conn.execute(select(Book.title, Book.revision_id).order_by(Book.id)).all()
        versions = conn.exec_driver_sql(
            "SELECT id, revision_id, expired_id FROM book_revision ORDER BY id, revision_id").all()
    assert titles == [("updated", 2)] * count + [("t", 1)] * (10 - count)
    assert versions == sorted([(i, 1, 2 if i <= count else None) for i in range(1, 11)]
                              + [(i, 2, None) for i in range(1, count + 1)])


def test_a_one_object_insert_revision_costs_three_to_five_statements(session, engine):
    log = create_books(session, engine, 1, first_id=1)
    assert len(log.statements) == small_revision_statements(engine) == (
        {"postgresql": 3, "sqlite": 4}.get(engine.dialect.name, 5)), log.statements


def test_a_one_object_delete_revision_costs_no_stale_check_statement(session, engine):
    create_books(session, engine, 1, first_id=1)
    book = session.get(Book, 1)
    session.revision = Revision(author="bench", message="delete")
    with StatementLog(engine) as log:
        session.delete(book)
        session.commit()
    assert not any("FOR UPDATE" in s and "FROM book " in s for s in log.statements)
    [live] = [s for s in log.statements if s.startswith("DELETE FROM book ")]
    assert "book.revision_id" in live, live
