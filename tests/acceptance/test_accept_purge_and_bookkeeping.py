"""Purging objects with their links, vdm's bookkeeping columns, and changes
undone within a revision, in users' words, on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from vdm import IntegrityViolation, InvalidInputError, ReadOnlyError

from .harness import Harness

# -- Repository.purge(obj): the object, its versioned links and their history --


def catalogue(h: Harness) -> tuple[Any, Any]:
    """r1: "pkg" (licensed, tagged a and b, extra k=v) and "other" (tagged a)."""
    h.begin("r1")
    lic = h.create("License", name="gpl")
    pkg = h.create("Package", name="pkg", license=lic)
    a, b = h.create("Tag", name="a"), h.create("Tag", name="b")
    pkg.tags = [a, b]
    pkg.extras["k"] = "v"
    other = h.create("Package", name="other")
    other.tags = [a]
    h.commit()
    h.begin("r2")
    pkg.tags.remove(b)
    pkg.extras["k"] = "v2"
    h.commit()
    return pkg, other


def test_purging_a_package_erases_its_links_and_their_history(links: Harness) -> None:
    pkg, _other = catalogue(links)
    links.purge(pkg)
    assert links.rows("SELECT name FROM package") == [("other",)]
    assert links.rows("SELECT DISTINCT name FROM package_revision") == [("other",)]
    assert links.rows("SELECT package_id, tag_id FROM package_tag") == [(2, 1)]
    assert links.rows("SELECT DISTINCT package_id FROM package_tag_revision") == [(2,)]
    assert links.rows("SELECT COUNT(*) FROM package_extra") == [(0,)]
    assert links.rows("SELECT COUNT(*) FROM package_extra_revision") == [(0,)]
    # The tags themselves are not the package's: they stay, with their history.
    assert links.rows("SELECT name FROM tag ORDER BY name") == [("a",), ("b",)]
    assert [t.name for t in links.find("Package", name="other").tags] == ["a"]
    assert links.verify() == []


def test_purging_a_tag_erases_the_links_to_it(links: Harness) -> None:
    catalogue(links)
    links.purge(links.find("Tag", name="a"))
    assert links.rows("SELECT name FROM tag") == [("b",)]
    assert links.rows("SELECT package_id, tag_id, state FROM package_tag") == [
        (1, 2, "deleted")]
    assert links.rows("SELECT DISTINCT tag_id FROM package_tag_revision") == [(2,)]
    assert links.find("Package", name="other").tags == []
    assert links.verify() == []


def test_purge_still_refuses_objects_other_rows_refer_to(links: Harness) -> None:
    catalogue(links)
    lic = links.find("License", name="gpl")
    with pytest.raises(IntegrityViolation) as caught:
        links.purge(lic)
    # (The SQLObject model names the class LinkLicense: one registry per model.)
    assert str(caught.value) == (
        f"cannot purge {type(lic).__name__}(id=1): 1 row(s) of 'package' still "
        f"refer to it (Package(id=1)); purge or change those first")
    links.rollback()
    assert links.rows("SELECT COUNT(*) FROM license_revision") == [(1,)]
    assert links.rows("SELECT COUNT(*) FROM package_tag") == [(3,)]
    assert links.verify() == []


# -- vdm's bookkeeping columns -------------------------------------------------


def one_book(h: Harness) -> Any:
    h.begin("r1")
    book = h.create("Book", name="b", title="T")
    h.commit()
    return book


@pytest.mark.parametrize("how", ["one column", "copying every column of another book"])
def test_user_code_cannot_write_revision_id(story: Harness, how: str) -> None:
    """A user copies one book's values onto another, bookkeeping included."""
    book = one_book(story)
    story.begin("r2")
    other = story.create("Book", name="c", title="C")
    story.commit()
    story.begin("r3")
    if how == "one column":
        values: dict[str, Any] = {"revision_id": 2}
    else:
        values = {"title": other.title, "revision_id": other.revision_id}
    with pytest.raises(ReadOnlyError) as caught:
        story.update(book, **values)
    assert str(caught.value) == (
        "cannot write revision_id of Book(id=1): it is vdm's bookkeeping column "
        "(the revision that last changed the row) and only vdm writes it; leave "
        "it out of the values you set (copy an object's fields, not its revision_id)")
    story.rollback()
    assert story.rows("SELECT name, title, revision_id FROM book ORDER BY id") == [
        ("b", "T", 1), ("c", "C", 2)]
    assert story.history() == ["r2", "r1"]
    assert story.verify() == []


def test_a_new_object_cannot_bring_its_own_revision_id(story: Harness) -> None:
    one_book(story)
    story.begin("r2")
    with pytest.raises(ReadOnlyError, match=r"^cannot write revision_id of a new Book: "):
        story.create("Book", name="c", revision_id=1)
        story.commit()
    story.rollback()
    assert story.rows("SELECT name FROM book") == [("b",)]
    assert story.history() == ["r1"]


def test_state_takes_only_real_states_and_each_change_is_versioned(story: Harness) -> None:
    book = one_book(story)
    story.begin("r2")
    with pytest.raises(InvalidInputError) as caught:
        story.update(book, state="gone")
    assert str(caught.value) == (
        "Book(id=1): 'gone' is not a vdm state; use one of 'active', 'deleted', 'pending'")
    story.rollback()
    story.begin("r2: pending")
    story.update(story.find("Book", name="b"), state="pending")
    story.commit()
    assert story.rows("SELECT revision_id, state FROM book_revision ORDER BY revision_id") == [
        (1, "active"), (2, "pending")]
    assert story.verify() == []


# -- a change undone within the revision stores nothing -------------------------


@pytest.mark.parametrize("undo", ["a value set and set back", "delete() then undelete()",
                                  "several values set back, history read between"])
def test_a_change_undone_within_the_revision_stores_nothing(
        story: Harness, undo: str) -> None:
    book = one_book(story)
    story.begin("r2")
    if undo == "a value set and set back":
        story.update(book, title="typo")
        story.update(book, title="T")
    elif undo == "delete() then undelete()":
        story.soft_delete(book)
        story.undelete(book)
    else:
        story.update(book, title="X", text="draft")
        assert [v.title for v in book.versions] == ["T", "X"]
        story.update(book, title="T")
        story.update(book, text=None)
    story.commit()
    assert story.history() == ["r1"]
    assert story.rows("SELECT revision_id, title, state FROM book") == [(1, "T", "active")]
    assert story.rows("SELECT revision_id, expired_id, title FROM book_revision") == [
        (1, None, "T")]
    assert book.revision.message == "r1"
    assert story.verify() == []
    # The next real change is versioned as usual.
    story.revise("r3", lambda: story.update(book, title="T3"))
    assert story.history() == ["r3", "r1"]
    [(r3,)] = story.rows("SELECT MAX(id) FROM revision")  # ids may have gaps
    assert story.rows("SELECT revision_id, expired_id, title FROM book_revision "
                      "ORDER BY revision_id") == [(1, r3, "T"), (r3, None, "T3")]
    assert story.verify() == []


def test_an_undone_change_next_to_a_real_one_keeps_only_the_real_one(
        story: Harness) -> None:
    book = one_book(story)
    story.begin("r2")
    author = story.create("Author", name="tolstoy")
    story.update(book, title="typo")
    story.update(book, title="T")
    story.commit()
    assert story.history() == ["r2", "r1"]
    assert story.list_changes(2) == {"Author": [(author.id, 0, "active")]}
    assert story.rows("SELECT revision_id FROM book") == [(1,)]
    assert story.verify() == []


def test_a_link_removed_and_added_back_in_one_revision_stores_nothing(
        links: Harness) -> None:
    links.begin("r1")
    pkg = links.create("Package", name="pkg")
    pkg.tags = [links.create("Tag", name="a")]
    links.commit()
    links.begin("r2")
    tag = pkg.tags[0]
    pkg.tags.remove(tag)
    pkg.tags.append(tag)
    links.commit()
    assert links.history() == ["r1"]
    assert links.rows("SELECT revision_id, state FROM package_tag_revision") == [(1, "active")]
    assert links.verify() == []
