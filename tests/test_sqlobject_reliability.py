"""Reliability of the SQLObject backend: bad input and faults.

The SQLObject half of issue 7, mirroring ``test_bad_input.py``,
``test_faults.py`` and ``test_stress.py`` of the SQLAlchemy backend:

* bad input: one test per row of ``doc/bad-input.rst`` that applies to
  SQLObject and is not yet told for both backends in tests/acceptance
  (exact error class, a message naming the object or class and saying what
  to do, every table unchanged);
* faults: an exception, a unique violation, the connection killed and the
  process killed in the middle of a revision leave no trace, and the next
  revision works with a larger id.

Stress (concurrent writers and as-of readers) is one tool for both
backends: ``tests/stress.py``, run by ``tests/test_stress.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from sqlobject import SQLObject, StringCol, connectionForURI
from sqlobject_models import (  # noqa: F401 - fixtures
    REGISTRY,
    STORY,
    Author,
    Book,
    License,
    connection,
    create_story_tables,
    new_session,
    session,
    so_connection,
    sqlobject_uri,
)
from test_faults import history_problems, snapshot

from vdm import (
    ConfigurationError,
    ConflictError,
    NoRevisionError,
    UnversionedChangeError,
)
from vdm.sqlobject import (
    Repository,
    Revision,
    Revisioned,
    Session,
    create_tables,
    revision_scope,
)

TESTS = Path(__file__).resolve().parent


# -- the story ------------------------------------------------------------------


@pytest.fixture
def story(connection: Any, new_session: Any) -> Session:
    """Revision 1: books a (with author x) and b; revision 2: a retitled."""
    s: Session = new_session()
    s.revision = Revision(author="setup", message="r1")
    a = Book(name="a", title="A", connection=s.transaction)
    Author(name="x", book=a, connection=s.transaction)
    Book(name="b", connection=s.transaction)
    s.commit()
    s.revision = r2 = Revision(author="setup", message="r2")
    book(s).title = "A2"
    s.commit()
    s.r2 = r2  # type: ignore[attr-defined] - the committed object, for reuse
    return s


@pytest.fixture
def unchanged(story: Session, engine: Any) -> Any:
    """Assert, after the test, that the database is as the story left it."""
    before = snapshot(engine)
    yield
    story.rollback()
    assert snapshot(engine) == before


def book(s: Session, name: str = "a") -> Any:
    return Book.selectBy(name=name, connection=s.transaction).getOne()


# -- bad input: writing without (a usable) revision -------------------------------


def test_bad_input_a_change_outside_any_session(story: Session, unchanged: Any,
                                               connection: Any) -> None:
    target = Book.get(1, connection=connection)
    with pytest.raises(NoRevisionError) as caught:
        target.title = "no session"
    assert type(caught.value) is NoRevisionError
    assert str(caught.value).startswith("cannot change Book outside a vdm session")
    assert "pass connection=session.transaction" in str(caught.value)


# -- bad input: writing to history ----------------------------------------------


def test_bad_input_a_stale_write(story: Session, new_session: Any, engine: Any) -> None:
    other = new_session()
    stale = book(other)
    assert stale.title == "A2"
    story.revision = Revision(author="first")
    book(story).title = "first"
    story.commit()
    before = snapshot(engine)
    other.revision = Revision(author="second")
    with pytest.raises(ConflictError) as caught:
        stale.title = "second, from a stale read"
    other.rollback()
    assert type(caught.value) is ConflictError
    assert caught.value.obj is stale and caught.value.revision == 3
    assert "Book(id=1) was changed by revision 3" in str(caught.value)
    assert "read it again (obj.expire() or a new session) and apply your change again" \
        in str(caught.value)
    assert snapshot(engine) == before


@pytest.mark.parametrize("how", ["deleteMany", "deleteBy", "clearTable"])
def test_bad_input_a_bulk_delete_of_a_versioned_class(story: Session, unchanged: Any,
                                                     how: str) -> None:
    story.revision = Revision(author="bulk")
    conn = story.transaction
    with pytest.raises(UnversionedChangeError) as caught:
        if how == "deleteMany":
            Author.deleteMany(Author.q.name == "x", connection=conn)
        elif how == "deleteBy":
            Author.deleteBy(name="x", connection=conn)
        else:
            # SQLObject's clearTable() is one raw "DELETE FROM author".
            Author.clearTable(connection=conn)
    assert type(caught.value) is UnversionedChangeError
    message = str(caught.value)
    assert message.startswith(f"Author.{how}()"), message
    assert "would bypass their history" in message
    assert "destroySelf()" in message


# -- bad input: unsupported models -----------------------------------------------


def test_bad_input_lazy_update_is_refused_at_declaration(db: Any, engine: Any) -> None:
    before = snapshot(engine)
    with pytest.raises(ConfigurationError) as caught:
        class LazyNote(Revisioned, SQLObject):
            class sqlmeta:
                lazyUpdate = True
                # One registry per database: SQLObject registers the class
                # before vdm refuses it.
                registry = f"{REGISTRY}-reliability-lazy-{db.name}"

            name = StringCol(default=None)
    assert type(caught.value) is ConfigurationError
    assert caught.value.cls.__name__ == "LazyNote"
    assert str(caught.value) == (
        "LazyNote sets sqlmeta.lazyUpdate = True: its changes would be written (and "
        "versioned) only at syncUpdate(), outside the revision; remove lazyUpdate "
        "from versioned classes")
    assert snapshot(engine) == before


def test_bad_input_a_reserved_column_name_is_refused_at_declaration(db: Any,
                                                                  engine: Any) -> None:
    before = snapshot(engine)
    with pytest.raises(ConfigurationError) as caught:
        class Clash(Revisioned, SQLObject):
            class sqlmeta:
                table = "clash"
                registry = f"{REGISTRY}-reliability-clash-{db.name}"

            expired_id = StringCol(default=None)
    assert type(caught.value) is ConfigurationError
    assert str(caught.value) == (
        "Clash (table 'clash') has a column named 'expired_id', which vdm's version "
        "table needs; rename it")
    assert snapshot(engine) == before


def test_bad_input_a_table_without_revision_id(db: Any, connection: Any, engine: Any) -> None:
    # The live table exists already (made before the class was versioned)
    # and lacks revision_id: create_tables() leaves existing tables alone.
    connection.query("CREATE TABLE bare (id INTEGER PRIMARY KEY, name VARCHAR(20))")

    class Bare(Revisioned, SQLObject):
        class sqlmeta:
            table = "bare"
            registry = f"{REGISTRY}-reliability-bare-{db.name}"

        name = StringCol(length=20, default=None)

    before = snapshot(engine)
    with pytest.raises(ConfigurationError) as caught:
        create_tables(connection, [Bare])
    assert "Bare (table 'bare') has no 'revision_id' column" in str(caught.value)
    assert snapshot(engine) == before


# -- faults in the middle of a revision ---------------------------------------------


class Boom(Exception):
    """The injected fault."""


@pytest.fixture
def model(connection: Any, new_session: Any, engine: Any) -> Any:
    """One committed revision: books a (with author x) and b."""
    s = new_session()
    s.revision = Revision(author="setup", message="first")
    a = Book(name="a", title="A", connection=s.transaction)
    Author(name="x", book=a, connection=s.transaction)
    Book(name="b", connection=s.transaction)
    s.commit()
    s.close()
    return engine


def start_revision(s: Session) -> Revision:
    """A revision that changes, creates and destroys, and writes its versions."""
    s.revision = rev = Revision(author="victim", message="never committed")
    book(s).title = "half-written"
    book(s, "b").destroySelf()
    Book(name="new", connection=s.transaction)
    s.flush()
    assert rev.id is not None
    return rev


def assert_untouched_and_next_revision_works(engine: Any, connection: Any,
                                             before: dict) -> None:
    assert snapshot(engine) == before
    assert history_problems(engine) == []
    assert Repository(connection, STORY).verify() == []
    highest = max(r[0] for r in connection.queryAll("SELECT id FROM revision"))
    s = Session(connection)
    try:
        s.revision = rev = Revision(author="after", message="the next revision")
        book(s).title = "after the fault"
        Book(name="c", connection=s.transaction)
        s.commit()
    finally:
        s.close()
    assert rev.id is not None and rev.id > highest
    assert Repository(connection, STORY).verify() == []
    assert history_problems(engine) == []


@pytest.mark.parametrize("how", ["revision_scope()", "explicit rollback"])
def test_fault_an_exception_mid_revision_leaves_no_trace(model: Any, connection: Any,
                                                        new_session: Any, how: str) -> None:
    before = snapshot(model)
    s = new_session()
    if how == "revision_scope()":
        with pytest.raises(Boom):
            with revision_scope(s, author="victim", message="never committed") as rev:
                book(s).title = "half-written"
                book(s, "b").destroySelf()
                Book(name="new", connection=s.transaction)
                s.flush()
                assert rev.id is not None
                book(s).title = "after the flush"  # pending, not yet flushed
                raise Boom("raised between writes and commit")
        assert rev.id is None, "a rolled-back revision forgets its id"
    else:
        rev = start_revision(s)
        book(s).title = "after the flush"
        try:
            raise Boom("raised between writes and commit")
        except Boom:
            s.rollback()
        assert rev.id is None
    assert_untouched_and_next_revision_works(model, connection, before)


def test_fault_a_unique_violation_mid_revision_leaves_no_trace(model: Any, connection: Any,
                                                              new_session: Any) -> None:
    from sqlobject.dberrors import DatabaseError

    before = snapshot(model)
    s = new_session()
    start_revision(s)
    with pytest.raises(DatabaseError) as caught:
        Book(name="a", connection=s.transaction)  # name is unique
    assert "unique" in str(caught.value).lower() or "duplicate" in str(caught.value).lower()
    s.rollback()
    assert_untouched_and_next_revision_works(model, connection, before)


def test_fault_a_failed_revision_can_be_retried_with_the_same_revision_object(
        model: Any, connection: Any, new_session: Any) -> None:
    from sqlobject.dberrors import DatabaseError

    before = snapshot(model)
    s = new_session()
    s.revision = rev = Revision(author="retry", message="second try works")
    with pytest.raises(DatabaseError):
        Book(name="b", connection=s.transaction)
    s.rollback()
    assert rev.id is None
    assert snapshot(model) == before
    s.revision = rev
    Book(name="h", connection=s.transaction)
    s.commit()
    assert rev.id == 2
    assert history_problems(model) == []
    assert Repository(connection, STORY).verify() == []


def _backend_id(conn: Any) -> int:
    if conn.dbName == "postgres":
        return int(conn.queryOne("SELECT pg_backend_pid()")[0])
    return int(conn.queryOne("SELECT CONNECTION_ID()")[0])


def _terminate(engine: Any, backend: int) -> None:
    from sqlalchemy import text

    with engine.connect() as admin:
        if engine.dialect.name == "postgresql":
            assert admin.execute(text("SELECT pg_terminate_backend(:pid)"),
                                 {"pid": backend}).scalar()
        else:
            admin.exec_driver_sql(f"KILL {int(backend)}")


def test_fault_the_connection_killed_between_writes_and_commit_leaves_no_trace(
        model: Any, connection: Any, db: Any) -> None:
    if db.name == "sqlite":
        pytest.skip("SQLite is embedded: there is no server connection to terminate")
    before = snapshot(model)
    victim_conn = connectionForURI(sqlobject_uri(db))
    rollback_error: BaseException | None = None
    try:
        s = Session(victim_conn)
        rev = start_revision(s)
        _terminate(model, _backend_id(s.transaction))
        with pytest.raises(Exception) as caught:
            s.commit()
        assert not isinstance(caught.value, AssertionError)
        try:
            s.rollback()
        except Exception as exc:  # noqa: BLE001 - reported at the end
            rollback_error = exc
        # SQLObject's Transaction.__del__ would roll back (and fail) again.
        s.transaction._obsolete = True
    finally:
        victim_conn.close()
    # The killed transaction held the revision lock; the next writer must
    # not wait for it.
    assert_untouched_and_next_revision_works(model, connection, before)
    # After the fault the session must be usable for cleanup: rollback()
    # on a dead connection should not raise, and the revision must forget
    # the id the server never committed (another revision now has it).
    assert rollback_error is None, (
        f"Session.rollback() after the connection was killed raised "
        f"{type(rollback_error).__name__}: {rollback_error}; revision id left "
        f"at {rev.id}")
    assert rev.id is None


CHILD = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {tests!r})
    from sqlobject import connectionForURI
    from sqlobject_models import Book
    from vdm.sqlobject import Revision, Session

    s = Session(connectionForURI({uri!r}))
    s.revision = Revision(author="doomed", message="killed before commit")
    a = Book.selectBy(name="a", connection=s.transaction).getOne()
    a.title = "half-written"
    Book.selectBy(name="b", connection=s.transaction).getOne().destroySelf()
    Book(name="new", connection=s.transaction)
    s.flush()
    print("flushed", flush=True)
    if {how!r} == "os._exit":
        os._exit(3)
    time.sleep(60)
""")


@pytest.mark.parametrize("how", ["os._exit", "SIGKILL"])
def test_fault_a_process_killed_mid_revision_leaves_no_trace(model: Any, connection: Any,
                                                            db: Any, how: str) -> None:
    before = snapshot(model)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=str(TESTS), uri=sqlobject_uri(db), how=how)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None and child.stderr is not None
        line = child.stdout.readline()
        assert line.strip() == "flushed", child.stderr.read()
        if how == "SIGKILL":
            os.kill(child.pid, signal.SIGKILL)
        code = child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    assert code == (3 if how == "os._exit" else -signal.SIGKILL)
    # The server notices the dead client and rolls its transaction back.
    started = time.monotonic()
    assert_untouched_and_next_revision_works(model, connection, before)
    assert time.monotonic() - started < 30
