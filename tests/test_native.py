"""Native versioning (vdm.sqlalchemy.native): triggers write the versions.

The stories of the acceptance suite run in native mode too (backend
``sqlalchemy-native``); these tests cover what only native mode does:
writes from outside vdm (raw SQL from another DB-API connection, Core and
bulk ORM statements), installing, upgrading and removing the triggers,
and ``verify()`` reporting missing or stale triggers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from models import Author, Base, Book, License
from secondary_models import Article, BlogBase, Keyword
from sqlalchemy import Engine, MetaData, delete, insert, select, text, update
from sqlalchemy.orm import Session

from vdm import NoRevisionError, Operation, UnsupportedDatabaseError
from vdm.sqlalchemy import Repository, Revision, native

NATIVE_ONLY = "native versioning uses PostgreSQL triggers; elsewhere the Python mode writes"


@pytest.fixture
def pg(engine: Engine) -> Engine:
    """The engine, on PostgreSQL only."""
    if engine.dialect.name != "postgresql":
        pytest.skip(NATIVE_ONLY)
    return engine


def native_model(metadata: MetaData, engine: Engine) -> Iterator[Engine]:
    """``metadata`` in native mode, its tables created, for one test."""
    native.enable(metadata)
    metadata.create_all(engine)
    yield engine
    native.disable(metadata)


@pytest.fixture
def story(pg: Engine) -> Iterator[Engine]:
    """The story model (books, authors, licenses) in native mode."""
    yield from native_model(Base.metadata, pg)


@pytest.fixture
def blog(pg: Engine) -> Iterator[Engine]:
    """The blog model (articles, keywords through a plain association table)."""
    yield from native_model(BlogBase.metadata, pg)


def dbapi_connection(engine: Engine) -> psycopg.Connection[Any]:
    """A separate DB-API connection, as another program would open it."""
    url = engine.url
    return psycopg.connect(host=url.host, port=url.port or 5432, user=url.username,
                           password=url.password or "", dbname=url.database,
                           application_name="nightly-import")


def rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def commit_books(engine: Engine, message: str = "first", **titles: str) -> Revision:
    with Session(engine) as session:
        revision = Revision(author="editor", message=message)
        session.revision = revision  # type: ignore[attr-defined]
        session.add_all([Book(name=n, title=t) for n, t in titles.items()])
        session.commit()
    return revision


def test_raw_sql_from_another_program_is_versioned_and_read_through_vdm(story: Engine) -> None:
    first = commit_books(story, wp="War and Peacee")
    with dbapi_connection(story) as conn:
        conn.execute("UPDATE book SET title = 'War and Peace' WHERE name = 'wp'")
        conn.execute("INSERT INTO book (id, name, title, state) VALUES (2, 'ak', 'Anna', 'active')")
        conn.commit()
        conn.execute("DELETE FROM book WHERE name = 'ak'")
        conn.commit()
    with Session(story) as session:
        book = session.scalars(select(Book).filter_by(name="wp")).one()
        assert [v.title for v in book.versions] == ["War and Peacee", "War and Peace"]
        assert book.get_as_of(first).title == "War and Peacee"
        outside = book.versions[-1].revision
        assert outside.id == first.id + 1 and outside.author == "postgres"
        assert outside.message == (
            "automatic revision: written from outside vdm by database user postgres "
            "(application nightly-import)")
        assert book.revision_id == outside.id
        assert Repository(Base.metadata, session).verify() == []
    # One transaction, one revision: the update and the insert are revision 2.
    assert rows(story, "SELECT id, revision_id, expired_id, operation_type FROM book_revision "
                       "WHERE id = 2 ORDER BY revision_id") == [(2, 2, 3, 0), (2, 3, None, 2)]
    assert rows(story, "SELECT id FROM revision ORDER BY id") == [(1,), (2,), (3,)]


def test_the_session_keeps_author_message_and_extra_set_after_the_first_flush(
        story: Engine) -> None:
    with Session(story) as session:
        revision = Revision(author="draft", message="draft")
        session.revision = revision  # type: ignore[attr-defined]
        session.add(Book(name="wp", title="W"))
        session.flush()
        revision.author, revision.message, revision.extra = "me", "final", {"request": 7}
        session.commit()
    assert (revision.id, revision.author) == (1, "me")
    assert rows(story, "SELECT id, author, message, extra FROM revision") == [
        (1, "me", "final", '{"request": 7}')]
    assert rows(story, "SELECT revision_id FROM book") == [(1,)]


def test_several_flushes_and_a_value_set_back_write_one_version(story: Engine) -> None:
    commit_books(story, wp="A", ak="B")
    with Session(story) as session:
        session.revision = Revision(author="me", message="edit")  # type: ignore[attr-defined]
        wp, ak = session.scalars(select(Book).order_by(Book.id)).all()
        wp.title = "A2"
        ak.title = "B2"
        session.flush()
        wp.title = "A3"
        ak.title = "B"  # back to what it was: nothing changed
        session.flush()
        session.commit()
    assert rows(story, "SELECT id, title, revision_id, expired_id, operation_type "
                       "FROM book_revision ORDER BY id, revision_id") == [
        (1, "A", 1, 2, 0), (1, "A3", 2, None, 1), (2, "B", 1, None, 0)]
    assert rows(story, "SELECT id, revision_id FROM book ORDER BY id") == [(1, 2), (2, 1)]


def test_a_no_op_update_from_raw_sql_leaves_no_revision(story: Engine) -> None:
    commit_books(story, wp="A")
    with story.begin() as conn:
        conn.execute(text("UPDATE book SET title = 'A'"))
    assert rows(story, "SELECT count(*) FROM revision") == [(1,)]
    assert rows(story, "SELECT count(*) FROM book_revision") == [(1,)]


def test_bulk_and_core_statements_are_versioned_under_the_sessions_revision(
        story: Engine) -> None:
    commit_books(story, wp="A", ak="B", ch="C")
    with Session(story) as session:
        session.revision = Revision(author="bulk", message="retitle")  # type: ignore[attr-defined]
        session.execute(update(Book).where(Book.name != "ch").values(title="X"))
        session.execute(delete(Book).where(Book.name == "ch"))
        session.execute(insert(License.__table__).values(id=1, name="GPL"))
        session.commit()
    assert rows(story, "SELECT id, author, message FROM revision ORDER BY id") == [
        (1, "editor", "first"), (2, "bulk", "retitle")]
    assert rows(story, "SELECT id, title, operation_type FROM book_revision "
                       "WHERE revision_id = 2 ORDER BY id") == [
        (1, "X", Operation.UPDATE), (2, "X", Operation.UPDATE), (3, "C", Operation.DELETE)]
    assert rows(story, "SELECT id, name, operation_type FROM license_revision") == [(1, "GPL", 0)]
    with Session(story) as session:
        assert Repository(Base.metadata, session).verify() == []


def test_a_bulk_statement_without_a_revision_is_refused(story: Engine) -> None:
    commit_books(story, wp="A")
    with Session(story) as session, pytest.raises(NoRevisionError):
        session.execute(update(Book).values(title="X"))
    assert rows(story, "SELECT title FROM book") == [("A",)]


def test_outside_writes_can_be_refused_or_get_a_configured_author(pg: Engine) -> None:
    native.enable(Base.metadata, outside_writes="refuse")
    try:
        Base.metadata.create_all(pg)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught, \
                dbapi_connection(pg) as conn:
            conn.execute("INSERT INTO license (id, name) VALUES (1, 'GPL')")
        assert str(caught.value).startswith(
            "vdm: a write from outside vdm to a versioned table (database user postgres, "
            "application nightly-import) is refused")
        with dbapi_connection(pg) as conn:
            # A program may give its own revision first.
            conn.execute("SELECT vdm_begin_revision('importer', 'nightly import', NULL, NULL)")
            conn.execute("INSERT INTO license (id, name) VALUES (1, 'GPL')")
        assert rows(pg, "SELECT id, author, message FROM revision") == [
            (1, "importer", "nightly import")]
        with pg.begin() as conn:
            native.install(conn, Base.metadata, native.NativeMode(outside_author="robot"))
        with dbapi_connection(pg) as conn:
            conn.execute("UPDATE license SET name = 'MIT'")
        assert rows(pg, "SELECT author FROM revision WHERE id = 2") == [("robot",)]
    finally:
        native.disable(Base.metadata)


def test_revision_ids_follow_commit_order_not_first_write(story: Engine) -> None:
    commit_books(story, wp="A", ak="B")
    early = Session(story)
    early.revision = Revision(author="early", message="first to write")  # type: ignore[attr-defined]
    early.get(Book, 1).title = "A2"  # type: ignore[union-attr]
    early.flush()  # writes first, holds no lock on the revision sequence
    done = threading.Event()

    def late() -> None:
        with Session(story) as session:
            session.revision = Revision(author="late", message="first to commit")  # type: ignore[attr-defined]
            session.get(Book, 2).title = "B2"  # type: ignore[union-attr]
            session.commit()
        done.set()

    thread = threading.Thread(target=late)
    thread.start()
    assert done.wait(10), "a second writer was blocked by the first one's flush"
    thread.join()
    early.commit()
    early.close()
    # "early" took id 2 first, but "late" (3) committed first: "early" gets
    # a new id at commit, so that ids follow commit order.
    assert rows(story, "SELECT id, author FROM revision ORDER BY id") == [
        (1, "editor"), (3, "late"), (4, "early")]
    assert rows(story, "SELECT id, revision_id FROM book ORDER BY id") == [(1, 4), (2, 3)]
    assert rows(story, "SELECT id, revision_id, expired_id FROM book_revision "
                       "ORDER BY id, revision_id") == [(1, 1, 4), (1, 4, None), (2, 1, 3),
                                                       (2, 3, None)]
    assert rows(story, "SELECT last_id FROM revision_sequence") == [(4,)]


def test_a_rolled_back_revision_and_savepoint_leave_nothing(story: Engine) -> None:
    commit_books(story, wp="A")
    with Session(story) as session:
        session.revision = Revision(author="me", message="kept")  # type: ignore[attr-defined]
        book = session.get(Book, 1)
        assert book is not None
        with session.begin_nested() as nested:
            book.title = "dropped"
            session.flush()
            nested.rollback()
        book.authors.append(Author(name="tolstoy"))
        session.commit()
    assert rows(story, "SELECT id, revision_id, title FROM book_revision ORDER BY revision_id") == [
        (1, 1, "A")]
    # The id the savepoint took is gone with it (ids may have gaps).
    assert rows(story, "SELECT id, revision_id FROM author_revision") == [(1, 3)]
    with Session(story) as session:
        session.revision = Revision(author="me", message="gone")  # type: ignore[attr-defined]
        session.get(Book, 1).title = "B"  # type: ignore[union-attr]
        session.flush()
        session.rollback()
    assert rows(story, "SELECT count(*) FROM revision") == [(2,)]


def test_expire_on_commit_false_sees_the_final_revision_id(story: Engine) -> None:
    with Session(story, expire_on_commit=False) as session:
        revision = Revision(author="me", message="m")
        session.revision = revision  # type: ignore[attr-defined]
        book = Book(name="wp", title="A")
        session.add(book)
        session.flush()
        assert book.revision_id == revision.id  # provisional until commit
        session.commit()
        assert book.revision_id == revision.id == 1


def test_a_plain_association_written_from_raw_sql_is_versioned(blog: Engine) -> None:
    with Session(blog) as session:
        session.revision = Revision(author="me", message="posts")  # type: ignore[attr-defined]
        session.add_all([Article(id=1, title="a", keywords=[Keyword(id=1, word="x")]),
                         Keyword(id=2, word="y")])
        session.commit()
    with dbapi_connection(blog) as conn:
        conn.execute("DELETE FROM article_keyword")
        conn.execute("INSERT INTO article_keyword (article_id, keyword_id) VALUES (1, 2)")
    with Session(blog) as session:
        article = session.get(Article, 1)
        assert article is not None
        assert [k.word for k in article.keywords] == ["y"]
        assert [k.word for k in article.get_as_of(1).keywords] == ["x"]  # type: ignore[union-attr]
        assert Repository(BlogBase.metadata, session).verify() == []
    assert rows(blog, "SELECT article_id, keyword_id, revision_id, expired_id, operation_type "
                      "FROM article_keyword_revision ORDER BY revision_id, keyword_id") == [
        (1, 1, 1, 2, 0), (1, 1, 2, None, 2), (1, 2, 2, None, 0)]


def test_truncate_is_refused(story: Engine) -> None:
    commit_books(story, wp="A")
    with pytest.raises(psycopg.errors.FeatureNotSupported), dbapi_connection(story) as conn:
        conn.execute("TRUNCATE author")


def test_verify_reports_missing_and_stale_triggers_until_install(story: Engine) -> None:
    commit_books(story, wp="A")
    with story.begin() as conn:
        conn.execute(text("DROP TRIGGER vdm_update ON book"))
        conn.execute(text("COMMENT ON FUNCTION author_vdm_delete() IS 'vdm native 0'"))
    with Session(story) as session:
        found = [(v.kind, v.table, v.detail) for v in Repository(Base.metadata, session).verify()]
    assert found == [
        ("missing-trigger", "book", "versioned table 'book' has no native versioning "
                                    "trigger; run vdm.sqlalchemy.native.install()"),
        ("stale-trigger", "author", "the native versioning trigger of 'author' was installed "
                                    "for another model or vdm version; run "
                                    "vdm.sqlalchemy.native.install() to upgrade it"),
    ]
    with story.begin() as conn:
        native.install(conn, Base.metadata)
    with Session(story) as session:
        assert Repository(Base.metadata, session).verify() == []


def test_remove_leaves_the_history_and_verify_names_every_table(story: Engine) -> None:
    commit_books(story, wp="A")
    with story.begin() as conn:
        native.remove(conn, Base.metadata)
    assert rows(story, "SELECT count(*) FROM book_revision") == [(1,)]
    with Session(story) as session:
        kinds = {(v.kind, v.table) for v in Repository(Base.metadata, session).verify()}
    assert kinds == {("missing-trigger", t) for t in
                     ("revision", "license", "book", "author", "edition")}


def test_elsewhere_the_python_mode_writes_and_install_says_why(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL has native versioning")
    native.enable(Base.metadata)
    try:
        Base.metadata.create_all(engine)
        commit_books(engine, wp="A")
        assert rows(engine, "SELECT id, revision_id FROM book_revision") == [(1, 1)]
        with engine.begin() as conn, pytest.raises(UnsupportedDatabaseError) as caught:
            native.install(conn, Base.metadata)
        assert str(caught.value).startswith(
            f"native versioning needs PostgreSQL, not {engine.dialect.name}: ")
    finally:
        native.disable(Base.metadata)


def test_the_core_quotes_names_as_sqlalchemys_postgresql_dialect_does() -> None:
    # The trigger SQL was written with SQLAlchemy's quoting; the core's own
    # must give the same text, so installed functions' hashes still match.
    from sqlalchemy.dialects.postgresql import base, dialect

    from vdm.nativetriggers import pg_quote

    quote = dialect().identifier_preparer.quote
    names = [*sorted(base.RESERVED_WORDS), "order", "Order", "book", "Mixed Case", 'a"b',
             "1st", "$x", "x$", "_x", "\u00e9t\u00e9", "with-dash", "revision_id", ""]
    assert [pg_quote(n) for n in names] == [quote(n) for n in names]


def test_the_native_benchmark_rows_run(pg: Engine) -> None:
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--db", "postgresql", "--only", "native"],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "native/plain, create:" in done.stdout and "native/plain, update:" in done.stdout


def test_an_alembic_migration_installs_and_removes_the_triggers(story: Engine) -> None:
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    import vdm.sqlalchemy.native_alembic  # noqa: F401 - registers the operations

    with story.begin() as conn:
        op = Operations(MigrationContext.configure(conn))
        op.remove_vdm_triggers(Base.metadata)  # type: ignore[attr-defined]
    with Session(story) as session:
        assert {v.kind for v in Repository(Base.metadata, session).verify()} == {
            "missing-trigger"}
    with story.begin() as conn:
        op = Operations(MigrationContext.configure(conn))
        op.install_vdm_triggers(Base.metadata, outside_author="migration")  # type: ignore[attr-defined]
        conn.execute(text("INSERT INTO license (id, name) VALUES (1, 'GPL')"))
    assert rows(story, "SELECT author FROM revision") == [("migration",)]
    with Session(story) as session:
        assert Repository(Base.metadata, session).verify() == []


def test_an_offline_alembic_script_holds_the_trigger_sql(pg: Engine) -> None:
    import io

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    import vdm.sqlalchemy.native_alembic  # noqa: F401 - registers the operations

    out = io.StringIO()
    context = MigrationContext.configure(dialect_name="postgresql",
                                         opts={"as_sql": True, "output_buffer": out})
    Operations(context).install_vdm_triggers(Base.metadata)  # type: ignore[attr-defined]
    script = out.getvalue()
    assert "CREATE CONSTRAINT TRIGGER vdm_finalize_revision" in script
    assert "CREATE TRIGGER vdm_update AFTER UPDATE ON book" in script


def test_the_repository_rebuilds_a_native_database(story: Engine) -> None:
    commit_books(story, wp="A")
    with Session(story) as session:
        repo = Repository(Base.metadata, session)
        repo.rebuild_db()  # drop_all removes the triggers, create_all installs them
        assert repo.verify() == []
        session.revision = Revision(author="me", message="again")  # type: ignore[attr-defined]
        session.add(Book(name="wp", title="B"))
        session.commit()
    assert rows(story, "SELECT id, revision_id, title FROM book_revision") == [(1, 1, "B")]


def test_an_unknown_outside_writes_setting_is_refused_at_once() -> None:
    from vdm import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        native.enable(MetaData(), outside_writes="ignore")
    assert str(caught.value) == (
        "outside_writes must be one of 'automatic', 'refuse', not 'ignore'")
