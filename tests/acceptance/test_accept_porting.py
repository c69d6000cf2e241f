"""Code written for the original vdm (0.15 on SQLAlchemy, 0.2 on SQLObject), on both backends.

A catalogue that ran on the original vdm for years is ported: the same
calls must mean the same thing, except where doc/porting-vdm.rst documents
a difference.
"""

from __future__ import annotations

from typing import Any

from vdm import Operation

from .harness import Harness


def names(items: Any) -> list[str]:
    return [item.name for item in items]


def tag_names(links: Any) -> list[str]:
    return [link.tag.name for link in links]


def tagged_package(h: Harness) -> Any:
    """r1: package "pkg" tagged a and b."""
    h.begin("r1")
    pkg = h.create("Package", name="pkg")
    pkg.tags = [h.create("Tag", name="a"), h.create("Tag", name="b")]
    h.commit()
    return pkg


def test_list_changes_has_every_versioned_class_and_empty_lists_for_unchanged_ones(
        story: Harness) -> None:
    story.begin("r1")
    story.create("Book", name="warandpeace")
    story.commit()
    changes = story.repository().list_changes(1)
    book, author, license_ = (story.classes[n] for n in ("Book", "Author", "License"))
    # vdm 0.15 code indexes the result by class without checking first.
    assert [v.name for v in changes[book]] == ["warandpeace"]
    assert changes[author] == [] and changes[license_] == []
    assert all(isinstance(versions, list) for versions in changes.values())


def test_the_diff_of_a_new_object_shows_every_field_coming_from_none(story: Harness) -> None:
    story.begin("r1")
    book = story.create("Book", name="anna", title="XYZ")
    story.commit()
    story.begin("r2")
    story.update(book, title="ABC")
    story.commit()
    created = {"id": "- None\n+ 1", "name": "- None\n+ anna", "title": "- None\n+ XYZ",
               "state": "- None\n+ active"}
    # vdm 0.15's test_diff_2: diffing at the revision that created the object.
    assert book.diff(to_revision=1) == created
    assert book.versions[0].diff() == created
    assert book.diff() == {"title": "- XYZ\n+ ABC"}
    assert book.diff(2, 1) == {"title": "- XYZ\n+ ABC"}


def test_a_field_set_to_or_from_none_reads_none_in_the_diff(story: Harness) -> None:
    story.begin("r1")
    book = story.create("Book", name="anna", title="Anna")
    story.commit()
    story.begin("r2")
    story.update(book, title=None, text="Here\nare some\nnotes")
    story.commit()
    assert book.diff() == {"title": "- Anna\n+ None", "text": "- None\n+ Here\n+ are some\n+ notes"}


def test_a_class_that_is_not_stateful_has_no_state_in_changesets_or_diffs(
        story: Harness) -> None:
    story.begin("r1")
    gpl = story.create("License", name="GPL")
    story.commit()
    story.begin("r2")
    story.update(gpl, name="GPL-3")
    story.commit()
    first, second = gpl.versions
    assert first.changeset == {"id": [None, 1], "name": [None, "GPL"]}
    assert second.changeset == {"name": ["GPL", "GPL-3"]}
    assert gpl.diff(to_revision=1) == {"id": "- None\n+ 1", "name": "- None\n+ GPL"}
    assert "state" not in first.diff()
    # A Stateful class keeps state in both.
    story.begin("r3")
    book = story.create("Book", name="b")
    story.commit()
    assert book.versions[0].changeset["state"] == [None, "active"]


def test_the_active_view_is_live_removing_a_link_deletes_it(links: Harness) -> None:
    package = tagged_package(links)
    links.begin("r2: drop a through the active view")
    del package.tags_active[0]
    assert names(package.tags) == ["b"]
    links.commit()
    assert names(package.tags) == ["b"]
    assert tag_names(package.tags_deleted) == ["a"]
    assert names(package.get_as_of(1).tags) == ["a", "b"]
    assert names(package.get_as_of(2).tags) == ["b"]
    assert links.rows("SELECT tag_id, state FROM package_tag ORDER BY tag_id") == [
        (1, "deleted"), (2, "active")]


def test_removing_from_the_deleted_view_undeletes_and_appending_to_it_deletes(
        links: Harness) -> None:
    package = tagged_package(links)
    links.revise("r2", lambda: package.tags.remove(package.tags[0]))
    links.begin("r3: undelete a, delete b")
    package.tags_deleted.remove(package.tags_deleted[0])
    package.tags_deleted.append([link for link in package.tags_active if link.tag.name == "b"][0])
    links.commit()
    assert names(package.tags) == ["a"]
    assert tag_names(package.tags_deleted) == ["b"]
    assert links.rows("SELECT COUNT(*) FROM package_tag") == [(2,)]
    assert names(package.get_as_of(2).tags) == ["b"]
    assert links.verify() == []


def test_appending_a_link_to_the_active_view_adds_it_or_undeletes_the_old_one(
        links: Harness) -> None:
    package = tagged_package(links)
    links.revise("r2", lambda: package.tags.remove(package.tags[0]))
    links.begin("r3: link c, link a again")
    c = links.create("Tag", name="c")
    package.tags_active.append(links.new_link(package, c))
    package.tags_active.append(package.tags_deleted[0])
    links.commit()
    assert names(package.tags) == ["b", "c", "a"]
    assert package.tags_deleted == []
    # Tag a got its old link back.
    assert links.rows("SELECT tag_id, state FROM package_tag ORDER BY tag_id") == [
        (1, "active"), (2, "active"), (3, "active")]
    assert links.verify() == []


def test_assigning_an_active_view_replaces_the_links(links: Harness) -> None:
    package = tagged_package(links)
    links.begin("r2")
    keep = package.tags_active[1]
    package.tags_active = [keep]
    links.commit()
    assert names(package.tags) == ["b"]
    assert tag_names(package.tags_deleted) == ["a"]


def test_metadata_set_after_the_first_write_is_what_the_revision_keeps(story: Harness) -> None:
    revision = story.begin("first draft", author="editor")
    story.create("Book", name="b")
    assert story.find("Book", name="b") is not None  # the change is written
    revision.message = "abc"
    revision.author = "chief editor"
    revision.extra = {"request": "r-1"}
    story.commit()
    assert story.rows("SELECT id, author, message FROM revision") == [(1, "chief editor", "abc")]
    assert story.repository().get_revision(1).extra == {"request": "r-1"}
    assert story.history() == ["abc"]


def test_metadata_set_after_commit_is_not_written_by_the_next_revision(story: Harness) -> None:
    first = story.begin("first", author="editor")
    story.create("Book", name="b")
    story.commit()
    first.message = "changed later"
    story.begin("second")
    story.create("Book", name="c")
    story.commit()
    assert story.history() == ["second", "first"]


def test_new_stateful_objects_are_active_before_they_are_written(links: Harness) -> None:
    package = tagged_package(links)
    links.begin("r2")
    other = links.create("Package", name="other")
    assert other.is_active()
    link = links.new_link(package, links.create("Tag", name="c"))
    assert link.is_active()
    package.tags_active.append(link)
    assert names(package.tags) == ["a", "b", "c"]
    links.commit()
    assert [v.operation_type for v in link.versions] == [Operation.INSERT]
    assert link.versions[0].state == "active"
