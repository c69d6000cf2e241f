"""The statement budget: versioning costs a constant number of statements.

A revision that creates or updates many objects must not issue more
statements for 100 objects than for 1: history rows are written set-based,
and vdm never selects per object.
"""

import re

import pytest
from models import Book
from sqlalchemy import event, select

from vdm.sqlalchemy import Revision

VDM_TABLE = re.compile(r"^(INSERT INTO|UPDATE|DELETE FROM|SELECT .*? FROM) (revision|revision_sequence|\w+_revision)\b")


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


def sequence_statements(engine):
    """Taking the next revision id: one UPDATE ... RETURNING, or UPDATE + SELECT."""
    return 1 if engine.dialect.update_returning else 2


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
    # sequence bump (+ read where UPDATE has no RETURNING), revision row,
    # live INSERT (executemany), version INSERT ... SELECT, expiry UPDATE.
    assert len(log.statements) == sequence_statements(engine) + 4, log.statements
    assert len(log.vdm_own()) == sequence_statements(engine) + 3


def test_updating_100_objects_costs_as_many_statements_as_updating_1(session, engine):
    create_books(session, engine, 100, first_id=1)
    counts = {}
    for count in (1, 100):
        books = session.scalars(select(Book).order_by(Book.id).limit(count)).all()
        session.revision = Revision(author="bench", message=f"update {count}")
        with StatementLog(engine) as log:
            for book in books:
                book.title = f"updated {count}"
            session.commit()
        counts[count] = log.statements
    # + the stale check (SELECT ... FOR UPDATE) and the live UPDATE.
    assert len(counts[1]) == len(counts[100]) == sequence_statements(engine) + 5, counts
    assert not any(s.startswith("SELECT") and "FOR UPDATE" not in s and "revision_sequence" not in s
                   and " IN " not in s for s in counts[100])


def test_vdm_issues_no_select_per_object_with_database_generated_keys(session, engine):
    session.revision = Revision(author="bench", message="autoincrement keys")
    with StatementLog(engine) as log:
        session.add_all([Book(name=f"auto{i}") for i in range(50)])
        session.commit()
    assert len(log.vdm_own()) == sequence_statements(engine) + 3
