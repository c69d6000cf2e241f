"""Change inspection reads the same on both backends (vdm.inspecting decides it).

What a revision changed, the model's diff between two revisions, blame and
a field's history are the same plain data whichever backend wrote and reads
the history; asking them of something that is not a live versioned object
is refused with the same error.
"""

from __future__ import annotations

from typing import Any

import pytest

from vdm import NotVersionedError
from vdm.states import State

from .harness import Harness
from .test_accept_errors import backend_module, publisher


def five_revisions(story: Harness) -> tuple[Any, Any]:
    """Create two books and a license, retitle one, delete and undelete the
    other, then destroy the first."""
    def create() -> None:
        story.create("License", name="GPL")
        story.create("Book", name="wp", title="War")
        story.flush()
        story.create("Book", name="ak", title="Anna")

    story.revise("create", create)
    wp, ak = story.find("Book", name="wp"), story.find("Book", name="ak")
    story.revise("retitle", lambda: story.update(wp, title="War and Peace"))
    story.revise("delete", lambda: story.soft_delete(ak))
    story.revise("undelete", lambda: story.undelete(ak))
    story.revise("destroy", lambda: story.destroy(wp))
    return wp, ak


def described(story: Harness, revision: int) -> list[tuple[str, str, tuple[Any, ...], bool]]:
    changes = story.repository().changes(revision)
    assert int(changes.revision.id) == revision
    return [(c.describe(), c.table, c.key, c.is_link) for c in changes.objects]


def test_what_each_revision_changed_reads_the_same(story: Harness) -> None:
    five_revisions(story)
    assert described(story, 1) == [("Book(id=1) created", "book", (1,), False),
                                   ("Book(id=2) created", "book", (2,), False),
                                   ("License(id=1) created", "license", (1,), False)]
    assert described(story, 2) == [("Book(id=1) updated: title", "book", (1,), False)]
    assert story.repository().changes(2).updated[0].fields == {
        "title": ("War", "War and Peace")}
    assert described(story, 3) == [("Book(id=2) deleted", "book", (2,), False)]
    assert story.repository().changes(3).deleted[0].fields == {
        "state": (State.ACTIVE, State.DELETED)}
    assert described(story, 4) == [("Book(id=2) undeleted", "book", (2,), False)]
    assert described(story, 5) == [("Book(id=1) destroyed", "book", (1,), False)]
    assert story.repository().changes(5).deleted[0].fields == {}


def test_the_model_diff_reads_the_same(story: Harness) -> None:
    five_revisions(story)
    diff = story.repository().diff(1, 2)
    assert (diff.a, diff.b) == (1, 2)
    assert list(diff.classes) == ["Book"]
    book = diff.classes["Book"]
    assert (book.added, book.removed) == ([], [])
    assert book.changed == {(1,): {"title": ("War", "War and Peace")}}
    later = story.repository().diff(1, 5)
    assert {name: (d.added, d.removed, d.changed) for name, d in later.classes.items()} == {
        "Book": ([], [(1,)], {})}


def test_blame_and_field_history_read_the_same(story: Harness) -> None:
    _, ak = five_revisions(story)
    module = backend_module(story)
    who = module.blame(ak)
    assert {f: int(who[f].id) for f in ("id", "name", "title", "state")} == {
        "id": 1, "name": 1, "title": 1, "state": 4}
    assert [(int(c.revision.id), c.old, c.new) for c in module.field_history(ak, "state")] == [
        (1, None, State.ACTIVE), (3, State.ACTIVE, State.DELETED),
        (4, State.DELETED, State.ACTIVE)]


def test_inspecting_an_unversioned_object_is_refused_alike(story: Harness) -> None:
    story.revise("a book", lambda: story.create("Book", name="wp", title="War"))
    penguin = publisher(story)
    module = backend_module(story)
    for ask in (module.blame, lambda obj: module.field_history(obj, "name")):
        with pytest.raises(NotVersionedError) as caught:
            ask(penguin)
        assert str(caught.value) == "Publisher is not versioned; it has no history to inspect"
        assert caught.value.obj is penguin


@pytest.mark.parametrize("what", ["class", "version"])
def test_inspecting_a_class_or_a_version_is_refused_alike(story: Harness, what: str) -> None:
    story.revise("a book", lambda: story.create("Book", name="wp", title="War"))
    book = story.find("Book", name="wp")
    thing = type(book) if what == "class" else book.versions[0]
    module = backend_module(story)
    # The field is checked after the object: a bad name does not hide the error.
    for ask in (module.blame, lambda obj: module.field_history(obj, "nope")):
        with pytest.raises(NotVersionedError) as caught:
            ask(thing)
        assert str(caught.value) == f"{thing!r} is not a live versioned object"
        assert caught.value.obj is thing
