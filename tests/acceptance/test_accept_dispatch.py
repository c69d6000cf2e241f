"""One public function per meaning: both backends export the core's own.

``vdm.sqlalchemy.blame`` is ``vdm.sqlobject.blame`` (and so on for every
inspection, restore and verification function): the function finds the
backend of what it is handed (:mod:`vdm.backends`), so the two packages
cannot drift apart.  What no backend owns is refused the same way.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

import vdm.inspecting
import vdm.restoring
import vdm.verifying
from vdm import InvalidInputError, NotVersionedError
from vdm.backends import backend_of, find_backend

from .harness import Harness
from .test_accept_errors import backend_module, publisher

PUBLIC = {
    vdm.inspecting: ["blame", "changes_in", "diff_model", "field_history"],
    vdm.restoring: ["restore_model", "restore_object", "undo_revision"],
    vdm.verifying: ["check_links", "verify_history"],
}
#: Where each backend keeps the functions, besides its package.
MODULES = {vdm.inspecting: "inspection", vdm.restoring: "restore",
           vdm.verifying: "verification"}


@pytest.mark.parametrize("backend", ["sqlalchemy", "sqlobject"])
def test_both_packages_export_the_core_functions_themselves(backend: str) -> None:
    package = importlib.import_module(f"vdm.{backend}")
    for core, names in PUBLIC.items():
        module = importlib.import_module(f"vdm.{backend}.{MODULES[core]}")
        for name in names:
            assert getattr(module, name) is getattr(core, name), (backend, name)
            if core is not vdm.verifying:
                assert getattr(package, name) is getattr(core, name), (backend, name)


def test_the_two_packages_hold_one_function_per_name() -> None:
    sqlalchemy, sqlobject = (importlib.import_module(f"vdm.{b}")
                             for b in ("sqlalchemy", "sqlobject"))
    for name in PUBLIC[vdm.inspecting] + PUBLIC[vdm.restoring]:
        assert getattr(sqlalchemy, name) is getattr(sqlobject, name), name
    assert sqlalchemy.blame is sqlobject.blame


def two_revisions(story: Harness) -> Any:
    story.revise("create", lambda: story.create("Book", name="wp", title="War"))
    book = story.find("Book", name="wp")
    story.revise("retitle", lambda: story.update(book, title="War and Peace"))
    return book


def test_the_shared_functions_read_and_write_alike(story: Harness) -> None:
    book = two_revisions(story)
    module = backend_module(story)
    session = story.session  # type: ignore[attr-defined]
    assert backend_of(session) is backend_of(book) is backend_of(type(book))
    assert [c.describe() for c in module.changes_in(session, 2).objects] == [
        "Book(id=1) updated: title"]
    assert module.diff_model(session, 1, 2).classes["Book"].changed == {
        (1,): {"title": ("War", "War and Peace")}}
    assert [(int(c.revision.id), c.new) for c in module.field_history(book, "title")] == [
        (1, "War"), (2, "War and Peace")]
    story.begin("back to r1")
    assert module.restore_object(session, book, 1) is book
    story.commit()
    assert story.find("Book", name="wp").title == "War"
    story.begin("undo r3")
    module.undo_revision(session, 3)
    story.commit()
    assert story.find("Book", name="wp").title == "War and Peace"
    verification = importlib.import_module(f"vdm.{story.backend}.verification")
    assert verification.verify_history(session, story.repository().versioned_classes) == []


def test_what_no_backend_owns_is_refused_alike(story: Harness) -> None:
    story.revise("a book", lambda: story.create("Book", name="wp", title="War"))
    module = backend_module(story)
    penguin = publisher(story)
    assert find_backend(penguin) is None
    with pytest.raises(NotVersionedError) as caught:
        module.blame(penguin)
    assert str(caught.value) == "Publisher is not versioned; it has no history to inspect"
    story.begin("restore a publisher")
    with pytest.raises(NotVersionedError) as refused:
        module.restore_object(story.session, penguin, 1)  # type: ignore[attr-defined]
    assert refused.value.obj is penguin
    story.rollback()
    for call in (lambda: module.changes_in("a session", 1),
                 lambda: module.restore_model("a session", 1),
                 lambda: module.undo_revision("a session", 1),
                 lambda: module.diff_model("a session", 1, 1)):
        with pytest.raises(InvalidInputError) as wrong:
            call()
        assert str(wrong.value) == (
            "vdm cannot work through str; pass a session (vdm.sqlalchemy) or a "
            "session or connection (vdm.sqlobject)")
