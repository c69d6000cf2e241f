"""vdm.sqlobject: the as-of view's selects (sqlbuilder), statement counts, and change
inspection, restore and undo on the story model; the catalogue editor's stories, random
histories (the differential fuzz) and the view's refusals are in tests/acceptance."""

from __future__ import annotations

from typing import Any

import pytest
from sqlobject import AND, DESC, sqlbuilder
from sqlobject_models import (  # noqa: F401 - fixtures
    LINKS,
    Author,
    Book,
    License,
    Package,
    Publisher,
    Tag,
    connection,
    new_session,
    session,
    so_connection,
)

from vdm import ConflictError, VdmError
from vdm.changes import ObjectChange
from vdm.sqlobject import Revision, Session
from vdm.sqlobject.inspection import blame, changes_in, diff_model, field_history
from vdm.sqlobject.restore import restore_model, restore_object, undo_revision
from vdm.sqlobject.timetravel import as_of

# -- the model as plain data, read two independent ways ----------------------


def live_model(conn: Any) -> dict[str, Any]:
    """The live tables as plain data, read with plain SQL (not through vdm)."""
    licenses = {i: n for i, n in conn.queryAll("SELECT id, name FROM license")}
    books = {}
    for bid, name, title, state, lic, pub in conn.queryAll(
            "SELECT b.id, b.name, b.title, b.state, l.name, p.name FROM book b "
            "LEFT JOIN license l ON l.id = b.license_id "
            "LEFT JOIN publisher p ON p.id = b.publisher_id"):
        authors = [n for (n,) in conn.queryAll(
            f"SELECT name FROM author WHERE book_id = {bid} AND state = 'active' ORDER BY id")]
        books[bid] = (name, title, state, lic, pub, authors)
    authors = {i: (n, s, b) for i, n, s, b in conn.queryAll(
        "SELECT a.id, a.name, a.state, b.name FROM author a LEFT JOIN book b ON b.id = a.book_id")}
    return {"License": licenses, "Book": books, "Author": authors}


def view_model(view: Any) -> dict[str, Any]:
    """The same data read through an as-of view, following relationships."""
    return {
        "License": {x.id: x.name for x in view.all(License)},
        "Book": {b.id: (b.name, b.title, str(b.state), b.license.name if b.license else None,
                         b.publisher.name if b.publisher else None,
                         [a.name for a in b.authors]) for b in view.all(Book)},
        "Author": {a.id: (a.name, str(a.state), a.book.name if a.book else None)
                   for a in view.all(Author)},
    }


# -- selects and traversal on a small story ----------------------------


@pytest.fixture
def story(connection: Any, session: Session) -> Session:
    """r1: GPL; books wp (GPL, Penguin, author tolstoy), ak, zz.
    r2: wp renamed, GPL renamed GPL-3, ak soft-deleted, zz destroyed, tolstoy moved to ak."""
    t = session.transaction
    session.revision = Revision(author="a", message="r1")
    gpl = License(name="GPL", connection=t)
    penguin = Publisher(name="Penguin", connection=t)
    wp = Book(name="wp", title="War and Peacee", license=gpl, publisher=penguin, connection=t)
    ak = Book(name="ak", title="Anna", connection=t)
    zz = Book(name="zz", connection=t)
    tolstoy = Author(name="tolstoy", book=wp, connection=t)
    session.commit()
    session.revision = Revision(author="a", message="r2")
    wp.name = "war-and-peace"
    gpl.name = "GPL-3"
    ak.delete()
    zz.destroySelf()
    tolstoy.book = ak
    session.commit()
    return session


def names(versions: list[Any]) -> list[str]:
    return [v.name for v in versions]


def test_get_select_order_and_limit_resolve_at_the_revision(connection: Any, story: Session) -> None:
    view = as_of(connection, 1)
    assert view.get(Book, 1).name == "wp" and view.get(Book, 3).name == "zz"
    assert view.get(Book, (1,)).title == "War and Peacee"
    assert view.get(Book, 99) is None
    assert view.select(Book, Book.q.name == "wp")[0].license.name == "GPL"
    assert names(view.select(Book, orderBy="-name", limit=2)) == ["zz", "wp"]
    assert names(view.select(Book, orderBy=DESC(Book.q.name), limit=2, offset=1)) == ["wp", "ak"]
    assert names(view.select(Book, orderBy=[Book.q.title, "-name"])) in (
        [  # NULLs first (SQLite, MySQL) or last (PostgreSQL)
            "zz", "ak", "wp"], ["ak", "wp", "zz"])
    assert names(view.select(Book, Book.q.title.startswith("War"))) == ["wp"]
    assert names(view.select(Book, "book.title = 'Anna'")) == ["ak"]
    assert names(view.all(Book)) == ["wp", "ak", "zz"]
    assert view.count(Book) == 3 and view.count(Book, Book.q.title == None) == 1  # noqa: E711

    later = as_of(connection, 2)
    assert later.get(Book, 3) is None
    assert later.select(Book, Book.q.name == "wp") == []
    assert later.get(Book, 1).license.name == "GPL-3"
    assert names(later.select(Book, Book.q.state == "active")) == ["war-and-peace"]
    assert names(later.all(Book)) == ["war-and-peace", "ak"]
    assert [b.name for b in as_of(connection, None).all(Book)] == ["war-and-peace", "ak"]


def test_joins_read_every_versioned_table_as_of_the_revision(connection: Any, story: Session) -> None:
    gpl_books = AND(Book.q.licenseID == License.q.id, License.q.name == "GPL")
    assert names(as_of(connection, 1).select(Book, gpl_books)) == ["wp"]
    assert as_of(connection, 2).select(Book, gpl_books) == [], "the licence was renamed in r2"
    by_author = AND(Author.q.bookID == Book.q.id, Author.q.name == "tolstoy")
    assert names(as_of(connection, 1).select(Book, by_author)) == ["wp"]
    assert names(as_of(connection, 2).select(Book, by_author)) == ["ak"]
    # Publisher is not versioned: its table is read live.
    penguin = AND(Book.q.publisherID == Publisher.q.id, Publisher.q.name == "Penguin")
    assert names(as_of(connection, 1).select(Book, penguin)) == ["wp"]
    with pytest.raises(VdmError, match="cannot rewrite a subquery"):
        as_of(connection, 1).select(Book, sqlbuilder.IN(
            Book.q.id, sqlbuilder.Select(Author.q.bookID)))
    with pytest.raises(VdmError, match="Publisher is not versioned"):
        as_of(connection, 1).get(Publisher, 1)


def test_versions_from_the_view_traverse_relationships_as_of_it(connection: Any, story: Session) -> None:
    wp1, ak1 = as_of(connection, 1).all(Book)[:2]
    assert wp1.license.name == "GPL" and wp1.publisher.name == "Penguin"
    assert names(wp1.authors) == ["tolstoy"] and ak1.authors == []
    tolstoy1 = as_of(connection, 1).get(Author, 1)
    assert tolstoy1.book.name == "wp"
    wp2, ak2 = as_of(connection, 2).all(Book)
    assert wp2.authors == [] and names(ak2.authors) == ["tolstoy"]
    assert as_of(connection, 2).get(Author, 1).book.name == "ak"
    # A datetime names the revision current then.
    assert as_of(connection, as_of_time(connection, 1)).revision_id == 1
    assert as_of(connection, as_of_time(connection, 2)).revision_id == 2


def as_of_time(connection: Any, revision_id: int) -> Any:
    from vdm.sqlobject.dialect import as_datetime

    row = connection.queryOne(f"SELECT timestamp FROM revision WHERE id = {revision_id}")
    return as_datetime(row[0])


def test_the_view_reads_a_class_of_1000_objects_in_one_query(
        connection: Any, session: Session, monkeypatch: Any) -> None:
    t = session.transaction
    session.revision = Revision(author="bulk")
    authors = [Author(name=f"a{i}", connection=t) for i in range(1000)]
    session.commit()
    session.revision = Revision(author="bulk")
    for a in authors[::2]:
        a.delete()
    session.commit()
    statements: list[str] = []
    original = connection._executeRetry

    def record(conn: Any, cursor: Any, query: str) -> Any:
        statements.append(query)
        return original(conn, cursor, query)

    monkeypatch.setattr(connection, "_executeRetry", record)
    view = as_of(connection, 1)
    found = view.all(Author)
    later = as_of(connection, 2).select(Author, Author.q.state == "deleted")
    monkeypatch.undo()
    assert len(found) == 1000 and {str(a.state) for a in found} == {"active"}
    assert len(later) == 500
    # all() and select(), each checking its revision in its own statement.
    assert len(statements) == 2, statements
    assert len([s for s in statements if "author_revision" in s]) == 2


# -- change inspection ---------------------------------------------------------


@pytest.fixture
def catalogue(connection: Any, session: Session) -> dict[str, Any]:
    """r1 ann creates; r2 bob retitles wp and adds pushkin; r3 ann soft-deletes
    ak and destroys pushkin; r4 cat relicenses wp under a new MIT licence."""
    t = session.transaction
    box: dict[str, Any] = {}
    session.revision = Revision(author="ann", message="create")
    box["gpl"] = License(name="GPL", connection=t)
    box["wp"] = Book(name="wp", title="War and Peacee", license=box["gpl"], connection=t)
    box["ak"] = Book(name="ak", title="Anna", connection=t)
    box["tolstoy"] = Author(name="tolstoy", book=box["wp"], connection=t)
    session.commit()
    session.revision = Revision(author="bob", message="retitle")
    box["wp"].set(name="war-and-peace", title="War and Peace")
    box["pushkin"] = Author(name="pushkin", book=box["ak"], connection=t)
    session.commit()
    session.revision = Revision(author="ann", message="delete ak")
    box["ak"].delete()
    box["pushkin"].destroySelf()
    session.commit()
    session.revision = Revision(author="cat", message="relicense")
    box["mit"] = License(name="MIT", connection=t)
    box["wp"].license = box["mit"]
    session.commit()
    return box


def described(changes: list[ObjectChange]) -> list[str]:
    return [c.describe() for c in changes]


def test_an_editor_sees_everything_a_revision_changed(connection: Any, catalogue: Any) -> None:
    changes = changes_in(connection, 2)
    assert changes.revision.author == "bob" and changes.revision.id == 2
    assert [(c.class_name, c.key, c.fields) for c in changes.updated] == [
        ("Book", (1,), {"name": ("wp", "war-and-peace"),
                        "title": ("War and Peacee", "War and Peace")})]
    assert described(changes.created) == ["Author(id=2) created"]
    assert changes.created[0].fields["name"] == (None, "pushkin")
    r3 = changes_in(connection, 3)
    assert [(c.class_name, c.kind) for c in r3.deleted] == [("Book", "deleted"), ("Author", "destroyed")]
    assert r3.of_kind("deleted")[0].fields == {"state": ("active", "deleted")}
    assert described(changes_in(connection, 1).created) == [
        "Author(id=1) created", "Book(id=1) created", "Book(id=2) created", "License(id=1) created"]
    assert described(changes_in(connection, 4).objects) == [
        "Book(id=1) updated: licenseID", "License(id=2) created"]
    assert changes_in(connection, 4, classes=[License]).objects[0].class_name == "License"


def test_the_model_diff_between_two_revisions_is_structured(connection: Any, catalogue: Any) -> None:
    diff = diff_model(connection, 1, 3)
    assert (diff.a, diff.b) == (1, 3)
    assert diff.classes["Book"].changed == {
        (1,): {"name": ("wp", "war-and-peace"), "title": ("War and Peacee", "War and Peace")},
        (2,): {"state": ("active", "deleted")}}
    assert set(diff.classes) == {"Book"}, "pushkin came and went; licences unchanged"
    assert diff_model(connection, 1, 2).classes["Author"].added == [(2,)]
    assert diff_model(connection, 2, 3).classes["Author"].removed == [(2,)]
    later = diff_model(connection, 3, 4)
    assert later.classes["License"].added == [(2,)]
    assert later.classes["Book"].changed == {(1,): {"licenseID": (1, 2)}}
    assert diff_model(connection, 3, 3).classes == {}


def test_blame_and_field_history_name_the_revisions_behind_each_value(catalogue: Any) -> None:
    wp = catalogue["wp"]
    who = blame(wp)
    assert {f: r.author for f, r in who.items()} == {
        "id": "ann", "name": "bob", "title": "bob", "text": "ann", "licenseID": "cat",
        "publisherID": "ann", "state": "ann"}
    assert [(c.revision.id, c.old, c.new) for c in field_history(wp, "name")] == [
        (1, None, "wp"), (2, "wp", "war-and-peace")]
    assert [(c.revision.author, c.old, c.new) for c in field_history(wp, "licenseID")] == [
        ("ann", None, 1), ("cat", 1, 2)]
    with pytest.raises(VdmError, match="Book has no versioned field 'nope'"):
        field_history(wp, "nope")


# -- restore and undo ----------------------------------------------------------


def commit(session: Session, message: str, change: Any) -> Revision:
    revision = session.revision = Revision(author="editor", message=message)
    change()
    session.commit()
    return revision


def test_restoring_the_whole_model_is_a_new_revision_equal_to_the_old_one(
        connection: Any, session: Session, catalogue: Any) -> None:
    restored = commit(session, "back to r1", lambda: restore_model(session, 1))
    assert restored.id == 5
    assert live_model(connection) == view_model(as_of(connection, 1)) == view_model(
        as_of(connection, 5))
    assert described(changes_in(connection, 5).objects) == [
        "Book(id=1) updated: name, title, licenseID", "Book(id=2) undeleted",
        "License(id=2) destroyed"]
    # Back to r2: pushkin, destroyed in r3, comes back with his id.
    commit(session, "back to r2", lambda: restore_model(session, 2, classes=[License, Book, Author]))
    assert live_model(connection) == view_model(as_of(connection, 2))
    assert Author.get(2, connection=session.transaction).name == "pushkin"


def test_restoring_one_object_leaves_the_others_alone(
        connection: Any, session: Session, catalogue: Any) -> None:
    wp = catalogue["wp"]
    commit(session, "restore wp", lambda: restore_object(session, wp, 1))
    assert (wp.name, wp.title, wp.licenseID) == ("wp", "War and Peacee", 1)
    assert catalogue["ak"].state == "deleted", "other objects are untouched"
    assert License.get(2, connection=session.transaction).name == "MIT"
    # A version brings back an object destroyed since.
    pushkin = as_of(connection, 2).get(Author, 2)
    back = commit(session, "pushkin again", lambda: restore_object(session, pushkin, 2))
    assert Author.get(2, connection=session.transaction).book.name == "ak"
    assert described(changes_in(connection, back).objects) == ["Author(id=2) created"]


def test_undoing_a_revision_keeps_later_ones(connection: Any, session: Session, catalogue: Any) -> None:
    commit(session, "undo ann's r3", lambda: undo_revision(session, 3))
    t = session.transaction
    assert Book.get(2, connection=t).state == "active", "ak is undeleted"
    assert Author.get(2, connection=t).name == "pushkin", "pushkin is back"
    assert Book.get(1, connection=t).licenseID == 2, "r4 is kept"
    assert [c.kind for c in changes_in(connection, 5).objects] == ["created", "undeleted"]
    # Undoing a revision that created what others now refer to: the
    # reference is undone first, then the licence destroyed.
    commit(session, "undo cat's r4", lambda: undo_revision(session, 4))
    assert Book.get(1, connection=t).licenseID == 1
    assert License.select(connection=t).count() == 1


def test_undoing_a_creation_destroyed_later_is_a_conflict(session: Session, catalogue: Any) -> None:
    session.revision = Revision(author="dan", message="undo bob")
    with pytest.raises(ConflictError, match=r"cannot undo revision 2: Author\(id=2\) was "
                                            r"destroyed by a later revision"):
        undo_revision(session, 2, classes=[Author])
    session.rollback()


def test_one_object_as_of_r_by_key_is_one_statement_resolving_r_included(
        connection: Any, session: Session, monkeypatch: Any) -> None:
    t = session.transaction
    session.revision = Revision(author="r1")
    author = Author(name="v1", connection=t)
    session.commit()
    session.revision = Revision(author="r2")
    author.name = "v2"
    session.commit()
    statements: list[str] = []
    original = connection._executeRetry

    def record(conn: Any, cursor: Any, query: str) -> Any:
        statements.append(query)
        return original(conn, cursor, query)

    monkeypatch.setattr(connection, "_executeRetry", record)
    first = as_of(connection, 1).get(Author, author.id)
    second = author.get_as_of(2)
    monkeypatch.undo()
    assert (first.name, second.name) == ("v1", "v2")
    assert len(statements) == 2, statements
