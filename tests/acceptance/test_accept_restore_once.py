"""Restoring and undoing decide alike on both backends (vdm/restoring.py).

What restore_object refuses, and when an undo is stopped by a row that
still refers to an object it would destroy, is decided once in the core;
each story runs on both backends and every database.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from vdm import ConflictError, InvalidInputError, NotVersionedError, State

from .harness import Harness


def backend_module(harness: Harness) -> Any:
    return importlib.import_module(f"vdm.{harness.backend}")


def test_restoring_a_versioned_class_instead_of_an_object_is_refused_alike(
        story: Harness) -> None:
    story.revise("a book", lambda: story.create("Book", name="wp", title="War"))
    book_class = story.classes["Book"]  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError) as caught:
        backend_module(story).restore_object(story.session, book_class, 1)  # type: ignore[attr-defined]
    error = caught.value
    assert isinstance(error, TypeError) and not isinstance(error, NotVersionedError)
    assert str(error) == "Book is a class; restore one of its objects (or versions)"
    assert error.cls is book_class and error.obj is None


def _book_moved_to_a_new_license(story: Harness) -> Any:
    """r1: license L1; r2: book wp under L1; r3: license L2, wp moved to it."""
    story.revise("l1", lambda: story.create("License", name="L1"))
    l1 = story.find("License", name="L1")
    story.revise("book", lambda: story.create("Book", name="wp", title="War", license=l1))
    book = story.find("Book", name="wp")

    def move() -> None:
        l2 = story.create("License", name="L2")
        story.flush()
        story.update(book, license=l2)

    story.revise("l2", move)
    return book


def test_undo_that_also_points_the_dependant_back_is_not_refused(story: Harness) -> None:
    _book_moved_to_a_new_license(story)
    story.begin("undo r3")
    story.undo(3)
    story.commit()
    assert story.rows("SELECT id, name FROM license ORDER BY id") == [(1, "L1")]
    assert story.rows("SELECT name, license_id FROM book") == [("wp", 1)]
    # The undo is a revision of its own: L2's destruction and wp's move are in r4.
    assert story.rows("SELECT revision_id FROM license_revision WHERE id = 2 "
                      "ORDER BY revision_id") == [(3,), (4,)]
    assert story.rows("SELECT revision_id, license_id FROM book_revision "
                      "ORDER BY revision_id") == [(2, 1), (3, 2), (4, 1)]


def test_undo_is_refused_when_a_later_revision_made_a_row_refer_to_what_it_destroys(
        story: Harness) -> None:
    story.revise("l1", lambda: story.create("License", name="L1"))
    l1 = story.find("License", name="L1")
    story.revise("book", lambda: story.create("Book", name="wp", title="War", license=l1))
    with pytest.raises(ConflictError) as caught:
        story.begin("undo r1")
        story.undo(1)
    story.rollback()
    error = caught.value
    assert str(error) == ("cannot undo revision 1: it created License(id=1), which "
                          "Book(id=1) refers to since; undo or change that first")
    assert error.cls is story.classes["License"] and error.revision == 1  # type: ignore[attr-defined]
    assert story.rows("SELECT name FROM license") == [("L1",)]
    assert story.rows("SELECT name, license_id FROM book") == [("wp", 1)]


def test_a_destroyed_book_comes_back_from_its_old_version(story: Harness) -> None:
    story.revise("create", lambda: story.create("Book", name="b", title="kept"))
    book = story.find("Book", name="b")
    key = book.id
    story.revise("destroy", lambda: story.destroy(book))
    # Read through the session: the version brings the book back in it.
    view = backend_module(story).as_of(story.session, 1)  # type: ignore[attr-defined]
    version = view.get(story.classes["Book"], key)  # type: ignore[attr-defined]
    story.begin("bring back")
    restored = version.revert()
    story.commit()
    assert (restored.title, restored.state) == ("kept", State.ACTIVE)
    assert story.rows("SELECT id, title, state FROM book") == [(key, "kept", "active")]
    assert story.rows("SELECT revision_id, operation_type FROM book_revision "
                      "ORDER BY revision_id") == [(1, 0), (2, 2), (3, 0)]


def test_reverting_to_an_old_version_is_a_new_revision_with_its_values(story: Harness) -> None:
    story.begin("create")
    book = story.create("Book", name="wp", title="War and Peacee", text="line one\nline two")
    story.commit()
    story.revise("fix", lambda: story.update(book, title="War and Peace", text="line one\nline 2"))
    story.revise("delete", lambda: story.soft_delete(book))
    story.begin("revert")
    assert book.get_as_of(1).revert() is book
    story.commit()
    assert book.title == "War and Peacee" and book.state == State.ACTIVE
    assert [v.revision_id for v in book.versions] == [1, 2, 3, 4]
    assert book.versions[-1].changeset == {
        "title": ["War and Peace", "War and Peacee"],
        "text": ["line one\nline 2", "line one\nline two"],
        "state": ["deleted", "active"]}
