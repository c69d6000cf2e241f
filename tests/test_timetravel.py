"""Whole-model time travel, the SQLAlchemy way: select() statements rewritten to a
revision, and a class read in one query (random histories are in
tests/acceptance/test_accept_fuzz.py)."""


import pytest
from link_models import License, LinkBase, Package
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from vdm import State, VdmError
from vdm.sqlalchemy import Revision, as_of


@pytest.fixture
def session(engine):
    LinkBase.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


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
