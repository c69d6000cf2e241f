"""Revision blocks and as-of views mean one thing on both backends.

The view refuses every write with one error and message, shows the live
versioned classes only, and reads ``get``, ``all`` and its revision alike.

``new_revision`` is spelt in three places (the repository, a revision
block, and the vdm.sqlobject session); each starts a revision on a session
and returns it, and the session's commit writes it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest

from vdm import NotVersionedError, ReadOnlyError, RevisionNotFoundError

from .harness import Harness, expect_drift


def backend_module(harness: Harness) -> Any:
    return importlib.import_module(f"vdm.{harness.backend}")


def _starters(story: Harness) -> dict[str, Callable[..., Any]]:
    """Every ``new_revision`` the backend offers, taking author and message."""
    session: Any = story.session  # type: ignore[attr-defined]
    scope = backend_module(story).revision_scope
    found: dict[str, Callable[..., Any]] = {
        "repository": lambda **f: story.repository().new_revision(session=session, **f),
        "revision_scope": lambda **f: scope(session, **f).new_revision(session),
    }
    if callable(getattr(session, "new_revision", None)):
        found["session"] = session.new_revision
    return found


@pytest.mark.parametrize("where", ["repository", "revision_scope", "session"])
def test_new_revision_starts_a_revision_on_the_session_written_at_commit(
        story: Harness, where: str) -> None:
    starters = _starters(story)
    if where not in starters:
        assert story.backend.startswith("sqlalchemy")  # a plain Session has none
        where = "repository"
    revision = starters[where](author="ann", message="first", extra={"req": 7})
    session: Any = story.session  # type: ignore[attr-defined]
    assert session.revision is revision
    assert (revision.author, revision.message) == ("ann", "first")
    assert story.rows("SELECT COUNT(*) FROM revision") == [(0,)]  # not written yet
    story.create("Book", name="wp", title="War")
    story.commit()
    assert story.rows("SELECT id, author, message FROM revision") == [(1, "ann", "first")]
    assert story.rows("SELECT name, revision_id FROM book") == [("wp", 1)]
    assert session.revision is None and revision.id == 1
    assert story.repository().get_revision(1).extra == {"req": 7}


def test_new_revision_rolled_back_leaves_nothing(story: Harness) -> None:
    for start in _starters(story).values():
        start(author="ann", message="never")
        story.create("Book", name="wp", title="War")
        story.flush()
        story.rollback()
    assert story.rows("SELECT COUNT(*) FROM revision") == [(0,)]
    assert story.rows("SELECT COUNT(*) FROM book") == [(0,)]


def test_a_rolled_back_revision_takes_no_id(story: Harness,
                                            request: pytest.FixtureRequest) -> None:
    expect_drift(request, story, "sqlalchemy-native",
                 "with native versioning a rolled-back revision's id is not given back "
                 "(doc/concepts.rst allows gaps); the other backends give it back")
    story.revise("first", lambda: story.create("Book", name="a", title="A"))
    book = story.find("Book", name="a")
    story.begin("never")
    story.update(book, title="never")
    story.create("Book", name="wp", title="War")
    story.flush()
    story.rollback()
    story.revise("kept", lambda: story.update(story.find("Book", name="a"), title="A1"))
    assert story.rows("SELECT id, message FROM revision ORDER BY id") == [
        (1, "first"), (2, "kept")]
    assert story.rows("SELECT name, title, revision_id, expired_id FROM book_revision "
                      "ORDER BY revision_id") == [("a", "A", 1, 2), ("a", "A1", 2, None)]


def test_revision_scope_writes_author_message_and_commits_once(story: Harness) -> None:
    scope = backend_module(story).revision_scope
    session: Any = story.session  # type: ignore[attr-defined]
    with scope(session, author="ann", message="a book") as revision:
        assert session.revision is revision
        story.create("Book", name="wp", title="War")
    assert session.revision is None
    with pytest.raises(LookupError), scope(session, author="bob", message="lost"):
        story.create("Book", name="ak", title="Anna")
        story.flush()
        raise LookupError("boom")
    assert story.rows("SELECT id, author, message FROM revision") == [(1, "ann", "a book")]
    assert story.rows("SELECT name FROM book") == [("wp",)]


# -- the whole-model view --------------------------------------------------------


def _two_revisions(story: Harness) -> None:
    story.revise("a book", lambda: story.create("Book", name="wp", title="War"))
    story.revise("retitled", lambda: story.update(story.find("Book", name="wp"),
                                                   title="War and Peace"))


@pytest.mark.parametrize("write", ["add", "add_all", "create", "delete", "destroy", "merge",
                                   "update", "flush", "commit"])
def test_every_write_through_the_view_is_refused_alike(story: Harness, write: str) -> None:
    _two_revisions(story)
    view = story.repository().as_of(1)
    with pytest.raises(ReadOnlyError) as caught:
        getattr(view, write)(object())
    error = caught.value
    assert type(error) is ReadOnlyError and isinstance(error, AttributeError)
    assert str(error) == ("<ModelAsOf revision 1> is a read-only view of the past; write "
                          "through the session in a new revision (see revert() and restore)")
    assert error.obj is view and error.revision == 1


def test_the_view_reads_get_all_and_its_revision_alike(story: Harness) -> None:
    _two_revisions(story)
    book = story.classes["Book"]  # type: ignore[attr-defined]
    key = story.find("Book", name="wp").id
    view = story.repository().as_of(1)
    assert repr(view) == "<ModelAsOf revision 1>"
    assert view.get(book, key).title == "War"
    assert view.get(book, (key,)).title == "War"
    assert view.get(book, key + 100) is None
    assert [v.title for v in view.all(book)] == ["War"]
    assert view.revision_id == 1
    assert story.repository().as_of(None).revision_id == 2
    with pytest.raises(RevisionNotFoundError):
        story.repository().as_of(9).get(book, key)
    with pytest.raises(RevisionNotFoundError):
        story.repository().as_of(9).all(book)


def test_a_version_class_has_no_past_to_view(story: Harness) -> None:
    _two_revisions(story)
    version_class = type(story.find("Book", name="wp").versions[0])
    view = story.repository().as_of(1)
    for read in (view.get, lambda cls, _key: view.all(cls)):
        with pytest.raises(NotVersionedError) as caught:
            read(version_class, 1)
        assert str(caught.value) == (f"{version_class.__name__} is not versioned; "
                                     f"it has no past to view")
        assert caught.value.cls is version_class
