"""As-of reads never drift: each read's objects answer as of its own revision.

A version row unchanged across several revisions is read by every as-of
read of those revisions.  Whatever is read afterwards in the same session
(the same row as of another revision, the version list, a whole-model
view), what an earlier read returned keeps answering as of the revision it
was asked for: on both backends.
"""

from __future__ import annotations

from typing import Any

from .harness import Harness


def licensed_book(h: Harness) -> tuple[Any, Any]:
    """r1: book b under license gpl, author tolstoy; r2: gpl renamed GPL-3;
    r3: a second author.  Book b's own row never changes after r1."""
    h.begin("r1")
    gpl = h.create("License", name="gpl")
    book = h.create("Book", name="b", license=gpl)
    h.create("Author", name="tolstoy", book=book)
    h.commit()
    h.revise("r2: rename the license", lambda: h.update(gpl, name="GPL-3"))
    h.revise("r3: a second author", lambda: h.create("Author", name="second", book=book))
    return book, gpl


def answers(version: Any) -> tuple[str, list[str]]:
    return version.license.name, [a.name for a in version.authors]


def test_a_later_read_of_the_same_version_row_does_not_change_an_earlier_one(
        story: Harness) -> None:
    book, _ = licensed_book(story)
    now = book.get_as_of(3)          # read first, as of the youngest revision
    assert answers(now) == ("GPL-3", ["tolstoy", "second"])
    then = book.get_as_of(1)         # the same version row, as of r1
    assert then is not now
    assert answers(then) == ("gpl", ["tolstoy"])
    assert answers(now) == ("GPL-3", ["tolstoy", "second"])
    again = book.get_as_of(3)
    assert answers(then) == ("gpl", ["tolstoy"])
    assert answers(again) == answers(now)


def test_by_key_reads_of_two_views_stay_apart(story: Harness) -> None:
    book, _ = licensed_book(story)
    repo = story.repository()
    Book = story.classes["Book"]
    in3 = repo.as_of(3).get(Book, book.id)
    in1 = repo.as_of(1).get(Book, book.id)
    in2 = repo.as_of(2).get(Book, book.id)
    assert (in1.revision_id, in2.revision_id, in3.revision_id) == (1, 1, 1)
    assert answers(in3) == ("GPL-3", ["tolstoy", "second"])
    assert answers(in2) == ("GPL-3", ["tolstoy"])
    assert answers(in1) == ("gpl", ["tolstoy"])
    # Whole-class reads hand out their own objects too.
    [all1] = repo.as_of(1).all(Book)
    [all3] = repo.as_of(3).all(Book)
    assert answers(all3) == ("GPL-3", ["tolstoy", "second"])
    assert answers(all1) == ("gpl", ["tolstoy"])
    assert answers(in1) == ("gpl", ["tolstoy"])


def test_the_version_list_answers_as_of_each_versions_own_revision(story: Harness) -> None:
    book, gpl = licensed_book(story)
    [first] = book.versions
    view3 = book.get_as_of(3)
    assert answers(view3) == ("GPL-3", ["tolstoy", "second"])
    # Listed versions answer as of the revision that wrote them (r1), even
    # after an as-of read of the same row as of r3.
    assert answers(first) == ("gpl", ["tolstoy"])
    assert answers(book.versions[0]) == ("gpl", ["tolstoy"])
    assert [v.name for v in gpl.versions] == ["gpl", "GPL-3"]


def test_link_views_of_two_as_of_reads_stay_apart(links: Harness) -> None:
    links.begin("r1")
    package = links.create("Package", name="pkg")
    package.tags = [links.create("Tag", name="a"), links.create("Tag", name="b")]
    links.commit()
    links.revise("r2: only a link changes", lambda: package.tags.remove(package.tags[0]))
    now = package.get_as_of(2)
    then = package.get_as_of(1)
    assert [t.name for t in then.tags] == ["a", "b"]
    assert [t.name for t in now.tags] == ["b"]
    assert [t.name for t in then.tags] == ["a", "b"]
    assert [link.tag_id for link in now.tags_deleted] == [then.tags[0].id]
    assert then.tags_deleted == []


def test_reading_the_past_leaves_a_pending_change_to_be_written(story: Harness) -> None:
    story.begin("r1")
    book = story.create("Book", name="b", title="first")
    story.commit()
    story.begin("r2")
    story.update(book, title="Pending")
    old = book.get_as_of(1)
    assert old.title == "first"
    assert book.title == "Pending"
    story.commit()
    assert story.rows("SELECT title, revision_id FROM book") == [("Pending", 2)]
    assert [v.title for v in book.versions] == ["first", "Pending"]
