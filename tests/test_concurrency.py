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
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vdm import ConflictError
from vdm.sqlalchemy import Repository, Revision

WRITERS = 4
INCREMENTS = 6


@pytest.fixture
def server_engine(story_engine, database):
    if database.name == "sqlite":
        pytest.skip("SQLite has one writer at a time by design (database lock); "
                    "concurrent writers need a server database")
    return story_engine


def test_concurrent_writers_get_commit_ordered_ids_and_no_lost_update(server_engine):
    engine = server_engine
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
            with Session(engine) as s:
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
