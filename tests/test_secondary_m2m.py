"""A plain many-to-many (``relationship(secondary=table)``) is versioned.

The story of a blog: editors tag articles with keywords through a plain
association table, articles cite articles, readers bookmark articles.
"""

import pytest
from history_helpers import rows
from secondary_models import Article, BlogBase, Keyword, Reader
from sqlalchemy import Column, ForeignKey, Integer, String, Table, event, inspect, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    selectinload,
)

from vdm import ConfigurationError, ConflictError, IntegrityViolation, NoRevisionError, Operation
from vdm.sqlalchemy import Repository, Revision, Revisioned, as_of
from vdm.sqlalchemy.reflection import ReflectedModel


@pytest.fixture
def session(engine):
    BlogBase.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def revise(session, message="change"):
    session.revision = Revision(author="editor", message=message)


def words(keywords):
    return [k.word for k in keywords]


def links(engine, table="article_keyword_revision"):
    """The version rows of an association: (key..., revision, expired, op)."""
    return rows(engine, f"SELECT * FROM {table} ORDER BY 1, 2, 3")


@pytest.fixture
def blog(session):
    """r1: two articles, three keywords; "Intro" tagged python and sql."""
    revise(session, "r1")
    python, sql, web = Keyword(word="python"), Keyword(word="sql"), Keyword(word="web")
    intro = Article(title="Intro", keywords=[python, sql])
    advanced = Article(title="Advanced", keywords=[python])
    session.add_all([intro, advanced, web])
    session.commit()
    return intro, advanced, python, sql, web


def test_the_version_table_copies_the_association_keyed_by_its_key_and_revision(session, engine):
    table = BlogBase.metadata.tables["article_keyword_revision"]
    assert [c.name for c in table.c] == [
        "article_id", "keyword_id", "revision_id", "expired_id", "operation_type", "state"]
    assert [c.name for c in table.primary_key.columns] == [
        "article_id", "keyword_id", "revision_id"]
    assert table.c.article_id.type.python_type is int
    assert not any(fk.column.table.name in ("article", "keyword") for fk in table.foreign_keys)
    indexed = {tuple(c.name for c in ix.columns) for ix in table.indexes}
    assert indexed == {("revision_id",), ("expired_id",)}
    created = inspect(engine)
    assert {"article_keyword_revision", "citation_revision", "bookmark_revision"} <= set(
        created.get_table_names())
    # No primary key: keyed by its foreign key columns.
    citation = BlogBase.metadata.tables["citation_revision"]
    assert [c.name for c in citation.primary_key.columns] == [
        "citing_id", "cited_id", "revision_id"]
    # The live association table is left as declared.
    assert [c.name for c in BlogBase.metadata.tables["article_keyword"].c] == [
        "article_id", "keyword_id"]


def test_tagging_writes_versions_and_each_version_lists_the_keywords_of_its_revision(
        session, blog, engine):
    intro, advanced, python, sql, web = blog
    revise(session, "r2: retag intro")
    intro.keywords.remove(sql)
    intro.keywords.append(web)
    session.commit()
    assert words(intro.get_as_of(1).keywords) == ["python", "sql"]
    assert words(intro.get_as_of(2).keywords) == ["python", "web"]
    assert words(intro.keywords) == ["python", "web"]
    assert words(advanced.get_as_of(2).keywords) == ["python"]
    # The other side reads as of its revision too.
    assert [a.title for a in python.get_as_of(1).articles] == ["Intro", "Advanced"]
    assert [a.title for a in sql.get_as_of(1).articles] == ["Intro"]
    assert sql.get_as_of(2).articles == []
    # Versioned targets come back as their versions then.
    assert all(type(k).__name__ == "KeywordRevision" for k in intro.get_as_of(1).keywords)
    i, s, w = intro.id, sql.id, web.id
    assert (i, s, 1, 2, Operation.INSERT, "active") in links(engine)
    assert (i, s, 2, None, Operation.DELETE, "active") in links(engine)
    assert (i, w, 2, None, Operation.INSERT, "active") in links(engine)
    assert rows(engine, "SELECT count(*) FROM article_keyword") == [(3,)]
    assert Repository(BlogBase.metadata, session).verify() == []


def test_changing_only_the_keywords_without_a_revision_is_refused_and_writes_nothing(
        session, blog, engine):
    intro, _, _, sql, web = blog
    before = links(engine)
    intro.keywords.append(web)
    with pytest.raises(NoRevisionError) as caught:
        session.flush()
    assert str(caught.value).startswith("Article(id=1) changed but the session has no revision")
    session.rollback()
    assert links(engine) == before
    assert rows(engine, "SELECT count(*) FROM article_keyword") == [(3,)]
    assert words(intro.keywords) == ["python", "sql"]


def test_a_keyword_removed_and_added_back_in_one_revision_leaves_no_version(
        session, blog, engine):
    intro, _, python, sql, web = blog
    before = links(engine)
    revise(session, "r2: shuffle")
    intro.keywords.remove(sql)
    session.flush()
    intro.keywords.append(sql)
    intro.keywords.append(web)
    session.flush()
    intro.keywords.remove(web)
    session.commit()
    assert links(engine) == before
    # One flush: SQLAlchemy itself writes nothing.
    revise(session, "r2: same list")
    intro.keywords = [python, sql]
    session.commit()
    assert links(engine) == before


def test_removed_then_added_back_in_a_later_revision_is_a_new_version(session, blog, engine):
    intro, _, _, sql, _ = blog
    revise(session, "r2")
    intro.keywords.remove(sql)
    session.commit()
    revise(session, "r3")
    intro.keywords.append(sql)
    session.commit()
    mine = [r for r in links(engine) if r[:2] == (intro.id, sql.id)]
    assert mine == [
        (intro.id, sql.id, 1, 2, Operation.INSERT, "active"),
        (intro.id, sql.id, 2, 3, Operation.DELETE, "active"),
        (intro.id, sql.id, 3, None, Operation.INSERT, "active"),
    ]
    assert [words(intro.get_as_of(r).keywords) for r in (1, 2, 3)] == [
        ["python", "sql"], ["python"], ["python", "sql"]]


def test_destroying_an_article_records_the_removal_of_its_links(session, blog, engine):
    intro, advanced, python, sql, _ = blog
    revise(session, "r2: destroy intro")
    session.delete(intro)
    session.commit()
    assert rows(engine, "SELECT count(*) FROM article_keyword") == [(1,)]
    deletes = [r[:2] for r in links(engine) if r[2] == 2]
    assert sorted(deletes) == [(1, python.id), (1, sql.id)]
    assert [a.title for a in python.get_as_of(1).articles] == ["Intro", "Advanced"]
    assert [a.title for a in python.get_as_of(2).articles] == ["Advanced"]
    assert Repository(BlogBase.metadata, session).verify() == []


def test_self_referential_citations_without_a_primary_key(session, blog, engine):
    intro, advanced, *_ = blog
    revise(session, "r2: advanced cites intro")
    advanced.cites.append(intro)
    session.commit()
    revise(session, "r3: and itself")
    advanced.cites.append(advanced)
    session.commit()
    assert advanced.get_as_of(1).cites == []
    assert [a.title for a in advanced.get_as_of(2).cites] == ["Intro"]
    assert [a.title for a in advanced.get_as_of(3).cites] == ["Intro", "Advanced"]
    assert intro.get_as_of(3).cites == []
    assert links(engine, "citation_revision") == [
        (advanced.id, intro.id, 2, None, Operation.INSERT, "active"),
        (advanced.id, advanced.id, 3, None, Operation.INSERT, "active"),
    ] or sorted(links(engine, "citation_revision")) == sorted([
        (advanced.id, intro.id, 2, None, Operation.INSERT, "active"),
        (advanced.id, advanced.id, 3, None, Operation.INSERT, "active"),
    ])


def test_an_unversioned_reader_bookmarking_versioned_articles_is_history_too(
        session, blog, engine):
    intro, advanced, *_ = blog
    reader = Reader(name="ann")
    session.add(reader)
    session.commit()  # a reader alone is no versioned change
    reader.bookmarks.append(intro)
    with pytest.raises(NoRevisionError, match=r"^Reader\(id=1\) changed but the session has no revision"):
        session.commit()
    session.rollback()
    revise(session, "r2: ann bookmarks")
    reader.bookmarks.append(intro)
    session.commit()
    revise(session, "r3: ann leaves")
    session.delete(reader)
    session.commit()
    assert links(engine, "bookmark_revision") == [
        (reader.id, intro.id, 2, 3, Operation.INSERT, "active"),
        (reader.id, intro.id, 3, None, Operation.DELETE, "active"),
    ]
    assert Repository(BlogBase.metadata, session).verify() == []
    session.rollback()
    with engine.connect() as connection:
        model = ReflectedModel(connection)
        assert {"article_keyword", "bookmark", "citation"} <= set(model.by_name)
        assert model.verify() == []
        assert [(c.table, c.key, c.kind) for c in model.row_changes(3)] == [
            ("bookmark", (reader.id, intro.id), "destroyed")]


def test_the_whole_model_view_follows_keywords_as_of_its_revision(session, blog):
    intro, *_ = blog
    revise(session, "r2")
    intro.keywords = []
    session.commit()
    view = as_of(session, 1)
    assert words(view.get(Article, intro.id).keywords) == ["python", "sql"]
    assert as_of(session, 2).get(Article, intro.id).keywords == []


def test_restore_object_brings_back_the_keywords_as_a_new_revision(session, blog, engine):
    intro, _, python, sql, web = blog
    revise(session, "r2")
    intro.keywords = [web]
    session.commit()
    repo = Repository(BlogBase.metadata, session)
    from vdm.sqlalchemy import restore_object

    revise(session, "r3: restore intro")
    restore_object(session, intro, 1)
    session.commit()
    assert words(intro.keywords) == ["python", "sql"]
    assert words(intro.get_as_of(3).keywords) == ["python", "sql"]
    assert words(intro.get_as_of(2).keywords) == ["web"]
    assert repo.verify() == []


def test_restore_model_and_undo_revision_cover_the_associations(session, blog, engine):
    intro, advanced, python, sql, web = blog
    revise(session, "r2")
    intro.keywords.append(web)
    advanced.keywords = []
    session.commit()
    repo = Repository(BlogBase.metadata, session)
    revise(session, "r3: undo r2")
    repo.undo(2)
    session.commit()
    session.expire_all()
    assert words(intro.keywords) == ["python", "sql"]
    assert words(advanced.keywords) == ["python"]
    revise(session, "r4: back to r2")
    repo.restore(2)
    session.commit()
    session.expire_all()
    assert words(intro.keywords) == ["python", "sql", "web"]
    assert advanced.keywords == []
    assert words(intro.get_as_of(3).keywords) == ["python", "sql"]
    assert repo.verify() == []


def test_undo_refuses_when_a_later_revision_changed_the_same_link(session, blog, engine):
    intro, _, _, sql, _ = blog
    revise(session, "r2")
    intro.keywords.remove(sql)
    session.commit()
    revise(session, "r3")
    intro.keywords.append(sql)
    session.commit()
    before = links(engine)
    revise(session, "r4: undo r2")
    with pytest.raises(ConflictError, match="cannot undo revision 2"):
        Repository(BlogBase.metadata, session).undo(2)
    session.rollback()
    assert links(engine) == before


def test_purge_revision_and_purge_rewrite_the_association_history(session, blog, engine):
    intro, advanced, python, sql, web = blog
    repo = Repository(BlogBase.metadata, session)
    revise(session, "r2")
    intro.keywords.append(web)
    session.commit()
    repo.purge_revision(2)
    assert rows(engine, "SELECT count(*) FROM article_keyword") == [(3,)]
    assert all(r[2] == 1 and r[3] is None for r in links(engine))
    assert repo.verify() == []
    intro = session.get(Article, intro.id)
    repo.purge(intro)
    assert [r[0] for r in links(engine)] == [advanced.id]
    assert rows(engine, "SELECT article_id FROM article_keyword") == [(advanced.id,)]
    assert repo.verify() == []


def test_verify_reports_a_broken_association_history(session, blog, engine):
    intro, _, _, sql, _ = blog
    from sqlalchemy import text

    intro_id, sql_id = intro.id, sql.id
    session.rollback()  # a new snapshot on MariaDB (repeatable read)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM article_keyword_revision WHERE keyword_id = :k"),
                     {"k": sql_id})
    found = Repository(BlogBase.metadata, session).verify()
    assert [(v.kind, v.table, v.key) for v in found] == [
        ("missing-version", "article_keyword", (intro_id, sql_id))]


class _Other(DeclarativeBase):
    pass


def test_a_secondary_that_is_not_a_table_is_refused_naming_class_and_attribute():
    class Box(Revisioned, _Other):
        __tablename__ = "box"
        id: Mapped[int] = mapped_column(primary_key=True)

    class Item(Revisioned, _Other):
        __tablename__ = "item"
        id: Mapped[int] = mapped_column(primary_key=True)

    left = Table("box_item", _Other.metadata,
                 Column("box_id", ForeignKey("box.id"), primary_key=True),
                 Column("item_id", ForeignKey("item.id"), primary_key=True))
    joined = left.join(Item.__table__)
    with pytest.raises(ConfigurationError) as caught:
        class Crate(Revisioned, _Other):
            __tablename__ = "crate"
            id: Mapped[int] = mapped_column(primary_key=True)
            items: Mapped[list[Item]] = relationship(secondary=joined, viewonly=True)
    assert str(caught.value).startswith("Crate.items goes through a Join")
    assert "one association Table" in str(caught.value)


def test_an_association_with_a_column_vdm_needs_is_refused_when_declared():
    table = Table("shelf_book", _Other.metadata,
                  Column("shelf_id", Integer, ForeignKey("shelf.id"), primary_key=True),
                  Column("book_id", Integer, primary_key=True),
                  Column("state", String(10)))
    with pytest.raises(ConfigurationError) as caught:
        class Shelf(Revisioned, _Other):
            __tablename__ = "shelf"
            id: Mapped[int] = mapped_column(primary_key=True)
            books: Mapped[list[Keyword]] = relationship(secondary=table)
    assert str(caught.value) == (
        "Shelf.books: the association table 'shelf_book' has a column named "
        "'state', which vdm's version table needs; rename it, or make the "
        "association a versioned link class (add_stateful_versioned_m2m)")


class _Statements:
    """The statements an engine runs inside the block."""

    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append(" ".join(statement.split()))

    def on(self, table):
        return [s for s in self.seen if f" {table} " in f"{s} " or f" {table}(" in s]


def test_tagging_many_articles_costs_the_same_statements_per_table_as_tagging_one(
        session, engine):
    revise(session, "r1: 100 articles, 100 keywords")
    articles = [Article(title=f"a{i}") for i in range(100)]
    keywords = [Keyword(word=f"k{i}") for i in range(100)]
    session.add_all(articles + keywords)
    session.commit()
    counts = {}
    for count, first in ((1, 0), (10, 1), (100, 0)):
        # Loaded first: loading a collection in the block would autoflush
        # each append, with or without vdm.
        session.scalars(select(Article).options(selectinload(Article.keywords))).all()
        revise(session, f"tag {count}")
        with _Statements(engine) as log:
            for i in range(count):
                articles[(first + i) % 100].keywords.append(keywords[(count + i) % 100])
            session.commit()
        counts[count] = (len(log.on("article_keyword_revision")), len(log.on("article_keyword")))
        assert len(log.on("article_revision")) == 0  # the articles themselves did not change
    assert counts[1] == counts[10] == counts[100], (counts, log.seen)
    session.scalars(select(Article).options(selectinload(Article.keywords))).all()
    revise(session, "untag 100")
    with _Statements(engine) as log:
        for article in articles:
            article.keywords = []
        session.commit()
    assert len(log.on("article_keyword_revision")) <= counts[1][0], log.seen
    assert rows(engine, "SELECT count(*) FROM article_keyword_revision "
                        "WHERE operation_type = 2") == [(111,)]


def test_a_revisions_changes_list_the_links_it_added_and_removed(session, blog):
    intro, _, python, sql, web = blog
    revise(session, "r2")
    intro.keywords.remove(sql)
    intro.keywords.append(web)
    session.commit()
    changes = Repository(BlogBase.metadata, session).changes(2)
    assert [c.describe() for c in changes.links_added] == [
        f"article_keyword(article_id={intro.id}, keyword_id={web.id}) created"]
    assert [c.describe() for c in changes.links_removed] == [
        f"article_keyword(article_id={intro.id}, keyword_id={sql.id}) destroyed"]
    assert changes.created == changes.updated == changes.deleted == []


def test_purging_the_revision_that_created_a_keyword_linked_later_is_refused(
        session, blog, engine):
    intro, *_ = blog
    revise(session, "r2: a new keyword")
    rust = Keyword(word="rust")
    session.add(rust)
    session.commit()
    revise(session, "r3: intro about rust")
    intro.keywords.append(rust)
    session.commit()
    before = links(engine)
    with pytest.raises(IntegrityViolation, match="cannot purge revision 2"):
        Repository(BlogBase.metadata, session).purge_revision(2)
    assert links(engine) == before
