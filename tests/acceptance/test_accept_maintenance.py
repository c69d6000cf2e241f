"""Purging revisions and verifying history, in users' words, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from vdm import IntegrityViolation

from .harness import Harness


def three_revisions(h: Harness) -> None:
    """r1: books a and b; r2: a retitled, an author added; r3: b hard-deleted."""
    h.begin("r1")
    a = h.create("Book", name="a", title="A")
    b = h.create("Book", name="b", title="B")
    h.commit()
    h.begin("r2")
    h.update(a, title="A2")
    h.create("Author", name="x", book=a)
    h.commit()
    h.revise("r3", lambda: h.destroy(b))


def test_purging_a_middle_revision_rewrites_history_as_if_it_never_happened(
        story: Harness) -> None:
    three_revisions(story)
    story.purge_revision(2)
    assert story.history() == ["r3", "r1"]
    assert story.rows("SELECT name, title, revision_id FROM book") == [("a", "A", 1)]
    assert story.rows("SELECT COUNT(*) FROM author") == [(0,)]
    assert story.rows("SELECT name, revision_id, expired_id, operation_type FROM "
                      "book_revision ORDER BY name, revision_id") == [
        ("a", 1, None, 0), ("b", 1, 3, 0), ("b", 3, None, 2)]
    assert story.find("Book", name="a").title == "A"
    assert story.verify() == []


def test_purging_a_hard_delete_brings_the_object_back(story: Harness) -> None:
    three_revisions(story)
    story.purge_revision(3)
    assert story.rows("SELECT name, title, revision_id FROM book ORDER BY name") == [
        ("a", "A2", 2), ("b", "B", 1)]
    assert story.find("Book", name="b").get_as_of(2).title == "B"
    assert story.verify() == []


def test_purging_the_creating_revision_erases_later_traces(story: Harness) -> None:
    three_revisions(story)
    story.purge_revision(1)
    assert story.rows("SELECT name, title FROM book") == [("a", "A2")]
    assert story.rows("SELECT name, revision_id, operation_type FROM book_revision "
                      "ORDER BY name, revision_id") == [("a", 2, 0)]
    assert story.verify() == []


def test_purge_revision_can_leave_a_record(story: Harness) -> None:
    three_revisions(story)
    story.purge_revision(3, leave_record=True)
    assert story.rows("SELECT id, state FROM revision ORDER BY id") == [
        (1, "active"), (2, "active"), (3, "deleted")]
    assert story.verify() == []


@pytest.mark.parametrize(("fault", "kind", "detail"), [
    ("DELETE FROM book_revision WHERE name = 'a' AND expired_id IS NULL", "missing-version",
     "Book(id=1) is live but has no current version"),
    ("UPDATE book_revision SET expired_id = NULL WHERE name = 'a'", "multiple-current",
     "Book(id=1) has more than one version with no expiry"),
    ("UPDATE book_revision SET expired_id = 3 WHERE name = 'a' AND revision_id = 1", "gap",
     "the version of Book(id=1) from revision 1 expires at a revision with no "
     "following version"),
    ("UPDATE book SET title = 'tampered' WHERE name = 'a'", "head-mismatch",
     "Book(id=1) differs from its current version (revision 2)"),
    ("UPDATE book_revision SET expired_id = 1 WHERE name = 'a' AND revision_id = 1",
     "bad-interval", "the version of Book(id=1) from revision 1 expires before it starts"),
    ("INSERT INTO book_revision (id, name, revision_id, operation_type, state) "
     "VALUES (1, 'a', 9, 1, 'active')", "missing-revision",
     "a version of Book(id=1) names revision 9, which does not exist"),
    ("DELETE FROM author", "orphan-current",
     "Author(id=1) has a current version (revision 2) but no live row"),
])
def test_verify_names_each_kind_of_broken_history(story: Harness, fault: str, kind: str,
                                                  detail: str) -> None:
    three_revisions(story)
    assert story.verify() == []
    story.break_history(fault)
    found = story.verify()
    assert detail in [v.detail for v in found if v.kind == kind], found


def test_verify_reports_the_same_violations_on_both_backends(story: Harness) -> None:
    three_revisions(story)
    story.break_history("UPDATE book_revision SET expired_id = NULL WHERE name = 'a'")
    story.break_history("UPDATE book SET title = 'tampered' WHERE name = 'a'")
    found = sorted((v.kind, v.table, v.key, v.revision_id, v.detail, str(v))
                   for v in story.verify())
    assert found == [
        ("head-mismatch", "book", (1,), 1,
         "Book(id=1) differs from its current version (revision 1)",
         "book (1,): head-mismatch: Book(id=1) differs from its current version (revision 1)"),
        ("head-mismatch", "book", (1,), 2,
         "Book(id=1) differs from its current version (revision 2)",
         "book (1,): head-mismatch: Book(id=1) differs from its current version (revision 2)"),
        ("multiple-current", "book", (1,), 2,
         "Book(id=1) has more than one version with no expiry",
         "book (1,): multiple-current: Book(id=1) has more than one version with no expiry"),
        ("overlap", "book", (1,), 2,
         "a version of Book(id=1) (revision 2) starts inside the interval of an "
         "earlier version",
         "book (1,): overlap: a version of Book(id=1) (revision 2) starts inside the "
         "interval of an earlier version"),
    ]


def test_purge_refuses_naming_the_first_three_referring_rows_by_key(story: Harness) -> None:
    story.begin("r1")
    book = story.create("Book", name="a", title="A")
    for name in "vwxyz":
        story.create("Author", name=name, book=book)
    story.commit()
    with pytest.raises(IntegrityViolation) as caught:
        story.purge(book)
    assert str(caught.value) == (
        "cannot purge Book(id=1): 5 row(s) of 'author' still refer to it (Author(id=1), "
        "Author(id=2), Author(id=3) and 2 more); purge or change those first")
    assert caught.value.cls is type(book) and type(caught.value) is IntegrityViolation
    story.rollback()
    assert story.rows("SELECT COUNT(*) FROM book_revision") == [(1,)]
    assert story.verify() == []


def test_a_refused_purge_leaves_nothing_behind_and_the_session_goes_on(story: Harness) -> None:
    """An editor tries to purge a book authors still refer to; vdm refuses,
    rolls back what the purge began, and the next revision is versioned as
    usual (in the native mode too: the purge's trigger bypass is gone)."""
    story.begin("r1")
    book = story.create("Book", name="a", title="A")
    story.create("Author", name="tolstoy", book=book)
    story.commit()
    with pytest.raises(IntegrityViolation):
        story.purge(book)
    story.begin("r2")
    story.update(story.find("Book", name="a"), title="B")
    story.commit()
    assert story.rows("SELECT title, revision_id FROM book_revision ORDER BY revision_id") == [
        ("A", 1), ("B", 2)]
    assert story.rows("SELECT COUNT(*) FROM author_revision") == [(1,)]
    assert story.verify() == []


def test_an_administrator_rebuilds_drops_and_recreates_the_tables(story: Harness) -> None:
    """A test database is emptied between runs, then dropped and set up again."""
    repo = story.repository()
    story.revise("one", lambda: story.create("Book", name="x"))
    repo.rebuild_db()
    assert story.rows("SELECT COUNT(*) FROM book") == [(0,)]
    assert story.rows("SELECT COUNT(*) FROM revision") == [(0,)]
    assert story.rows("SELECT last_id FROM revision_sequence") == [(0,)]
    ours = {"revision", "revision_sequence", "book", "book_revision", "author_revision"}
    repo.clean_db()
    assert not ours & set(inspect(story.engine).get_table_names())
    repo.create_db()
    assert ours <= set(inspect(story.engine).get_table_names())
