"""Reading versions means the same on both backends (one core reads them).

A version's neighbours, position, values, diff and name in messages, and
how a revision given as an id, a Revision or a datetime resolves, on the
SQLAlchemy and SQLObject backends alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from vdm import InvalidInputError, Operation, RevisionNotFoundError

from .harness import Harness
from .test_accept_errors import backend_module


def three_titles(h: Harness) -> Any:
    """r1: book b titled one; r2: two; r3: three."""
    h.begin("r1")
    book = h.create("Book", name="b", title="one")
    h.commit()
    h.revise("r2", lambda: h.update(book, title="two"))
    h.revise("r3", lambda: h.update(book, title="three"))
    return book


def test_a_version_knows_its_neighbours_position_values_and_diff(story: Harness) -> None:
    book = three_titles(story)
    first, second, third = book.versions
    assert [v.index for v in (first, second, third)] == [0, 1, 2]
    assert first.previous is None and third.next is None
    assert first.next == second and third.previous == second
    # The listed versions know each other: their neighbours are the same objects.
    assert first.next is second and second.next is third and third.previous is second
    assert first.continuity is book
    assert first.revision.message == "r1" and second.revision.author == "tester"
    assert first.changeset == {"id": [None, book.id], "name": [None, "b"],
                               "title": [None, "one"], "state": [None, "active"]}
    assert second.next.title == "three" and second.previous.title == "one"
    assert second.object_key == (book.id,)
    assert second.field_values["title"] == "two"
    assert second.changeset["title"] == ["one", "two"]
    assert second.diff()["title"] == "- one\n+ two"
    assert third.diff(first)["title"] == "- one\n+ three"
    assert [v.operation_type for v in book.versions] == [
        Operation.INSERT, Operation.UPDATE, Operation.UPDATE]
    assert [v.revision_id for v in book.all_revisions] == [3, 2, 1]
    # Two reads of one version row are equal and hash alike.
    assert book.get_as_of(2) == second and hash(book.get_as_of(2)) == hash(second)
    assert repr(second) == (f"<{type(second).__name__} Book(id={book.id!r}) "
                            f"as of revision 2 update>")
    assert book.diff(3, 1)["title"] == "- one\n+ three"
    assert book.diff()["title"] == "- two\n+ three"


def test_a_revision_resolves_alike_as_an_id_a_revision_or_a_datetime(story: Harness) -> None:
    book = three_titles(story)
    revision = story.repository().youngest_revision()
    assert book.get_as_of(revision).title == "three"
    assert book.get_as_of(2).title == "two"
    # A revision's own timestamp names it.
    assert book.get_as_of(story.repository().get_revision(2).timestamp).title == "two"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert book.get_as_of(later).title == "three"
    assert book.get_as_of(later.replace(tzinfo=None)).title == "three"
    with pytest.raises(RevisionNotFoundError, match="there is no revision with id 99;"):
        book.get_as_of(99)
    with pytest.raises(RevisionNotFoundError, match="there is no revision at or before 2000-01-01"):
        book.get_as_of(dt.datetime(2000, 1, 1))
    with pytest.raises(InvalidInputError, match="not str"):
        book.get_as_of("3")


def test_a_revision_not_written_yet_is_refused_alike(story: Harness) -> None:
    book = three_titles(story)
    pending = story.begin("r4")
    assert pending.id is None  # begun, nothing flushed: not written on either backend
    with pytest.raises(RevisionNotFoundError) as caught:
        book.get_as_of(pending)
    assert "has not been written yet; flush or commit its changes" in str(caught.value)
    assert caught.value.revision is pending
    story.rollback()


def test_a_diff_shows_the_changed_lines_of_a_text_in_vdm_format(story: Harness) -> None:
    story.begin("r1")
    book = story.create("Book", name="wp", title="War", text="line one\nline two")
    story.commit()
    story.revise("r2", lambda: story.update(book, text="line one\nline 2"))
    story.revise("r3", lambda: story.soft_delete(book))
    assert book.diff(to_revision=2, from_revision=1) == {"text": "  line one\n- line two\n+ line 2"}
    assert book.diff(2) == book.diff(2, 1)
    assert book.diff() == {"state": "- active\n+ deleted"}
    assert book.versions[2].changeset == {"state": ["active", "deleted"]}


@pytest.mark.parametrize("revision", [99, 0, -1])
def test_an_unknown_revision_id_is_refused_alike(story: Harness, revision: int) -> None:
    book = three_titles(story)
    as_of = backend_module(story).as_of
    # An id no revision can have is refused when the view is made; an id
    # that could exist is checked by the view's first read.
    with pytest.raises(RevisionNotFoundError) as caught:
        view = as_of(story.session, revision)  # type: ignore[attr-defined]
        view.get(story.classes["Book"], book.id)  # type: ignore[attr-defined]
    assert type(caught.value) is RevisionNotFoundError
    assert str(caught.value) == (
        f"there is no revision with id {revision}; use an id from the history "
        f"(Repository.history())")
    with pytest.raises(RevisionNotFoundError):
        book.get_as_of(revision)


def test_a_time_before_the_first_revision_is_refused_alike(story: Harness) -> None:
    book = three_titles(story)
    when = story.repository().get_revision(1).timestamp - dt.timedelta(days=1)
    with pytest.raises(RevisionNotFoundError) as caught:
        backend_module(story).as_of(story.session, when)  # type: ignore[attr-defined]
    assert type(caught.value) is RevisionNotFoundError
    assert f"there is no revision at or before {when.isoformat()} (UTC)" in str(caught.value)
    assert "the history starts later" in str(caught.value)
    with pytest.raises(RevisionNotFoundError):
        book.get_as_of(when)
