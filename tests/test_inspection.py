"""Change inspection, restore and undo, in the words of a catalogue editor."""

import datetime as dt

import pytest
from history_helpers import rows
from link_models import License, LinkBase, Package, PackageTag, Tag
from sqlalchemy import select
from sqlalchemy.orm import Session

from vdm import ConflictError
from vdm.sqlalchemy import (
    Repository,
    Revision,
    as_of,
    blame,
    changes_in,
    diff_model,
    field_history,
    restore_model,
    restore_object,
    undo_revision,
)


@pytest.fixture
def session(engine):
    LinkBase.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


@pytest.fixture
def repo(session):
    return Repository(LinkBase.metadata, session)


def revise(repo, author, message, change):
    repo.new_revision(author=author, message=message)
    change()
    repo.commit()


@pytest.fixture
def catalogue(repo, session):
    """r1 ann creates two packages; r2 bob edits one and retags; r3 ann
    soft-deletes the other and adds an extra; r4 cat destroys a tag link."""
    box = {}

    def r1():
        box["gpl"] = License(name="GPL")
        box["wp"] = Package(name="wp", license=box["gpl"])
        box["wp"].tags = [Tag(name="novel"), Tag(name="russian")]
        box["ak"] = Package(name="ak")
        session.add_all([box["wp"], box["ak"]])

    def r2():
        box["wp"].name = "war-and-peace"
        box["wp"].tags.remove(box["wp"].tags[0])
        box["wp"].tags.append(Tag(name="classic"))

    def r3():
        box["ak"].delete()
        box["wp"].extras["year"] = "1869"

    def r4():
        session.delete(box["wp"].tags_deleted[0])

    revise(repo, "ann", "create", r1)
    revise(repo, "bob", "retitle and retag", r2)
    revise(repo, "ann", "delete ak, add year", r3)
    revise(repo, "cat", "destroy a dead link", r4)
    return box


def test_an_editor_sees_everything_a_revision_changed(repo, catalogue):
    changes = repo.changes(2)
    assert changes.revision.author == "bob"
    assert [(c.class_name, c.fields) for c in changes.updated] == [
        ("Package", {"name": ("wp", "war-and-peace")})]
    assert [c.class_name for c in changes.created] == ["Tag"]
    assert sorted((c.kind, c.fields.get("tag_id", (None, None))[1]) for c in changes.links_added) == [
        ("created", 3)]
    assert [(c.kind, c.fields) for c in changes.links_removed] == [
        ("deleted", {"state": ("active", "deleted")})]
    r3 = repo.changes(3)
    assert [(c.class_name, c.kind) for c in r3.deleted] == [("Package", "deleted")]
    assert [c.describe() for c in repo.changes(4).links_removed] == ["PackageTag(id=1) destroyed"]
    assert [c.describe() for c in repo.changes(1).created][:2] == ["License(id=1) created", "Package(id=1) created"]


def test_the_model_diff_between_two_revisions_is_structured(repo, catalogue):
    diff = repo.diff(1, 3)
    assert (diff.a, diff.b) == (1, 3)
    assert diff.classes["Package"].changed == {
        (1,): {"name": ("wp", "war-and-peace")}, (2,): {"state": ("active", "deleted")}}
    assert diff.classes["Tag"].added == [(3,)]
    assert diff.classes["PackageExtra"].added == [(1,)]
    assert diff.classes["PackageTag"].changed[(1,)] == {"state": ("active", "deleted")}
    assert "License" not in diff.classes
    assert repo.diff(3, 3).classes == {}


def test_blame_and_field_history_name_the_revisions_behind_each_value(session, catalogue):
    wp = catalogue["wp"]
    who = blame(wp)
    assert who["name"].author == "bob" and who["license_id"].author == "ann"
    history = field_history(wp, "name")
    assert [(c.revision.id, c.old, c.new) for c in history] == [(1, None, "wp"), (2, "wp", "war-and-peace")]


def test_history_filters_by_author_and_time(repo, catalogue):
    assert [r.id for r in repo.history(author="ann")] == [3, 1]
    third = repo.get_revision(3)
    assert [r.id for r in repo.history(since=third.timestamp)] == [4, 3]
    assert [r.id for r in repo.history(until=third.timestamp, limit=1, offset=1)] == [2]
    aware = third.timestamp.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert [r.id for r in repo.history(since=aware)] == [4, 3]


def test_restoring_the_whole_model_is_a_new_revision_equal_to_the_old_one(repo, session, catalogue):
    before = {p.name: [t.name for t in p.tags] for p in as_of(session, 1).all(Package)}
    revise(repo, "ann", "back to r1", lambda: repo.restore(1))
    now = {p.name: [t.name for t in p.tags] for p in session.scalars(select(Package))}
    assert now == before == {"wp": ["novel", "russian"], "ak": []}
    assert session.scalars(select(Tag.name).order_by(Tag.id)).all() == ["novel", "russian"]
    assert repo.youngest_revision().message == "back to r1"
    assert repo.verify() == []
    assert [c.class_name for c in repo.changes(5).updated] == ["Package"]


def test_restoring_one_object_brings_back_its_links(repo, session, catalogue):
    wp = catalogue["wp"]
    revise(repo, "ann", "restore wp", lambda: restore_object(session, wp, 1))
    assert wp.name == "wp" and [t.name for t in wp.tags] == ["novel", "russian"]
    assert dict(wp.extras) == {}
    assert session.get(Package, 2).state == "deleted", "other objects are untouched"
    assert repo.verify() == []


def test_undoing_a_revision_keeps_later_ones(repo, session, catalogue):
    revise(repo, "dan", "undo ann's r3", lambda: repo.undo(3))
    wp = catalogue["wp"]
    assert session.get(Package, 2).state == "active", "ak is undeleted"
    assert dict(wp.extras) == {}, "the extra r3 added is gone"
    assert wp.name == "war-and-peace" and [t.name for t in wp.tags] == ["russian", "classic"], "r2 is kept"
    assert repo.verify() == []
    assert [c.kind for c in repo.changes(5).objects] == ["undeleted", "destroyed"]


def test_undoing_a_change_to_something_destroyed_later_is_a_conflict(repo, session, catalogue):
    repo.new_revision(author="dan", message="undo bob")
    with pytest.raises(ConflictError, match=r"cannot undo revision 2: PackageTag\(id=1\) was destroyed"):
        repo.undo(2)
    session.rollback()


def test_an_undo_that_meets_a_later_change_reports_the_conflict_and_writes_nothing(repo, session, catalogue, engine):
    revise(repo, "eve", "rename again", lambda: setattr(catalogue["wp"], "name", "WP"))
    before = rows(engine, "SELECT id, revision_id FROM package ORDER BY id")
    repo.new_revision(author="dan", message="undo bob")
    with pytest.raises(ConflictError) as caught:
        repo.undo(2)
    assert str(caught.value) == (
        "cannot undo revision 2: a later revision also changed name of Package(id=1); "
        "undo that one first or edit by hand")
    assert caught.value.fields == ("name",) and caught.value.revision == 2
    session.rollback()
    assert rows(engine, "SELECT id, revision_id FROM package ORDER BY id") == before


def test_undoing_a_destroy_that_was_redone_later_is_a_conflict(repo, session, catalogue):
    link = session.get(PackageTag, 1)
    assert link is None
    repo.new_revision(author="x", message="recreate")
    session.add(PackageTag(id=1, package_id=1, tag_id=1, state="active"))
    repo.commit()
    repo.new_revision(author="x", message="undo r4")
    with pytest.raises(ConflictError, match="it destroyed PackageTag\\(id=1\\), which a later revision re-created"):
        repo.undo(4)
    session.rollback()


def test_undo_works_for_classes_without_state(repo, session, catalogue):
    revise(repo, "eve", "rename licence", lambda: setattr(catalogue["gpl"], "name", "GPL-3"))
    revise(repo, "dan", "undo eve", lambda: repo.undo(5))
    assert catalogue["gpl"].name == "GPL"
    assert [c.describe() for c in repo.changes(6).updated] == ["License(id=1) updated: name"]


def test_whole_model_operations_cover_the_classes_of_the_sessions_database(engine):
    # Two declarative bases in one process: the catalogue's (LinkBase) and a
    # library's (models.Base), each in its own database; only the library's
    # tables exist here.  Without a class list, every whole-model operation
    # works on the library's classes and never touches the catalogue's.
    import models

    models.Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.revision = Revision(author="librarian", message="r1")
        book = models.Book(name="b", title="one")
        session.add(book)
        session.commit()
        session.revision = Revision(author="librarian", message="r2")
        book.title = "two"
        session.add(models.License(name="gpl"))
        session.commit()
        changed = changes_in(session, 2)
        assert sorted((c.class_name, c.kind) for c in changed.objects) == [
            ("Book", "updated"), ("License", "created")]
        assert set(diff_model(session, 1, 2).classes) == {"Book", "License"}
        session.revision = Revision(author="librarian", message="r3: undo r2")
        undo_revision(session, 2)
        session.commit()
        assert book.title == "one"
        session.revision = Revision(author="librarian", message="r4: back to r2")
        restore_model(session, 2)
        session.commit()
        assert book.title == "two"
        assert [r.name for r in session.scalars(select(models.License))] == ["gpl"]
