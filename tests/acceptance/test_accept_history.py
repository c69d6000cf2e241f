"""Writing revisions and reading history, in users' words, on both backends."""

from __future__ import annotations

import pytest

from vdm import ConflictError, NoRevisionError, Operation, ReadOnlyError, State

from .harness import Harness
from .test_accept_errors import publisher


def seed(h: Harness) -> dict[str, object]:
    """r1: two books (one with a typo); r2: the typo fixed, an author added."""
    h.begin("first")
    war = h.create("Book", name="warandpeace", title="War and Peacee")
    anna = h.create("Book", name="annakarenina", title="Anna")
    h.commit()
    h.begin("fix typo, add author")
    h.update(war, title="War and Peace")
    h.create("Author", name="tolstoy", book=war)
    h.commit()
    return {"war": war, "anna": anna}


def test_the_seed_story_reads_the_past_as_it_was(story: Harness) -> None:
    war = seed(story)["war"]
    old = war.get_as_of(1)
    assert old.title == "War and Peacee" and old.authors == []
    assert [a.name for a in war.get_as_of(2).authors] == ["tolstoy"]
    assert war.title == "War and Peace"
    assert story.history() == ["fix typo, add author", "first"]
    assert story.rows("SELECT id, author, message FROM revision ORDER BY id") == [
        (1, "tester", "first"), (2, "tester", "fix typo, add author")]
    assert war.get_as_of(war.revision).title == "War and Peace"
    assert story.rows("SELECT name, title, revision_id, state FROM book ORDER BY id") == [
        ("warandpeace", "War and Peace", 2, "active"), ("annakarenina", "Anna", 1, "active")]
    assert story.verify() == []


def test_a_revision_keeps_one_version_per_object_with_the_last_values(story: Harness) -> None:
    story.begin("many edits")
    book = story.create("Book", name="b", title="one")
    story.update(book, title="two")
    story.update(book, title="three")
    story.commit()
    story.begin("more edits")
    story.update(book, title="four")
    story.update(book, title="five")
    story.commit()
    assert story.rows("SELECT title, revision_id, expired_id, operation_type "
                      "FROM book_revision ORDER BY revision_id") == [
        ("three", 1, 2, 0), ("five", 2, None, 1)]


def test_assigning_unchanged_values_writes_nothing(story: Harness) -> None:
    story.begin("create")
    book = story.create("Book", name="b", title="t")
    story.commit()
    story.begin("no-op")
    story.update(book, title="t")
    story.commit()
    # Nothing changes, so no revision is needed either.
    story.update(book, title="t", name="b")
    story.commit()
    assert story.rows("SELECT COUNT(*) FROM revision") == [(1,)]
    assert story.rows("SELECT COUNT(*) FROM book_revision") == [(1,)]


def test_an_object_with_only_default_values_is_recorded(story: Harness) -> None:
    story.begin("defaults")
    story.create("License")
    story.commit()
    assert story.rows("SELECT revision_id, operation_type FROM license_revision") == [(1, 0)]


def test_a_rollback_leaves_no_trace(story: Harness) -> None:
    revision = story.begin("oops")
    story.create("Book", name="b")
    story.rollback()
    assert revision.id is None
    assert story.session.revision is None  # type: ignore[attr-defined]
    for table in ("book", "book_revision", "revision"):
        assert story.rows(f"SELECT COUNT(*) FROM {table}") == [(0,)], table
    # The rolled-back revision can be used again.
    story.session.revision = revision  # type: ignore[attr-defined]
    story.create("Book", name="c")
    story.commit()
    assert story.rows("SELECT id, author, message FROM revision") == [(1, "tester", "oops")]
    assert story.rows("SELECT name, revision_id FROM book") == [("c", 1)]


def test_changing_without_a_revision_raises_and_writes_nothing(story: Harness) -> None:
    with pytest.raises(NoRevisionError, match=r"has no revision; set session.revision = Revision"):
        story.create("Book", name="b")
        story.commit()
    story.rollback()
    assert story.rows("SELECT COUNT(*) FROM book") == [(0,)]
    assert story.rows("SELECT COUNT(*) FROM revision") == [(0,)]


def test_changing_a_book_without_a_revision_raises_and_writes_nothing(story: Harness) -> None:
    story.begin("create")
    book = story.create("Book", name="b", title="t")
    story.commit()
    with pytest.raises(NoRevisionError, match=r"^Book\(id=1\) changed but the session has no "
                                              r"revision; set session.revision = Revision") as caught:
        story.update(book, title="changed")
        story.commit()
    assert type(caught.value) is NoRevisionError
    story.rollback()
    assert book.title == "t"
    assert story.rows("SELECT title, revision_id FROM book") == [("t", 1)]
    assert story.rows("SELECT COUNT(*) FROM book_revision") == [(1,)]
    assert story.history() == ["create"]


def test_soft_delete_and_undelete_are_versioned_changes(story: Harness) -> None:
    anna = seed(story)["anna"]
    story.revise("delete anna", lambda: story.soft_delete(anna))
    assert not anna.is_active() and anna.state == State.DELETED
    story.revise("bring anna back", lambda: story.undelete(anna))
    assert [v.state for v in anna.versions] == [State.ACTIVE, State.DELETED, State.ACTIVE]
    assert anna.get_as_of(3).state == State.DELETED
    assert anna.get_as_of(3).changeset == {"state": ["active", "deleted"]}
    assert anna.state == State.ACTIVE and anna.is_active()


def test_a_hard_delete_keeps_the_history(story: Harness) -> None:
    anna = seed(story)["anna"]
    [before] = anna.versions
    story.revise("destroy anna", lambda: story.destroy(anna))
    assert before.next.operation_type == Operation.DELETE
    assert before.continuity is None
    assert story.find("Book", name="annakarenina") is None
    assert story.rows("SELECT revision_id, expired_id, operation_type FROM book_revision "
                      "WHERE name = 'annakarenina' ORDER BY revision_id") == [
        (1, 3, int(Operation.INSERT)), (3, None, int(Operation.DELETE))]
    war = story.find("Book", name="warandpeace")
    assert war.get_as_of(3) is not None
    assert story.list_changes(3) == {"Book": [(2, int(Operation.DELETE), "active")]}


def test_as_of_follows_the_foreign_key_stored_then(story: Harness) -> None:
    story.begin("r1")
    gpl = story.create("License", name="gpl")
    book = story.create("Book", name="b", license=gpl)
    story.commit()
    story.begin("r2: relicense")
    mit = story.create("License", name="mit")
    story.update(book, license=mit)
    story.commit()
    story.revise("r3: rename gpl", lambda: story.update(gpl, name="GPL-3"))
    assert book.get_as_of(1).license.name == "gpl"
    assert book.get_as_of(2).license.name == "mit"
    assert book.get_as_of(3).license.name == "mit"
    assert gpl.get_as_of(3).name == "GPL-3"


def test_an_unversioned_reference_reads_the_live_object_as_of_a_revision(
        story: Harness) -> None:
    penguin = publisher(story)
    story.begin("r1")
    gpl = story.create("License", name="gpl")
    book = story.create("Book", name="b", license=gpl, publisher=penguin)
    story.commit()
    story.revise("r2: rename gpl", lambda: story.update(gpl, name="GPL-3"))
    old = book.get_as_of(1)
    assert old.license.name == "gpl" and old.license.revision_id == 1
    assert old.publisher.name == "Penguin"  # not versioned: the live object
    assert book.revision.id == 1 and old.revision.author == "tester"
    assert gpl.revision.id == 2


def test_a_soft_deleted_author_is_not_among_the_books_authors_as_of_then(
        story: Harness) -> None:
    story.begin("r1")
    book = story.create("Book", name="b")
    a1 = story.create("Author", name="a1", book=book)
    story.commit()
    story.revise("r2", lambda: story.create("Author", name="a2", book=book))
    story.begin("r3")
    story.soft_delete(a1)
    story.update(book, title="touched")
    story.commit()
    assert [a.name for a in book.get_as_of(1).authors] == ["a1"]
    assert [a.name for a in book.get_as_of(2).authors] == ["a1", "a2"]
    assert [a.name for a in book.get_as_of(3).authors] == ["a2"]
    assert book.get_as_of(3).authors[0].book.name == "b"


def test_versions_know_their_neighbours_changesets_and_diffs(story: Harness) -> None:
    war = seed(story)["war"]
    first, second = war.versions
    assert [v.revision_id for v in war.all_revisions] == [2, 1]
    assert first.operation_type == Operation.INSERT and second.operation_type == Operation.UPDATE
    assert first.next == second and second.previous == first and second.index == 1
    assert second.changeset == {"title": ["War and Peacee", "War and Peace"]}
    assert first.changeset["title"] == [None, "War and Peacee"]
    assert second.revision.message == "fix typo, add author"
    expected = "- War and Peacee\n?              -\n+ War and Peace"
    assert war.diff() == {"title": expected}
    assert war.diff(2, 1) == {"title": expected}
    assert second.diff() == {"title": expected}


def test_versions_are_read_only(story: Harness) -> None:
    war = seed(story)["war"]
    version = war.get_as_of(1)
    with pytest.raises(ReadOnlyError) as caught:
        version.title = "x"
    assert type(caught.value) is ReadOnlyError
    assert str(caught.value) == (
        "Book(id=1) as of revision 1 is a version and read-only; change the live "
        "object (version.continuity) in a new revision, or call version.revert()")
    with pytest.raises(ReadOnlyError):
        del version.name
    assert version.title == "War and Peacee"


def test_list_changes_reports_every_version_a_revision_wrote(story: Harness) -> None:
    seed(story)
    assert story.list_changes(1) == {"Book": [(1, 0, "active"), (2, 0, "active")]}
    assert story.list_changes(2) == {"Book": [(1, 1, "active")], "Author": [(1, 0, "active")]}


@pytest.mark.parametrize("write", ["change", "destroy"])
def test_a_write_based_on_a_stale_read_is_a_conflict(story: Harness, write: str) -> None:
    seed(story)
    mine = story.find("Book", name="warandpeace")
    assert mine.title == "War and Peace"  # read, and kept, in this transaction
    theirs = story.other()
    theirs.revise("theirs", lambda: theirs.update(
        theirs.find("Book", name="warandpeace"), title="Theirs"))
    story.begin("mine")
    with pytest.raises(ConflictError, match=r"^Book\(id=1\) was changed by revision 3 after "
                                            r"this session read it \(at revision 2\)") as caught:
        if write == "change":
            story.update(mine, title="Mine")
        else:
            story.destroy(mine)
        story.commit()
    assert caught.value.revision == 3
    story.rollback()
    assert story.rows("SELECT title FROM book WHERE name = 'warandpeace'") == [("Theirs",)]
    assert story.history()[0] == "theirs"
    # Read again after the rollback, the change goes through.
    story.revise("mine again", lambda: story.update(
        story.find("Book", name="warandpeace"), title="Mine"))
    [(last,)] = story.rows("SELECT MAX(id) FROM revision")  # ids may have gaps
    assert story.rows("SELECT title, revision_id FROM book WHERE name = 'warandpeace'") == [
        ("Mine", last)]
    assert story.history()[:2] == ["mine again", "theirs"]


def test_changing_a_book_another_editor_destroyed_meanwhile_is_a_conflict(
        story: Harness) -> None:
    seed(story)
    mine = story.find("Book", name="annakarenina")
    assert mine.title == "Anna"
    theirs = story.other()
    theirs.revise("theirs", lambda: theirs.destroy(theirs.find("Book", name="annakarenina")))
    story.begin("mine")
    with pytest.raises(ConflictError, match=r"^Book\(id=2\) was deleted by another "
                                            r"transaction"):
        story.update(mine, title="Anna K")
        story.commit()
    story.rollback()
    assert story.rows("SELECT COUNT(*) FROM book WHERE name = 'annakarenina'") == [(0,)]
    assert story.history()[0] == "theirs"


def test_every_as_of_read_stands_on_its_own(story: Harness) -> None:
    # The book and its author are unchanged from r1 to r3, so the reads
    # below share one version row each; each read still answers as of the
    # revision it was asked for, whatever was read after it.
    story.begin("r1")
    gpl = story.create("License", name="gpl")
    book = story.create("Book", name="b", license=gpl)
    story.create("Author", name="tolstoy", book=book)
    story.commit()
    story.revise("r2: rename the license", lambda: story.update(gpl, name="GPL-3"))
    story.revise("r3: a second author",
                 lambda: story.create("Author", name="second", book=book))
    then = book.get_as_of(1)
    now = book.get_as_of(3)
    assert then == now and then.revision_id == now.revision_id == 1
    assert then.license.name == "gpl" and now.license.name == "GPL-3"
    assert [a.name for a in now.authors] == ["tolstoy", "second"]
    assert [a.name for a in then.authors] == ["tolstoy"]
    assert then.license.name == "gpl"
    # Through a relationship: the author read as of r1 still follows r1.
    old_author, new_author = then.authors[0], now.authors[0]
    assert new_author.book.license.name == "GPL-3"
    assert old_author.book.license.name == "gpl"
    # Two whole-model views.
    repo = story.repository()
    view1, view3 = repo.as_of(1), repo.as_of(3)
    book_id = book.id
    in1 = view1.get(story.classes["Book"], book_id)
    in3 = view3.get(story.classes["Book"], book_id)
    assert in3.license.name == "GPL-3" and in1.license.name == "gpl"
    assert len(in1.authors) == 1 and len(in3.authors) == 2


def test_an_editor_pages_through_history_by_author_and_time(story: Harness) -> None:
    """A catalogue editor lists who did what: newest first, one author's
    revisions, a time window (inclusive), pages, and a revision by id."""
    assert story.repository().youngest_revision() is None
    assert story.repository().count_revisions() == 0
    for author, message in (("ann", "one"), ("bob", "two"), ("ann", "three"), ("bob", "four")):
        story.begin(message, author=author)
        story.create("Book", name=message, title=message)
        story.commit()
    repo = story.repository()
    assert [r.message for r in repo.history()] == ["four", "three", "two", "one"]
    assert [r.message for r in repo.history(author="ann")] == ["three", "one"]
    assert [r.message for r in repo.history(limit=2, offset=1)] == ["three", "two"]
    assert [r.message for r in repo.history(offset=3)] == ["one"]
    stamps = {r.message: r.timestamp for r in repo.history()}
    window = repo.history(since=stamps["two"], until=stamps["three"])
    assert [r.message for r in window] == ["three", "two"]
    assert [r.message for r in repo.history(since=stamps["three"])] == ["four", "three"]
    assert [r.message for r in repo.history(author="bob", until=stamps["three"])] == ["two"]
    assert repo.count_revisions() == 4
    assert (repo.get_revision(2).author, repo.get_revision(2).message) == ("bob", "two")
    assert repo.youngest_revision().message == "four"


def test_list_changes_names_every_class_even_untouched_ones(story: Harness) -> None:
    war = seed(story)["war"]
    tolstoy = story.find("Author", name="tolstoy")
    assert story.list_changes(2) == {"Book": [(war.id, 1, "active")],
                                     "Author": [(tolstoy.id, 0, "active")]}
    first = {cls.__name__: versions
             for cls, versions in story.repository().list_changes(1).items()}
    assert first["Author"] == []
    assert sorted(str(v.name) for v in first["Book"]) == ["annakarenina", "warandpeace"]
    assert {int(v.operation_type) for v in first["Book"]} == {0}
    second = {cls.__name__: versions
              for cls, versions in story.repository().list_changes(2).items()}
    assert [v.changeset for v in second["Book"]] == [
        {"title": ["War and Peacee", "War and Peace"]}]
