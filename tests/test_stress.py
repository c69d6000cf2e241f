"""The stress tool in a small configuration, and what it taught.

``stress.run_stress`` runs concurrent writers and as-of readers through
either backend, then audits the history (see :mod:`stress`).  Here it runs small enough for CI (well
under 30 s per database).  The tests after it replay, with two sessions
and no threads, the stale writes the stress run met, so that each is a
plain, deterministic reproduction: a writer that read before another
revision changed the same objects must get ConflictError, nothing else.
"""

import time

import pytest
from history_helpers import rows
from link_models import License, LinkBase, Package, PackageExtra, Tag
from sqlalchemy import select
from sqlalchemy.orm import Session
from stress import replay, run_stress

from vdm import ConflictError
from vdm.sqlalchemy import Repository, Revision


@pytest.fixture
def server_url(db, engine):
    if db.name == "sqlite":
        pytest.skip("SQLite has one writer at a time by design (database lock); "
                    "concurrent writers need a server database")
    return db.url


@pytest.mark.parametrize("backend", ["sqlalchemy", "sqlobject"])
def test_concurrent_writers_and_readers_leave_a_history_equal_to_the_replay(server_url, backend):
    started = time.monotonic()
    result = run_stress(server_url, backend, writers=4, revisions=8, readers=2, seed=7,
                        time_limit=25)
    print(result.figures())
    assert not result.truncated, result.figures()
    assert result.problems == []
    assert result.revisions == 1 + 4 * 8
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("backend", ["sqlalchemy", "sqlobject"])
def test_writer_processes_are_audited_the_same_way(server_url, backend):
    result = run_stress(server_url, backend, writers=2, revisions=4, readers=1, processes=True,
                        seed=3, time_limit=25)
    print(result.figures())
    assert result.problems == []
    assert result.revisions == 1 + 2 * 4


def test_the_replay_rebuilds_the_model_from_logged_changes():
    log = [
        (1, [("create", 1, "p", "L0"), ("create", 2, "q", None)]),
        (3, [("tag+", 1, "t1"), ("extra", 1, "a", "x"), ("state", 2, "deleted")]),
        (2, [("name", 1, "p2"), ("tag+", 1, "t0")]),
        (4, [("tag-", 1, "t0"), ("extra-", 1, "a"), ("hard", 2), ("license", 1, "L1")]),
    ]
    after = replay(log)
    assert after[2] == {1: ("p2", "active", "L0", ("t0",), ()),
                        2: ("q", "active", None, (), ())}
    assert after[3][1] == ("p2", "active", "L0", ("t0", "t1"), (("a", "x"),))
    assert after[3][2] == ("q", "deleted", None, (), ())
    assert after[4] == {1: ("p2", "active", "L1", ("t1",), ())}


# -- the stale writes of the stress run, one at a time ----------------------


@pytest.fixture
def two_sessions(engine):
    LinkBase.metadata.create_all(engine)
    with Session(engine) as s:
        s.revision = Revision(author="setup")
        s.add_all([Package(name="p"), Tag(name="t"), License(name="L")])
        s.commit()
    with Session(engine) as alice, Session(engine) as bob:
        yield alice, bob


def stale_pair(two_sessions):
    """Alice and Bob both read package 1; return their copies."""
    alice, bob = two_sessions
    return alice.get(Package, 1), bob.get(Package, 1)


def commit_stale(bob, change):
    bob.revision = Revision(author="bob")
    change()
    with pytest.raises(ConflictError, match=r"Package\(id=1\)"):
        bob.commit()
    bob.rollback()


def test_a_stale_many_to_one_change_is_a_conflict(two_sessions, engine):
    alice, bob = two_sessions
    a_pkg, b_pkg = stale_pair(two_sessions)
    license = bob.get(License, 1)
    alice.revision = Revision(author="alice")
    a_pkg.name = "renamed"
    alice.commit()
    commit_stale(bob, lambda: setattr(b_pkg, "license", license))
    assert rows(engine, "SELECT name, license_id FROM package") == [("renamed", None)]


def test_adding_a_link_to_an_owner_deleted_meanwhile_is_a_conflict(two_sessions, engine):
    alice, bob = two_sessions
    a_pkg, b_pkg = stale_pair(two_sessions)
    tag = bob.get(Tag, 1)
    alice.revision = Revision(author="alice")
    alice.delete(a_pkg)
    alice.commit()
    commit_stale(bob, lambda: b_pkg.tags.append(tag))
    assert rows(engine, "SELECT count(*) FROM package_tag") == [(0,)]


def test_hard_deleting_an_owner_that_gained_a_link_meanwhile_is_a_conflict(two_sessions, engine):
    alice, bob = two_sessions
    a_pkg, b_pkg = stale_pair(two_sessions)
    assert list(b_pkg.package_tags) == []
    alice.revision = Revision(author="alice")
    a_pkg.tags.append(alice.get(Tag, 1))
    alice.commit()
    commit_stale(bob, lambda: bob.delete(b_pkg))
    assert rows(engine, "SELECT count(*) FROM package") == [(1,)]


def test_two_writers_creating_the_same_link_is_a_conflict_not_a_duplicate(two_sessions, engine):
    alice, bob = two_sessions
    a_pkg, b_pkg = stale_pair(two_sessions)
    assert b_pkg.tags == [] and b_pkg.extras == {}
    alice.revision = Revision(author="alice")
    a_pkg.tags.append(alice.get(Tag, 1))
    a_pkg.extras["k"] = "alice"
    alice.commit()

    def change():
        b_pkg.tags.append(bob.get(Tag, 1))
        b_pkg.extras["k"] = "bob"

    commit_stale(bob, change)
    assert rows(engine, "SELECT count(*) FROM package_tag") == [(1,)]
    with Session(engine) as check:
        assert [(e.key, e.value) for e in check.scalars(select(PackageExtra))] == [("k", "alice")]
    with Session(engine) as s:
        assert Repository(LinkBase.metadata, s).verify() == []
        assert [t.name for t in s.scalars(select(Package)).one().tags] == ["t"]
