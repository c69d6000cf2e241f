"""History stays consistent after any sequence of edits, purges and undos.

Each test is one finding of the differential fuzz
(:mod:`tests.acceptance.test_accept_fuzz`), told as a user's story, on
both backends.
"""

from __future__ import annotations

from typing import Any

import pytest

from vdm import ConflictError, IntegrityViolation

from .harness import Harness


def names(items: Any) -> list[str]:
    return [item.name for item in items]


def revision_count(h: Harness) -> int:
    return int(h.rows("SELECT COUNT(*) FROM revision")[0][0])


# -- 1. no-op relationship changes write nothing ------------------------------

def test_posting_back_an_unchanged_license_writes_nothing(links: Harness) -> None:
    links.begin("r1")
    gpl = links.create("License", name="GPL")
    pkg = links.create("Package", name="p", license=gpl)
    links.commit()
    links.begin("form posted back unchanged")
    pkg.license = pkg.license
    links.commit()
    assert revision_count(links) == 1
    assert links.rows("SELECT COUNT(*) FROM package_revision") == [(1,)]
    assert links.verify() == []


def test_removing_and_readding_a_tag_in_one_revision_writes_nothing(links: Harness) -> None:
    links.begin("r1")
    pkg = links.create("Package", name="p")
    pkg.tags = [links.create("Tag", name="a"), links.create("Tag", name="b")]
    links.commit()
    links.begin("second thoughts")
    b = links.find("Tag", name="b")
    pkg.tags.remove(b)
    pkg.tags.append(b)
    links.commit()
    assert revision_count(links) == 1
    assert links.rows("SELECT COUNT(*) FROM package_tag_revision") == [(2,)]
    assert names(pkg.tags) == ["a", "b"]
    assert links.verify() == []


def test_reordering_links_without_a_position_writes_nothing(links: Harness) -> None:
    links.begin("r1")
    pkg = links.create("Package", name="p")
    x, y = links.create("Group", name="x"), links.create("Group", name="y")
    pkg.groups = [x, y]
    links.commit()
    links.begin("same groups, other order")
    pkg.groups = [y, x]
    links.commit()
    assert revision_count(links) == 1
    assert links.rows("SELECT COUNT(*) FROM package_group_revision") == [(2,)]
    assert links.verify() == []


# -- 2. a value set and set back across flushes stores nothing -------------------

def test_a_value_changed_flushed_and_changed_back_stores_nothing(links: Harness) -> None:
    links.begin("r1")
    pkg = links.create("Package", name="p")
    links.commit()
    links.begin("undecided")
    links.update(pkg, name="q")
    links.update(pkg, name="p")
    links.commit()
    assert revision_count(links) == 1
    assert links.rows("SELECT name, revision_id FROM package") == [("p", 1)]
    assert links.rows("SELECT COUNT(*) FROM package_revision") == [(1,)]
    assert links.verify() == []


def test_a_net_no_op_beside_a_real_change_keeps_only_the_change(links: Harness) -> None:
    links.begin("r1")
    p = links.create("Package", name="p")
    q = links.create("Package", name="q")
    links.commit()
    links.begin("r2")
    links.update(p, name="p2")
    links.update(q, name="q2")
    links.update(p, name="p")
    links.commit()
    assert links.rows("SELECT name, revision_id FROM package ORDER BY id") == [
        ("p", 1), ("q2", 2)]
    assert links.rows("SELECT id, revision_id, expired_id FROM package_revision "
                      "ORDER BY id, revision_id") == [(1, 1, None), (2, 1, 2), (2, 2, None)]
    links.begin("r3")
    links.update(p, name="p3")
    links.commit()
    assert links.find("Package", name="p3").get_as_of(2).name == "p"
    assert links.verify() == []


def test_purging_the_creating_revision_removes_an_object_set_back_later(
        links: Harness) -> None:
    links.begin("r1")
    pkg = links.create("Package", name="p")
    links.commit()
    links.begin("r2")
    links.create("Tag", name="t")
    links.update(pkg, name="q")
    links.update(pkg, name="p")
    links.commit()
    links.purge_revision(1)
    assert links.rows("SELECT COUNT(*) FROM package") == [(0,)]
    assert links.verify() == []


# -- 3. keys of destroyed objects are never reused ---------------------------------

def test_a_destroyed_objects_key_is_never_given_to_a_new_object(links: Harness) -> None:
    links.begin("r1")
    links.create("Tag", name="a")
    b = links.create("Tag", name="b")
    links.commit()
    links.revise("r2", lambda: links.destroy(b))
    links.begin("r3")
    c = links.create("Tag", name="c")
    links.commit()
    assert c.id == 3
    assert c.get_as_of(1) is None
    assert [v.revision_id for v in c.versions] == [3]


# -- 4/5. undo never breaks what later revisions built on --------------------------

def test_undoing_the_creation_of_a_license_a_later_package_uses_is_a_conflict(
        links: Harness) -> None:
    links.begin("r1")
    links.create("License", name="GPL")
    links.commit()
    links.begin("r2")
    links.create("Package", name="p", license=links.find("License", name="GPL"))
    links.commit()
    links.begin("undo r1")
    with pytest.raises(ConflictError) as caught:
        links.undo(1)
    license_class = "LinkLicense" if links.backend == "sqlobject" else "License"
    assert str(caught.value) == (
        f"cannot undo revision 1: it created {license_class}(id=1), which Package(id=1) "
        "refers to since; undo or change that first")
    links.rollback()
    assert links.rows("SELECT COUNT(*) FROM license") == [(1,)]
    assert revision_count(links) == 2


def test_undoing_a_packages_creation_after_it_was_tagged_is_a_conflict(
        links: Harness) -> None:
    links.begin("r1")
    links.create("Package", name="p")
    links.create("Tag", name="t")
    links.commit()
    links.begin("r2")
    links.find("Package", name="p").tags.append(links.find("Tag", name="t"))
    links.commit()
    links.begin("undo r1")
    with pytest.raises(ConflictError) as caught:
        links.undo(1)
    assert str(caught.value) == (
        "cannot undo revision 1: it created Package(id=1), which PackageTag(id=1) "
        "refers to since; undo or change that first")
    links.rollback()
    assert links.rows("SELECT COUNT(*) FROM package_tag") == [(1,)]
    assert links.verify() == []


# -- 6. purge_revision refuses to leave the past pointing at nothing ----------------

def test_purging_the_creation_of_a_tag_a_later_revision_linked_is_refused(
        links: Harness) -> None:
    links.begin("r1")
    links.create("Tag", name="t")
    links.commit()
    links.begin("r2")
    pkg = links.create("Package", name="p")
    pkg.tags.append(links.find("Tag", name="t"))
    links.commit()
    with pytest.raises(IntegrityViolation) as caught:
        links.purge_revision(1)
    assert str(caught.value) == (
        "cannot purge revision 1: it created Tag(id=1), which PackageTag(id=1) "
        "refers to in revision 2; purge that revision first")
    assert links.history() == ["r2", "r1"]
    assert links.rows("SELECT COUNT(*) FROM tag") == [(1,)]
    assert links.verify() == []


# -- 7. undo in a fresh session -------------------------------------------------------

def test_undo_in_a_fresh_session_removes_what_the_revision_created(links: Harness) -> None:
    links.begin("r1")
    pkg = links.create("Package", name="p")
    pkg.tags.append(links.create("Tag", name="t"))
    links.commit()
    fresh = links.other()
    fresh.begin("undo r1")
    fresh.undo(1)
    fresh.commit()
    assert links.rows("SELECT COUNT(*) FROM package") == [(0,)]
    assert links.rows("SELECT COUNT(*) FROM tag") == [(0,)]
    assert links.rows("SELECT COUNT(*) FROM package_tag") == [(0,)]
    assert links.verify() == []


# -- 8. one active link per owner and target, as of every revision -----------------

def test_purging_an_undo_that_a_later_link_replaced_is_refused(links: Harness) -> None:
    links.begin("r1")
    pkg = links.create("Package", name="p")
    links.create("Tag", name="t")
    links.commit()
    links.revise("r2", lambda: pkg.tags.append(links.find("Tag", name="t")))
    links.begin("r3")
    links.undo(2)
    links.commit()
    links.revise("r4", lambda: pkg.tags.append(links.find("Tag", name="t")))
    with pytest.raises(IntegrityViolation) as caught:
        links.purge_revision(3)
    assert str(caught.value) == (
        "cannot purge revision 3: afterwards Package(id=1) has two active PackageTag "
        "links to the same target (PackageTag(id=1) and PackageTag(id=2)) as of "
        "revision 4; purge the revision that added the later link first")
    assert names(links.find("Package", name="p").tags) == ["t"]
    assert links.verify() == []


def test_verify_reports_two_active_links_for_one_owner_and_target(links: Harness) -> None:
    links.begin("r1")
    pkg = links.create("Package", name="p")
    pkg.tags.append(links.create("Tag", name="t"))
    links.commit()
    links.break_history(
        "INSERT INTO package_tag (id, package_id, tag_id, position, revision_id, state) "
        "VALUES (2, 1, 1, 1, 1, 'active')")
    links.break_history(
        "INSERT INTO package_tag_revision (id, package_id, tag_id, position, revision_id, "
        "state, operation_type) VALUES (2, 1, 1, 1, 1, 'active', 0)")
    found = [(v.kind, v.detail) for v in links.verify()]
    assert found == [("duplicate-link",
                      "Package(id=1) has two active PackageTag links to the same "
                      "target (PackageTag(id=1) and PackageTag(id=2)) as of revision 1")]



# -- found by the fuzz ------------------------------------------------------------------

def test_destroying_an_object_and_restoring_it_in_one_revision_stores_nothing(
        links: Harness) -> None:
    links.begin("r1")
    links.create("License", name="GPL")
    links.commit()
    links.begin("destroy, then think better of it")
    links.destroy(links.find("License", name="GPL"))
    links.restore(1)
    links.flush()
    links.commit()
    assert revision_count(links) == 1
    assert links.rows("SELECT id, name, revision_id FROM license") == [(1, "GPL", 1)]
    assert links.rows("SELECT COUNT(*) FROM license_revision") == [(1,)]
    assert links.verify() == []


def test_an_object_created_and_destroyed_in_one_revision_leaves_no_revision(
        links: Harness) -> None:
    links.begin("r1")
    links.create("Tag", name="t")
    links.commit()
    links.begin("a license after all not needed")
    gpl = links.create("License", name="GPL")
    links.flush()
    links.destroy(gpl)
    links.commit()
    assert revision_count(links) == 1
    assert links.rows("SELECT COUNT(*) FROM license_revision") == [(0,)]
    assert links.verify() == []
