"""Concurrent writers: commit-ordered revision ids, conflicts, no lost update.

Several threads edit the same "counter" book at once, each basing its new
value on what it read.  Writers serialise on the revision sequence, so a
writer whose read went stale gets ConflictError and retries; in the end the
counter equals the number of successful increments (no update lost), the
revision ids appeared in commit order, and verify() finds nothing.
"""

import threading
import time

import pytest
from models import Base, Book
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from vdm import ConflictError
from vdm.sqlalchemy import DEFERRED_REVISION_IDS, Repository, Revision

WRITERS = 4
INCREMENTS = 6


@pytest.fixture
def server_engine(story_engine, database):
    if database.name == "sqlite":
        pytest.skip("SQLite has one writer at a time by design (database lock); "
                    "concurrent writers need a server database")
    return story_engine


@pytest.mark.parametrize("deferred", [False, True], ids=["ids-at-first-flush", "ids-at-commit"])
def test_concurrent_writers_get_commit_ordered_ids_and_no_lost_update(server_engine, deferred):
    engine = server_engine
    info = {DEFERRED_REVISION_IDS: deferred}
    with Session(engine) as session:
        session.revision = Revision(author="setup", message="counter")
        session.add(Book(name="counter", title="0"))
        session.add_all(Book(name=f"own{i}", title="0") for i in range(WRITERS))
        session.commit()

    conflicts: list[ConflictError] = []
    other_errors: list[BaseException] = []
    successes = []
    stop = threading.Event()
    order_violations: list[tuple[int, int]] = []

    def observe():
        seen: set[int] = set()
        while not stop.is_set():
            with Session(engine) as s:
                ids = set(s.scalars(select(Revision.id)))
            new = ids - seen
            # Every id committed since the last look must be above all seen.
            if new and seen and min(new) < max(seen):
                order_violations.append((min(new), max(seen)))
            seen |= ids
            time.sleep(0.002)

    def write(n):
        done = 0
        while done < INCREMENTS:
            with Session(engine, info=info) as s:
                counter = s.scalars(select(Book).filter_by(name="counter")).one()
                mine = s.scalars(select(Book).filter_by(name=f"own{n}")).one()
                value = int(counter.title)
                time.sleep(0.003)
                s.revision = Revision(author=f"writer{n}", message=f"increment to {value + 1}")
                counter.title = str(value + 1)
                mine.title = str(done + 1)
                try:
                    s.commit()
                except ConflictError as exc:
                    conflicts.append(exc)
                    s.rollback()
                    continue
                except BaseException as exc:  # noqa: BLE001 - reported below
                    other_errors.append(exc)
                    return
                done += 1
                successes.append(value + 1)

    observer = threading.Thread(target=observe)
    observer.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    stop.set()
    observer.join()

    assert other_errors == []
    assert order_violations == []
    assert sorted(successes) == list(range(1, WRITERS * INCREMENTS + 1))
    assert conflicts, "the writers overlapped, so some reads must have gone stale"
    assert all("was changed by revision" in str(c) and c.obj is not None for c in conflicts)
    with Session(engine) as s:
        assert s.scalars(select(Book.title).filter_by(name="counter")).one() == str(WRITERS * INCREMENTS)
        assert s.scalar(select(func.count()).select_from(Revision)) == 1 + WRITERS * INCREMENTS
        stamps = list(s.execute(select(Revision.id, Revision.timestamp).order_by(Revision.id)))
        assert [t for _, t in stamps] == sorted(t for _, t in stamps)
        counter = s.scalars(select(Book).filter_by(name="counter")).one()
        assert [v.title for v in counter.versions] == [str(i) for i in range(WRITERS * INCREMENTS + 1)]
        assert Repository(Base.metadata, s).verify() == []


#: Sessions that take revision ids at commit (vdm.sqlalchemy.commit).
DEFERRED = {DEFERRED_REVISION_IDS: True}


def _in_thread(work):
    """Run ``work()`` in a thread; return the thread and a list that gets its error."""
    errors: list[BaseException] = []

    def run():
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _two_books(engine):
    with Session(engine) as session:
        session.revision = Revision(author="setup", message="two books")
        session.add_all([Book(name="a", title="a0"), Book(name="b", title="b0")])
        session.commit()


def test_a_writer_commits_while_another_writer_is_still_open(server_engine):
    """A has flushed versioned changes and keeps its transaction open; B
    changes another row and commits meanwhile, without waiting for A."""
    engine = server_engine
    _two_books(engine)
    a_flushed, b_done = threading.Event(), threading.Event()
    ids: dict[str, int] = {}

    def writer_a():
        with Session(engine, expire_on_commit=False, info=DEFERRED) as s:
            s.revision = Revision(author="a", message="slow")
            book = s.scalars(select(Book).filter_by(name="a")).one()
            book.title = "a1"
            s.flush()
            a_flushed.set()
            assert b_done.wait(30)
            s.commit()
            ids["a"] = book.revision_id
            assert s.revision is None

    def writer_b():
        with Session(engine, expire_on_commit=False, info=DEFERRED) as s:
            s.revision = rev = Revision(author="b", message="quick")
            book = s.scalars(select(Book).filter_by(name="b")).one()
            book.title = "b1"
            s.commit()
            ids["b"] = book.revision_id
            assert rev.id == book.revision_id

    a, a_errors = _in_thread(writer_a)
    assert a_flushed.wait(30)
    b, b_errors = _in_thread(writer_b)
    b.join(timeout=20)
    b_waited = b.is_alive()
    b_done.set()
    a.join(timeout=30)
    b.join(timeout=30)
    assert not b_waited, "B waited for A's commit"
    assert a_errors == [] and b_errors == []
    # B committed first, so its id is the smaller one; ids are final ones.
    assert 1 < ids["b"] < ids["a"]
    with Session(engine) as s:
        stamps = list(s.execute(select(Revision.id, Revision.timestamp, Revision.author)
                                .order_by(Revision.id)))
        assert [(i, who) for i, _, who in stamps] == [(1, "setup"), (ids["b"], "b"), (ids["a"], "a")]
        assert [t for _, t, _ in stamps] == sorted(t for _, t, _ in stamps)
        books = {b.name: b for b in s.scalars(select(Book))}
        assert (books["a"].title, books["a"].revision_id) == ("a1", ids["a"])
        assert (books["b"].title, books["b"].revision_id) == ("b1", ids["b"])
        assert [(v.title, v.revision_id, v.expired_id) for v in books["a"].versions] == [
            ("a0", 1, ids["a"]), ("a1", ids["a"], None)]
        assert [(v.title, v.revision_id, v.expired_id) for v in books["b"].versions] == [
            ("b0", 1, ids["b"]), ("b1", ids["b"], None)]
        assert Repository(Base.metadata, s).verify() == []


def test_two_writers_on_one_row_the_second_gets_a_conflict_naming_the_revision(server_engine):
    """B read the row before A committed its change: B's write is stale."""
    engine = server_engine
    _two_books(engine)
    with Session(engine, info=DEFERRED) as a, Session(engine, info=DEFERRED) as b:
        a.revision = Revision(author="a", message="first")
        b.revision = Revision(author="b", message="second")
        book_a = a.scalars(select(Book).filter_by(name="a")).one()
        book_b = b.scalars(select(Book).filter_by(name="a")).one()
        # The failed flush rolls B's transaction back, as SQLAlchemy does for
        # a stale version_id_col: B's objects are readable after b.rollback().
        key = book_b.id
        book_a.title = "by a"
        a.flush()
        book_b.title = "by b"
        thread, errors = _in_thread(b.commit)
        thread.join(timeout=1)  # B waits for the row A has changed
        a.commit()
        thread.join(timeout=30)
        assert len(errors) == 1 and isinstance(errors[0], ConflictError)
        final = a.scalars(select(Revision.id).filter_by(author="a")).one()
        assert errors[0].obj is book_b and errors[0].revision == final
        assert str(errors[0]).startswith(f"Book(id={key}) was changed by revision {final} ")
        b.rollback()
    with Session(engine) as s:
        assert s.scalars(select(Book.title).filter_by(name="a")).one() == "by a"
        assert list(s.scalars(select(Revision.author).order_by(Revision.id))) == ["setup", "a"]


def test_a_rolled_back_writer_leaves_nothing_and_takes_no_id(server_engine):
    engine = server_engine
    _two_books(engine)
    with Session(engine, info=DEFERRED) as s:
        s.revision = rev = Revision(author="gone", message="rolled back")
        s.scalars(select(Book).filter_by(name="a")).one().title = "never"
        s.add(Book(name="c", title="never"))
        s.flush()
        s.rollback()
        assert rev.id is None
    with Session(engine, info=DEFERRED) as s:
        s.revision = Revision(author="kept", message="after")
        s.scalars(select(Book).filter_by(name="b")).one().title = "b1"
        s.commit()
    with Session(engine) as s:
        assert list(s.execute(select(Revision.id, Revision.author).order_by(Revision.id))) == [
            (1, "setup"), (2, "kept")]
        assert sorted(s.scalars(select(Book.title))) == ["a0", "b1"]
        for table in ("book", "book_revision"):
            ids = s.execute(text(f"SELECT revision_id FROM {table}")).scalars().all()
            assert set(ids) <= {1, 2}
        assert Repository(Base.metadata, s).verify() == []
