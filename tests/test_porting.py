"""vdm 0.15 idioms that only the SQLAlchemy backend has, in a ported catalogue's words.

The behaviours both backends share are in tests/acceptance/test_accept_porting.py.
"""

import pytest
from history_helpers import rows
from link_models import Group, LinkBase, Package, PackageGroup, PackageTag, Tag
from models import Base, Book
from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from vdm import InvalidInputError
from vdm.sqlalchemy import Repository, Revision


@pytest.fixture
def session(engine):
    LinkBase.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


@pytest.fixture
def package(session):
    session.revision = Revision(author="tester", message="r1")
    pkg = Package(name="pkg")
    pkg.tags = [Tag(name="a"), Tag(name="b")]
    session.add(pkg)
    session.commit()
    return pkg


def test_adding_the_revision_to_the_session_before_any_change_just_works(story_engine):
    with Session(story_engine) as session:
        # vdm 0.15's fixtures: create, add, set on the session, then query.
        rev = Revision(author="importer", message="first load")
        session.add(rev)
        session.revision = rev
        assert session.scalars(select(Book)).all() == []  # autoflush
        session.add(Book(name="warandpeace"))
        assert session.scalars(select(Book)).one().revision_id == 1
        session.commit()
        assert rev.id == 1
    assert rows(story_engine, "SELECT id, author, message FROM revision") == [
        (1, "importer", "first load")]


def test_an_added_revision_becomes_the_sessions_revision(story_engine):
    with Session(story_engine) as session:
        rev = Revision(author="importer", message="added only")
        session.add(rev)
        session.add(Book(name="b"))
        session.commit()
        assert rev.id == 1
    assert rows(story_engine, "SELECT author, message FROM revision") == [("importer", "added only")]


def test_an_added_revision_that_changes_nothing_leaves_no_row(story_engine):
    with Session(story_engine) as session:
        session.add(Revision(author="importer"))
        session.commit()
    assert rows(story_engine, "SELECT COUNT(*) FROM revision") == [(0,)]


def test_adding_a_second_revision_is_refused_and_writes_nothing(story_engine):
    with Session(story_engine) as session:
        session.revision = Revision(author="editor", message="mine")
        session.add(Book(name="b"))
        session.add(Revision(author="intruder"))
        with pytest.raises(InvalidInputError, match=r"already <Revision uncommitted author='editor'"):
            session.flush()
        session.rollback()
    assert rows(story_engine, "SELECT COUNT(*) FROM revision") == [(0,)]
    assert rows(story_engine, "SELECT COUNT(*) FROM book") == [(0,)]


def test_a_link_appended_to_the_base_list_is_active_at_once(session, package):
    # vdm 0.15's PackageLicense story: a link made by hand, appended to the
    # owner's plain relationship, shows in the list view before any flush.
    session.revision = Revision(author="tester", message="r2")
    link = PackageGroup(group=Group(name="science"))
    package.package_groups.append(link)
    assert link.is_active()
    assert [g.name for g in package.groups] == ["science"]
    session.commit()
    assert [g.name for g in package.get_as_of(2).groups] == ["science"]


def test_a_link_made_with_state_none_is_active_as_in_vdm_015(session, package):
    session.revision = Revision(author="tester", message="r2")
    link = PackageTag(tag=Tag(name="c"), state=None)
    assert link.is_active()
    package.tags_active.append(link)
    session.commit()
    assert rows(session.get_bind(), "SELECT state FROM package_tag WHERE tag_id = 3") == [
        ("active",)]


def test_a_new_link_to_a_target_whose_link_was_deleted_reuses_that_link(session, package, engine):
    session.revision = Revision(author="tester", message="r2")
    package.tags.remove(package.tags[0])
    session.commit()
    session.revision = Revision(author="tester", message="r3")
    a = session.scalars(select(Tag).filter_by(name="a")).one()
    package.tags_active.append(PackageTag(tag=a))
    session.commit()
    assert [t.name for t in package.tags] == ["b", "a"]
    assert rows(engine, "SELECT id, tag_id, state FROM package_tag ORDER BY id") == [
        (1, 1, "active"), (2, 2, "active")]


def test_a_repository_given_a_dburi_binds_an_unbound_scoped_session(db, engine):
    Session = scoped_session(sessionmaker())
    repo = Repository(Base.metadata, Session, dburi=db.url)
    try:
        repo.create_db()
        repo.new_revision(author="me", message="first")
        Session.add(Book(name="warandpeace"))
        repo.commit_and_remove()
        # A new session of the scoped registry is bound too.
        assert Session.scalars(select(Book.name)).all() == ["warandpeace"]
        assert [r.message for r in repo.history()] == ["first"]
    finally:
        Session.remove()
        repo.engine.dispose()


def test_a_dburi_does_not_rebind_a_bound_session(story_engine):
    with Session(story_engine) as session:
        repo = Repository(Base.metadata, session, dburi="sqlite://")
        try:
            assert session.get_bind() is story_engine
        finally:
            repo.engine.dispose()
