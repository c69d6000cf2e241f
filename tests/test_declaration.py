"""Declaring versioned classes: generated tables, classes and sessions."""

from history_helpers import rows
from models import Base, Book, Edition
from sqlalchemy import String, inspect, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    scoped_session,
    sessionmaker,
)

from vdm.sqlalchemy import Repository, Revision, Revisioned, Stateful


def test_version_classes_and_tables_have_predictable_names():
    assert Book.__revision_class__.__name__ == "BookRevision"
    assert Book.__revision_class__.__table__.name == "book_revision"
    assert Book.__versioning__.version_class is Book.__revision_class__


def test_create_all_creates_the_schema_of_the_spec(engine):
    Base.metadata.create_all(engine)
    insp = inspect(engine)
    tables = set(insp.get_table_names())
    assert {"revision", "revision_sequence", "book_revision", "edition_revision"} <= tables
    assert {c["name"] for c in insp.get_columns("revision")} == {
        "id", "timestamp", "author", "message", "state", "extra"}
    assert {c["name"] for c in insp.get_columns("book_revision")} == {
        "id", "name", "title", "text", "license_id", "publisher_id", "revision_id", "state",
        "expired_id", "operation_type"}
    assert insp.get_pk_constraint("book_revision")["constrained_columns"] == ["id", "revision_id"]
    assert insp.get_pk_constraint("edition_revision")["constrained_columns"] == [
        "book_name", "number", "revision_id"]
    referred = {fk["referred_table"] for fk in insp.get_foreign_keys("book_revision")}
    assert referred == {"revision"}, "no foreign keys to live tables"
    assert not insp.get_unique_constraints("book_revision")
    indexed = {tuple(ix["column_names"]) for ix in insp.get_indexes("book_revision")}
    assert {("revision_id",), ("expired_id",)} <= indexed
    assert ("revision_id",) in {tuple(ix["column_names"]) for ix in insp.get_indexes("book")}
    assert "state" in {c["name"] for c in insp.get_columns("edition_revision")}


class SecondBase(DeclarativeBase):
    pass


class Page(Revisioned, Stateful, SecondBase):
    __tablename__ = "page"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str | None] = mapped_column(String(50))


def test_several_declarative_bases_coexist(engine):
    Base.metadata.create_all(engine)
    SecondBase.metadata.create_all(engine)
    with Session(engine) as session:
        session.revision = Revision(author="me", message="both models")
        session.add_all([Book(name="b"), Page(body="p")])
        session.commit()
        page = session.scalars(select(Page)).one()
        assert page.get_as_of(1).body == "p"
        assert Repository(SecondBase.metadata, session).list_changes(1)[Page][0].body == "p"
    assert rows(engine, "SELECT id FROM revision") == [(1,)]


def test_scoped_sessions_and_sessionmaker_work(story_engine, engine):
    Session_ = scoped_session(sessionmaker(story_engine))
    try:
        repo = Repository(Base.metadata, Session_)
        repo.new_revision(author="me", message="scoped")
        Session_.add(Edition(book_name="b", number=1))
        repo.commit_and_remove()
        assert [r.message for r in repo.history()] == ["scoped"]
        Session_().revision = Revision(author="me", message="direct")
        Session_.get(Edition, ("b", 1)).pages = 3
        Session_.commit()
        assert rows(engine, "SELECT pages, revision_id FROM edition") == [(3, 2)]
    finally:
        Session_.remove()
