"""An editor inspects, restores and undoes a catalogue's revisions, on both backends.

The catalogue: r1 ann creates two packages (one licensed and tagged); r2
bob renames one and retags it; r3 ann soft-deletes the other and adds an
extra; r4 cat destroys the link r2 removed.  What each revision changed,
the model's diff, blame, the history's filters, restoring and undoing read
and write the same whichever backend keeps the catalogue.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from vdm import ConflictError, State

from .harness import Harness
from .test_accept_errors import backend_module


def names(items: Any) -> list[str]:
    return [item.name for item in items]


def attribute(h: Harness, cls_name: str, column: str) -> str:
    """The backend's attribute for a versioned column (``license_id``: ``licenseID``)."""
    return next(a for a, c in h.fields(cls_name).items() if c == column)


def license_name(h: Harness) -> str:
    """The license class's name (the SQLObject link model calls it LinkLicense)."""
    return h.classes["License"].__name__  # type: ignore[attr-defined, no-any-return]


def catalogue(h: Harness) -> dict[str, Any]:
    box: dict[str, Any] = {}
    h.begin("create", author="ann")
    box["gpl"] = h.create("License", name="GPL")
    box["wp"] = h.create("Package", name="wp", license=box["gpl"])
    box["wp"].tags = [h.create("Tag", name="novel"), h.create("Tag", name="russian")]
    box["ak"] = h.create("Package", name="ak")
    h.commit()
    wp = box["wp"]
    h.begin("retitle and retag", author="bob")
    h.update(wp, name="war-and-peace")
    wp.tags.remove(wp.tags[0])
    wp.tags.append(h.create("Tag", name="classic"))
    h.commit()
    h.begin("delete ak, add year", author="ann")
    h.soft_delete(box["ak"])
    wp.extras["year"] = "1869"
    h.commit()
    h.begin("destroy a dead link", author="cat")
    h.destroy(wp.tags_deleted[0])
    h.commit()
    return box


def test_an_editor_sees_everything_a_revision_changed(links: Harness) -> None:
    catalogue(links)
    repo = links.repository()
    changes = repo.changes(2)
    assert changes.revision.author == "bob" and changes.revision.id == 2
    assert [(c.class_name, c.fields) for c in changes.updated] == [
        ("Package", {"name": ("wp", "war-and-peace")})]
    assert [c.describe() for c in changes.created] == ["Tag(id=3) created"]
    assert changes.created[0].fields["name"] == (None, "classic")
    tag_id = attribute(links, "PackageTag", "tag_id")
    assert [(c.kind, c.fields[tag_id][1]) for c in changes.links_added] == [("created", 3)]
    assert [(c.kind, c.fields) for c in changes.links_removed] == [
        ("deleted", {"state": ("active", "deleted")})]
    assert [(c.class_name, c.kind) for c in repo.changes(3).deleted] == [("Package", "deleted")]
    assert repo.changes(3).of_kind("deleted")[0].fields == {"state": ("active", "deleted")}
    assert [c.describe() for c in repo.changes(4).links_removed] == [
        "PackageTag(id=1) destroyed"]
    assert [c.describe() for c in repo.changes(1).created][:2] == [
        f"{license_name(links)}(id=1) created", "Package(id=1) created"]


def test_the_model_diff_between_two_revisions_is_structured(links: Harness) -> None:
    catalogue(links)
    repo = links.repository()
    diff = repo.diff(1, 3)
    assert (diff.a, diff.b) == (1, 3)
    assert diff.classes["Package"].changed == {
        (1,): {"name": ("wp", "war-and-peace")}, (2,): {"state": ("active", "deleted")}}
    assert diff.classes["Tag"].added == [(3,)]
    assert diff.classes["PackageExtra"].added == [(1,)]
    assert diff.classes["PackageTag"].changed[(1,)] == {"state": ("active", "deleted")}
    assert license_name(links) not in diff.classes
    assert repo.diff(3, 4).classes["PackageTag"].removed == [(1,)]
    assert repo.diff(3, 3).classes == {}


def test_blame_and_field_history_name_the_revisions_behind_each_value(links: Harness) -> None:
    wp = catalogue(links)["wp"]
    who = backend_module(links).blame(wp)
    assert who["name"].author == "bob"
    assert who[attribute(links, "Package", "license_id")].author == "ann"
    assert links.field_history(wp, "name") == [(1, None, "wp"), (2, "wp", "war-and-peace")]


def test_history_filters_by_author_and_time(links: Harness) -> None:
    catalogue(links)
    repo = links.repository()
    assert [r.id for r in repo.history(author="ann")] == [3, 1]
    third = repo.get_revision(3)
    assert [r.id for r in repo.history(since=third.timestamp)] == [4, 3]
    assert [r.id for r in repo.history(until=third.timestamp, limit=1, offset=1)] == [2]
    # The same instant in another time zone.
    aware = third.timestamp.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert [r.id for r in repo.history(since=aware)] == [4, 3]


def tags_by_package(h: Harness) -> dict[str, list[str]]:
    return {name: names(h.find("Package", name=name).tags)
            for (name,) in h.rows("SELECT name FROM package ORDER BY id")}


def test_restoring_the_whole_model_is_a_new_revision_equal_to_the_old_one(
        links: Harness) -> None:
    catalogue(links)
    repo = links.repository()
    before = {p.name: names(p.tags) for p in repo.as_of(1).all(links.classes["Package"])}  # type: ignore[attr-defined]
    links.begin("back to r1", author="ann")
    links.restore(1)
    links.commit()
    assert tags_by_package(links) == before == {"wp": ["novel", "russian"], "ak": []}
    assert links.rows("SELECT name, state FROM package ORDER BY id") == [
        ("wp", "active"), ("ak", "active")]
    assert links.rows("SELECT name FROM tag ORDER BY id") == [("novel",), ("russian",)]
    assert repo.youngest_revision().message == "back to r1"
    assert [c.class_name for c in repo.changes(5).updated] == ["Package"]
    assert links.verify() == []


def test_restoring_one_object_brings_back_its_links(links: Harness) -> None:
    box = catalogue(links)
    wp = box["wp"]
    links.begin("restore wp", author="ann")
    assert backend_module(links).restore_object(links.session, wp, 1) is wp  # type: ignore[attr-defined]
    links.commit()
    assert wp.name == "wp" and names(wp.tags) == ["novel", "russian"]
    assert dict(wp.extras) == {}
    assert links.find("Package", name="ak").state == State.DELETED, "others are untouched"
    assert links.rows("SELECT name FROM tag ORDER BY id") == [
        ("novel",), ("russian",), ("classic",)], "targets are not links: they stay"
    assert links.verify() == []


def test_undoing_a_revision_keeps_later_ones(links: Harness) -> None:
    wp = catalogue(links)["wp"]
    links.begin("undo ann's r3", author="dan")
    links.undo(3)
    links.commit()
    assert links.find("Package", name="ak").state == State.ACTIVE, "ak is undeleted"
    assert dict(wp.extras) == {}, "the extra r3 added is gone"
    assert wp.name == "war-and-peace" and names(wp.tags) == ["russian", "classic"], "r2 is kept"
    assert [c.kind for c in links.repository().changes(5).objects] == ["undeleted", "destroyed"]
    assert links.verify() == []


def test_undoing_a_change_to_something_destroyed_later_is_a_conflict(links: Harness) -> None:
    catalogue(links)
    undo = links.begin("undo bob", author="dan")
    with pytest.raises(ConflictError, match=r"^cannot undo revision 2: PackageTag\(id=1\) was "
                                            r"destroyed by a later revision"):
        links.undo(2)
    assert undo.id is None, "nothing was written: no revision was even allocated"
    links.rollback()
    assert links.history()[0] == "destroy a dead link"


def test_an_undo_that_meets_a_later_change_reports_the_conflict_and_writes_nothing(
        links: Harness) -> None:
    wp = catalogue(links)["wp"]
    links.revise("rename again", lambda: links.update(wp, name="WP"))
    before = links.rows("SELECT id, revision_id, name FROM package ORDER BY id")
    undo = links.begin("undo bob", author="dan")
    with pytest.raises(ConflictError) as caught:
        links.undo(2)
    assert str(caught.value) == (
        "cannot undo revision 2: a later revision also changed name of Package(id=1); "
        "undo that one first or edit by hand")
    assert caught.value.fields == ("name",) and caught.value.revision == 2
    assert caught.value.obj.id == 1 and caught.value.cls is links.classes["Package"]  # type: ignore[attr-defined]
    assert undo.id is None, "nothing was written: no revision was even allocated"
    links.rollback()
    assert links.rows("SELECT id, revision_id, name FROM package ORDER BY id") == before


def test_undoing_a_destroy_that_was_redone_later_is_a_conflict(links: Harness) -> None:
    catalogue(links)
    keys = {attribute(links, "PackageTag", "package_id"): 1,
            attribute(links, "PackageTag", "tag_id"): 1}
    links.revise("recreate", lambda: links.create("PackageTag", id=1, state="active", **keys))
    links.begin("undo r4")
    with pytest.raises(ConflictError, match=r"it destroyed PackageTag\(id=1\), which a later "
                                            r"revision re-created") as caught:
        links.undo(4)
    assert "state" in caught.value.fields
    links.rollback()


def test_undo_works_for_classes_without_state(links: Harness) -> None:
    gpl = catalogue(links)["gpl"]
    links.revise("rename licence", lambda: links.update(gpl, name="GPL-3"))
    links.begin("undo it")
    links.undo(5)
    links.commit()
    assert links.rows("SELECT name FROM license") == [("GPL",)]
    assert [c.describe() for c in links.repository().changes(6).updated] == [
        f"{license_name(links)}(id=1) updated: name"]
