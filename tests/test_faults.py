"""Faults in the middle of a revision leave no trace, and the next one works.

Each test commits a first revision, starts a second one, breaks it half
way (an exception inside a flush, a constraint violation on a later
flush, the connection killed between flush and commit, the writing process
killed), and then checks that:

* the database is exactly as before the broken revision (every table);
* no version row names a missing revision (no orphan versions, no version
  without its revision), and every revision row has its versions (no
  partial revision);
* ``verify()`` finds nothing;
* the next revision commits and gets a larger id than any before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from models import Author, Base, Book
from sqlalchemy import Engine, String, create_engine, event, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from vdm.sqlalchemy import Repository, Revision, Revisioned, Stateful

TESTS = Path(__file__).resolve().parent


class Boom(Exception):
    """The injected fault."""


class FaultBase(DeclarativeBase):
    pass


#: When set, the default of ``Gadget.serial`` raises (a failing column default).
FAIL_DEFAULT = {"on": False}


def _serial() -> str:
    if FAIL_DEFAULT["on"]:
        raise Boom("the serial number service is down")
    return "S-1"


class Gadget(Revisioned, Stateful, FaultBase):
    __tablename__ = "gadget"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    serial: Mapped[str | None] = mapped_column(String(20), default=_serial)


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order."""
    with engine.connect() as conn:
        return {t: sorted((tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}"))), key=repr)
                for t in sorted(inspect(conn).get_table_names())}


def history_problems(engine: Engine) -> list[str]:
    """Orphan versions, versions without revision, revisions without versions."""
    problems: list[str] = []
    with engine.connect() as conn:
        revisions = {r[0] for r in conn.execute(text("SELECT id FROM revision"))}
        used: set[int] = set()
        for table in inspect(conn).get_table_names():
            columns = {c["name"] for c in inspect(conn).get_columns(table)}
            if "revision_id" not in columns or table == "revision":
                continue
            for rid, expired in conn.execute(text(
                f"SELECT revision_id, {'expired_id' if 'expired_id' in columns else 'NULL'} "
                f"FROM {table}"
            )):
                if rid not in revisions:
                    problems.append(f"{table}: a row names missing revision {rid}")
                if expired is not None and expired not in revisions:
                    problems.append(f"{table}: a row expires at missing revision {expired}")
                if table.endswith("_revision"):
                    used.add(rid)
        for rid in sorted(revisions - used):
            problems.append(f"revision {rid} has no version (a partial revision)")
    return problems


def assert_untouched_and_next_revision_works(engine: Engine, before: dict) -> None:
    assert snapshot(engine) == before
    assert history_problems(engine) == []
    with Session(engine) as s:
        assert Repository(Base.metadata, s).verify() == []
        assert Repository(FaultBase.metadata, s).verify() == []
        highest = max(s.scalars(select(Revision.id)))
        rev = s.revision = Revision(author="after", message="the next revision")
        book = s.scalars(select(Book).filter_by(name="a")).one()
        book.title = "after the fault"
        s.add(Book(name="c"))
        s.commit()
        assert rev.id is not None and rev.id > highest
        assert Repository(Base.metadata, s).verify() == []
    assert history_problems(engine) == []


@pytest.fixture
def model(engine: Engine) -> Engine:
    """Both models created, one committed revision of books and gadgets."""
    Base.metadata.create_all(engine)
    FaultBase.metadata.create_all(engine)
    with Session(engine) as s:
        s.revision = Revision(author="setup", message="first")
        s.add_all([Book(name="a", title="A", authors=[Author(name="x")]), Book(name="b"),
                   Gadget(name="g")])
        s.commit()
    yield engine
    FAIL_DEFAULT["on"] = False


def start_revision(s: Session) -> None:
    """A revision that changes, creates and deletes, and is flushed once."""
    s.revision = Revision(author="victim", message="never committed")
    s.scalars(select(Book).filter_by(name="a")).one().title = "half-written"
    s.delete(s.scalars(select(Book).filter_by(name="b")).one())
    s.add(Book(name="new"))
    s.flush()


# -- an exception inside a flush ----------------------------------------------


@pytest.mark.parametrize("where", ["before_flush", "after_flush", "after_flush_postexec"])
def test_an_exception_raised_inside_a_flush_leaves_no_trace(model, where):
    before = snapshot(model)
    with Session(model) as s:
        start_revision(s)

        def boom(*args):
            raise Boom(f"raised in {where}")

        event.listen(s, where, boom)
        s.scalars(select(Book).filter_by(name="a")).one().title = "second flush"
        with pytest.raises(Boom):
            s.flush()
        s.rollback()
        event.remove(s, where, boom)
    assert_untouched_and_next_revision_works(model, before)


def test_a_failing_column_default_leaves_no_trace(model):
    before = snapshot(model)
    with Session(model) as s:
        start_revision(s)
        FAIL_DEFAULT["on"] = True
        s.add(Gadget(name="needs a serial"))
        # SQLAlchemy wraps an error of a column default in StatementError.
        with pytest.raises(StatementError, match="serial number service"):
            s.commit()
        s.rollback()
    FAIL_DEFAULT["on"] = False
    assert_untouched_and_next_revision_works(model, before)


# -- a constraint violation in the middle of a revision -----------------------


def test_a_unique_violation_on_the_second_flush_leaves_no_trace(model):
    before = snapshot(model)
    with Session(model) as s:
        start_revision(s)
        s.add(Book(name="a"))  # name is unique
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()
    assert_untouched_and_next_revision_works(model, before)


def test_a_failed_revision_can_be_retried_with_the_same_revision_object(model):
    before = snapshot(model)
    with Session(model) as s:
        s.revision = rev = Revision(author="retry", message="second try works")
        s.add(Gadget(name="g"))  # unique violation
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        assert snapshot(model) == before
        s.revision = rev
        s.add(Gadget(name="h"))
        s.commit()
        assert rev.id == 2
    assert history_problems(model) == []


# -- the connection killed between flush and commit ---------------------------


def _backend_id(conn) -> int:
    if conn.dialect.name == "postgresql":
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    return conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar_one()


def _terminate(engine: Engine, backend: int) -> None:
    with engine.connect() as admin:
        if engine.dialect.name == "postgresql":
            assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}).scalar()
        else:
            admin.exec_driver_sql(f"KILL {int(backend)}")


def test_the_connection_killed_between_flush_and_commit_leaves_no_trace(model, db):
    if db.name == "sqlite":
        pytest.skip("SQLite is embedded: there is no server connection to terminate")
    before = snapshot(model)
    victim = create_engine(db.url)
    try:
        with Session(victim) as s:
            start_revision(s)
            backend = _backend_id(s.connection())
            _terminate(model, backend)
            with pytest.raises(DBAPIError):
                s.commit()
            s.rollback()
    finally:
        victim.dispose()
    # The killed transaction held the revision lock; the next writer must
    # not wait for it (the helper's revision would hang otherwise).
    assert_untouched_and_next_revision_works(model, before)


# -- the writing process killed mid-revision ----------------------------------

CHILD = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {tests!r})
    from models import Book
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session
    from vdm.sqlalchemy import Revision

    engine = create_engine({url!r})
    s = Session(engine)
    s.revision = Revision(author="doomed", message="killed before commit")
    s.scalars(select(Book).filter_by(name="a")).one().title = "half-written"
    s.delete(s.scalars(select(Book).filter_by(name="b")).one())
    s.add(Book(name="new"))
    s.flush()
    print("flushed", flush=True)
    if {how!r} == "os._exit":
        os._exit(3)
    time.sleep(60)
""")


@pytest.mark.parametrize("how", ["os._exit", "SIGKILL"])
def test_a_process_killed_mid_revision_leaves_no_trace(model, db, how):
    before = snapshot(model)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=str(TESTS), url=db.url, how=how)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "flushed", child.stderr.read()
        if how == "SIGKILL":
            os.kill(child.pid, signal.SIGKILL)
        code = child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    assert code == (3 if how == "os._exit" else -signal.SIGKILL)
    # A server notices the dead client and rolls its transaction back; the
    # next writer waits for the revision lock at most until then.
    assert_untouched_and_next_revision_works(model, before)
