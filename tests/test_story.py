"""The original vdm story, as a user tells it (SPEC §4)."""

from models import Author, Book
from sqlalchemy import select

from vdm.sqlalchemy import Repository, Revision


def test_a_typo_fixed_in_a_later_revision_is_still_there_as_of_the_first(session, engine):
    rev = Revision(author="me", message="first")
    session.revision = rev
    session.add_all([Book(name="warandpeace", title="War and Peacee"),
                     Book(name="annakarenina", title="Anna")])
    session.commit()

    session.revision = Revision(author="me", message="fix typo, add author")
    b1 = session.scalars(select(Book).filter_by(name="warandpeace")).one()
    b1.title = "War and Peace"
    b1.authors.append(Author(name="tolstoy"))
    session.commit()

    old = b1.get_as_of(rev)
    assert old.title == "War and Peacee" and old.authors == []
    now = b1.get_as_of(b1.revision)
    assert now.title == "War and Peace"
    assert [a.name for a in now.authors] == ["tolstoy"]
    assert b1.diff() == {"title": "- War and Peacee\n?              -\n+ War and Peace"}

    repo = Repository(Book.metadata, session)
    history = repo.history()
    assert [(r.author, r.message) for r in history] == [
        ("me", "fix typo, add author"), ("me", "first")]
    assert repo.verify() == []


def test_a_deleted_book_can_be_undeleted_and_its_past_read(session):
    session.revision = Revision(author="ann", message="add")
    book = Book(name="b", title="T")
    session.add(book)
    session.commit()
    session.revision = Revision(author="ann", message="remove")
    book.delete()
    session.commit()
    deleted_at = book.revision_id
    session.revision = Revision(author="bob", message="restore")
    book.undelete()
    session.commit()
    assert [v.state for v in book.versions] == ["active", "deleted", "active"]
    assert book.get_as_of(deleted_at).state == "deleted"
    assert book.state == "active"
