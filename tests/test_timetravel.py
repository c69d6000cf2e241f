"""Whole-model time travel: the as-of view equals a replay of history."""

import random

import pytest
from link_models import License, LinkBase, Package, Tag
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from vdm import ReadOnlyError, State, VdmError
from vdm.sqlalchemy import Repository, Revision, as_of


@pytest.fixture
def session(engine):
    LinkBase.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def snapshot(session):
    """The live model as plain data: {package name: (state, license, tags, extras)}."""
    return {
        p.name: (str(p.state), p.license.name if p.license else None,
                 [t.name for t in p.tags], dict(p.extras))
        for p in session.scalars(select(Package))
    }


def view_snapshot(view):
    return {
        p.name: (str(p.state), p.license.name if p.license else None,
                 [t.name for t in p.tags], dict(p.extras))
        for p in view.all(Package)
    }


def random_history(session, rng, revisions):
    tags = [Tag(name=f"t{i}") for i in range(4)]
    licenses = [License(name=f"L{i}") for i in range(2)]
    session.revision = Revision(author="setup", message="vocabulary")
    session.add_all(tags + licenses)
    session.commit()
    expected = {session.scalar(select(func.max(Revision.id))): snapshot(session)}
    counter = 0
    for n in range(revisions):
        session.revision = Revision(author=f"u{n % 3}", message=f"step {n}")
        for _ in range(rng.randint(1, 3)):
            packages = list(session.scalars(select(Package).order_by(Package.id)))
            action = rng.choice(["create", "update", "soft", "undelete", "hard", "tags", "extras", "license"])
            if action == "create" or not packages:
                counter += 1
                session.add(Package(name=f"p{counter}", license=rng.choice(licenses + [None])))
                session.flush()
                continue
            pkg = rng.choice(packages)
            if action == "update":
                pkg.name = f"{pkg.name.split('~')[0]}~{n}"
            elif action == "soft":
                pkg.delete()
            elif action == "undelete":
                pkg.undelete()
            elif action == "hard":
                for link in pkg.package_tags + pkg.extras_list:
                    session.delete(link)
                session.delete(pkg)
            elif action == "tags":
                pkg.tags = rng.sample(tags, rng.randint(0, 3))
            elif action == "extras":
                key = rng.choice(["a", "b"])
                if key in pkg.extras and rng.random() < 0.5:
                    del pkg.extras[key]
                else:
                    pkg.extras[key] = f"v{n}"
            else:
                pkg.license = rng.choice(licenses)
            session.flush()
        session.commit()
        rid = session.scalar(select(func.max(Revision.id)))
        expected[rid] = snapshot(session)
    return expected


@pytest.mark.parametrize("seed", [1, 2])
def test_the_view_at_every_revision_equals_the_replayed_model(session, seed):
    expected = random_history(session, random.Random(seed), revisions=12)
    for revision_id, model in expected.items():
        assert view_snapshot(as_of(session, revision_id)) == model, f"revision {revision_id}"
    assert Repository(LinkBase.metadata, session).verify() == []


@pytest.fixture
def story(session):
    session.revision = Revision(author="a", message="r1")
    gpl = License(name="GPL")
    session.add_all([Package(name="wp", license=gpl), Package(name="ak"), Package(name="zz")])
    session.commit()
    session.revision = Revision(author="a", message="r2")
    wp = session.scalars(select(Package).filter_by(name="wp")).one()
    wp.name = "war-and-peace"
    gpl.name = "GPL-3"
    session.delete(session.scalars(select(Package).filter_by(name="zz")).one())
    session.commit()
    return session


def test_get_filter_order_and_limit_resolve_at_the_revision(story):
    view = as_of(story, 1)
    assert view.get(Package, 1).name == "wp" and view.get(Package, 3).name == "zz"
    assert view.scalars(select(Package).where(Package.name == "wp"))[0].license.name == "GPL"
    assert [p.name for p in view.scalars(select(Package).order_by(Package.name.desc()).limit(2))] == ["zz", "wp"]
    assert view.scalar(select(func.count()).select_from(Package)) == 3
    later = as_of(story, 2)
    assert later.get(Package, 3) is None
    assert later.scalars(select(Package).where(Package.name == "wp")) == []
    assert later.get(Package, 1).license.name == "GPL-3"
    assert [n for (n,) in later.execute(select(Package.name).order_by(Package.name))] == ["ak", "war-and-peace"]


def test_explicit_joins_are_rewritten_and_relationship_joins_refused(story):
    view = as_of(story, 1)
    joined = select(Package).join(License, Package.license_id == License.id).where(License.name == "GPL")
    assert [p.name for p in view.scalars(joined)] == ["wp"]
    assert as_of(story, 2).scalars(joined) == []
    with pytest.raises(VdmError, match="cannot follow a relationship join"):
        view.scalars(select(Package).join(Package.license))


def test_writing_through_the_view_is_refused(story):
    view = as_of(story, 1)
    with pytest.raises(ReadOnlyError, match="read-only view of the past"):
        view.add(Package(name="new"))
    with pytest.raises(ReadOnlyError):
        view.get(Package, 1).name = "x"
    story.rollback()


def test_the_view_reads_a_class_of_1000_objects_in_one_query(session, engine):
    session.revision = Revision(author="bulk")
    session.add_all(Package(id=i, name=f"p{i}") for i in range(1, 1001))
    session.commit()
    session.revision = Revision(author="bulk")
    for p in session.scalars(select(Package)):
        p.state = State.DELETED if p.id % 2 else State.ACTIVE
    session.commit()
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        packages = as_of(session, 1).all(Package)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(packages) == 1000 and {p.state for p in packages} == {"active"}
    assert len([s for s in statements if "package_revision" in s]) == 1
