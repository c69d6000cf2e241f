"""Versioned links and versioned maps, in users' words, on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from vdm import ConflictError

from .harness import Harness


def names(items: Any) -> list[str]:
    return [item.name for item in items]


def tagged_package(h: Harness) -> Any:
    """r1: package "pkg" tagged a and b."""
    h.begin("r1")
    pkg = h.create("Package", name="pkg")
    pkg.tags = [h.create("Tag", name="a"), h.create("Tag", name="b")]
    h.commit()
    return pkg


def test_a_link_removed_and_readded_is_undeleted_and_history_shows_each_step(
        links: Harness) -> None:
    package = tagged_package(links)
    links.revise("r2: remove both", lambda: setattr(package, "tags", []))
    links.begin("r3: re-add a")
    package.tags.append(links.find("Tag", name="a"))
    links.commit()
    assert names(package.get_as_of(1).tags) == ["a", "b"]
    assert names(package.get_as_of(2).tags) == []
    assert names(package.get_as_of(3).tags) == ["a"]
    assert links.rows("SELECT COUNT(*) FROM package_tag") == [(2,)]
    assert names(package.tags) == ["a"]
    assert [link.tag.name for link in package.tags_active] == ["a"]
    assert [link.tag.name for link in package.tags_deleted] == ["b"]
    assert [link.tag_id for link in package.get_as_of(2).tags_deleted] == [1, 2]
    assert package.get_as_of(1).tags_deleted == []
    assert [link.tag.name for link in package.get_as_of(1).tags_active] == ["a", "b"]
    assert links.verify() == []


@pytest.mark.parametrize("edit", [
    "append the same tag twice",
    "assign the same list again",
    "remove then append in one revision",
    "append a new tag then remove it in one revision",
    "insert an existing tag",
    "slice-assign a list containing existing tags",
])
def test_editing_a_list_never_duplicates_links(links: Harness, edit: str) -> None:
    package = tagged_package(links)
    a, b = package.tags[0], package.tags[1]
    links.begin(edit)
    if edit == "append the same tag twice":
        package.tags.append(a)
        package.tags.append(a)
    elif edit == "assign the same list again":
        package.tags = [a, b]
    elif edit == "remove then append in one revision":
        package.tags.remove(a)
        package.tags.append(a)
    elif edit == "append a new tag then remove it in one revision":
        new = links.create("Tag", name="tmp")
        package.tags.append(new)
        package.tags.remove(new)
    elif edit == "insert an existing tag":
        package.tags.insert(0, b)
    else:
        package.tags[0:1] = [b, a]
    links.commit()
    assert links.rows("SELECT tag_id, COUNT(*) FROM package_tag GROUP BY tag_id "
                      "ORDER BY tag_id") == [(1, 1), (2, 1)]
    assert sorted(names(package.tags)) == ["a", "b"]
    assert links.verify() == []


def test_setting_the_same_list_writes_nothing(links: Harness) -> None:
    package = tagged_package(links)
    links.begin("no-op")
    package.tags = list(package.tags)
    links.commit()
    assert links.rows("SELECT COUNT(*) FROM revision") == [(1,)]


def test_add_then_remove_in_one_revision_leaves_nothing(links: Harness) -> None:
    package = tagged_package(links)
    links.begin("r2: a new tag")
    new = links.create("Tag", name="c")
    links.commit()
    links.begin("r3: add c and think better of it")
    package.tags.append(new)
    package.tags.remove(new)
    links.commit()
    assert links.rows("SELECT COUNT(*) FROM package_tag") == [(2,)]
    assert links.rows("SELECT COUNT(*) FROM package_tag_revision") == [(2,)]
    assert links.rows("SELECT id FROM revision ORDER BY id") == [(1,), (2,)]


def test_order_is_stable_and_survives_a_reload(links: Harness) -> None:
    package = tagged_package(links)
    links.begin("reorder")
    package.tags.insert(0, links.create("Tag", name="c"))
    package.tags.reverse()
    links.commit()
    assert names(package.tags) == ["b", "a", "c"]
    other = links.other()
    reloaded = other.find("Package", name="pkg")
    assert names(reloaded.tags) == ["b", "a", "c"]
    assert names(reloaded.get_as_of(1).tags) == ["a", "b"]
    assert names(reloaded.get_as_of(2).tags) == ["b", "a", "c"]


def test_links_without_a_position_keep_their_creation_order(links: Harness) -> None:
    package = tagged_package(links)
    links.begin("r2: two groups")
    package.groups.extend([links.create("Group", name="g1"), links.create("Group", name="g2")])
    links.commit()
    links.revise("r3: leave g1", lambda: package.groups.remove(package.groups[0]))
    reloaded = links.other().find("Package", name="pkg")
    assert names(reloaded.groups) == ["g2"]
    assert names(reloaded.get_as_of(2).groups) == ["g1", "g2"]


def test_reverting_a_package_brings_back_the_links_it_had_then(links: Harness) -> None:
    package = tagged_package(links)
    links.begin("r2: rename, retag")
    links.update(package, name="renamed")
    package.tags = [links.create("Tag", name="c")]
    links.commit()
    links.begin("r3: back to r1")
    package.get_as_of(1).revert()
    links.commit()
    reloaded = links.other().find("Package", name="pkg")
    assert names(reloaded.tags) == ["a", "b"]
    assert [link.tag.name for link in reloaded.tags_deleted] == ["c"]
    assert names(reloaded.get_as_of(2).tags) == ["c"]
    assert names(reloaded.get_as_of(3).tags) == ["a", "b"]
    assert links.verify() == []

def test_as_of_follows_two_hops_through_old_keys_and_old_names(links: Harness) -> None:
    links.begin("r1")
    gpl, mit = links.create("License", name="GPL"), links.create("License", name="MIT")
    pkg = links.create("Package", name="p", license=gpl)
    pkg.tags = [links.create("Tag", name="t")]
    links.commit()
    links.revise("r2: relicense", lambda: links.update(pkg, license=mit))
    links.begin("r3: rename GPL, rename the tag")
    links.update(gpl, name="GPL-3")
    links.update(pkg.tags[0], name="t2")
    links.commit()
    old = pkg.get_as_of(1)
    assert old.license.name == "GPL"
    assert old.tags[0].name == "t" and old.tags[0].revision_id == 1
    assert pkg.get_as_of(2).license.name == "MIT"
    assert pkg.get_as_of(3).tags[0].name == "t2"
    assert pkg.get_as_of(1).tags_active[0].tag.name == "t"
    # The link is unchanged since r1; read as of r3 it follows r3.
    assert pkg.get_as_of(3).tags_active[0].tag.name == "t2"
    assert pkg.get_as_of(1).tags_active[0].tag.name == "t"


def test_a_versioned_map_keeps_per_key_history(links: Harness) -> None:
    package = tagged_package(links)

    def set_two() -> None:
        package.extras["licence-url"] = "http://a"
        package.extras["notes"] = "n"

    links.revise("r2: set", set_two)
    links.revise("r3: change", lambda: package.extras.__setitem__("licence-url", "http://b"))
    links.revise("r4: drop", lambda: package.extras.__delitem__("licence-url"))
    links.revise("r5: back", lambda: package.extras.__setitem__("licence-url", "http://c"))
    assert links.extras_history(package, "licence-url") == [
        (2, "http://a", "active"), (3, "http://b", "active"),
        (4, "http://b", "deleted"), (5, "http://c", "active")]
    assert [v.revision.message for v in package.extras.history("licence-url")] == [
        "r2: set", "r3: change", "r4: drop", "r5: back"]
    assert package.get_as_of(2).extras == {"licence-url": "http://a", "notes": "n"}
    assert package.get_as_of(4).extras == {"notes": "n"}
    assert dict(package.extras) == {"licence-url": "http://c", "notes": "n"}
    assert links.rows("SELECT COUNT(*) FROM package_extra") == [(2,)]


def test_replacing_a_map_with_the_same_values_writes_nothing(links: Harness) -> None:
    package = tagged_package(links)
    links.revise("r2", lambda: setattr(package, "extras", {"k": "v"}))
    links.revise("no-op", lambda: setattr(package, "extras", {"k": "v"}))
    assert links.rows("SELECT COUNT(*) FROM revision") == [(2,)]
    links.revise("r3", lambda: package.extras.__setitem__("k", "w"))
    assert links.rows("SELECT value, operation_type FROM package_extra_revision "
                      "ORDER BY revision_id") == [("v", 0), ("w", 1)]


def test_link_changes_appear_in_the_owners_history_and_list_changes(links: Harness) -> None:
    package = tagged_package(links)
    links.revise("r2: tag only", lambda: package.tags.remove(package.tags[0]))
    links.revise("r3: extras only", lambda: package.extras.__setitem__("k", "v"))
    assert [r.message for r in package.all_related_revisions] == [
        "r3: extras only", "r2: tag only", "r1"]
    assert [v.revision_id for v in package.versions] == [1]
    assert links.list_changes(2) == {"PackageTag": [(1, 1, "deleted")]}
    assert links.list_changes(3) == {"PackageExtra": [(1, 0, "active")]}


def test_purging_a_revision_restores_the_links_it_removed(links: Harness) -> None:
    package = tagged_package(links)
    links.revise("r2: remove a", lambda: package.tags.remove(package.tags[0]))
    links.purge_revision(2)
    assert names(links.find("Package", name="pkg").tags) == ["a", "b"]
    assert links.history() == ["r1"]
    assert links.verify() == []


def test_linking_a_tag_another_editor_linked_meanwhile_is_a_conflict(links: Harness) -> None:
    links.begin("r1")
    links.create("Package", name="p")
    links.create("Tag", name="a")
    links.commit()
    mine = links.other()
    tags = mine.find("Package", name="p").tags
    assert list(tags) == []
    links.revise("them", lambda: links.find("Package", name="p").tags.append(
        links.find("Tag", name="a")))
    mine.begin("tag it")
    with pytest.raises(ConflictError) as caught:
        tags.append(mine.find("Tag", name="a"))
        mine.commit()
    assert str(caught.value) == (
        "Package(id=1) already has a PackageTag for 1 (written by revision 2); "
        "reload Package.tags and apply your change again")
    assert caught.value.cls is links.classes["PackageTag"]  # type: ignore[attr-defined]
    assert caught.value.revision == 2
    mine.rollback()
    assert links.rows("SELECT package_id, tag_id, revision_id FROM package_tag") == [(1, 1, 2)]
    assert links.verify() == []
