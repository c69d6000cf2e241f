"""One schema, two backends: each reads (and continues) the other's history.

SQLObject creates the schema and writes history, SQLAlchemy reads it as of
each revision and writes on top; then the other way round.  And the two
backends create identical vdm tables (columns, types, keys, indexes,
foreign keys).
"""

from __future__ import annotations

from typing import Any

import models as sa
import pytest
import sqlobject_models as so
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session as SASession
from sqlobject_models import connection, new_session, so_connection  # noqa: F401 - fixtures

from vdm.naming import REVISION_ID, STATE
from vdm.sqlalchemy import Revision as SARevision
from vdm.sqlobject import Revision


def write_with_sqlobject(new_session: Any) -> None:
    session = new_session()
    t = session.transaction
    session.revision = Revision(author="so", message="first")
    gpl = so.License(name="gpl", connection=t)
    book = so.Book(name="warandpeace", title="War and Peacee", license=gpl, connection=t)
    so.Book(name="annakarenina", title="Anna", connection=t)
    session.commit()
    session.revision = Revision(author="so", message="fix typo, relicense")
    mit = so.License(name="mit", connection=t)
    book.set(title="War and Peace", license=mit)
    so.Author(name="tolstoy", book=book, connection=t)
    session.commit()
    session.revision = Revision(author="so", message="delete anna")
    so.Book.selectBy(name="annakarenina", connection=t).getOne().delete()
    session.commit()
    session.close()


def write_with_sqlalchemy(engine: Any) -> None:
    with SASession(engine) as session:
        session.revision = SARevision(author="sa", message="first")
        gpl = sa.License(name="gpl")
        book = sa.Book(name="warandpeace", title="War and Peacee", license=gpl)
        session.add_all([book, sa.Book(name="annakarenina", title="Anna")])
        session.commit()
        session.revision = SARevision(author="sa", message="fix typo, relicense")
        book.title = "War and Peace"
        book.license = sa.License(name="mit")
        book.authors.append(sa.Author(name="tolstoy"))
        session.commit()
        session.revision = SARevision(author="sa", message="delete anna")
        session.scalars(select(sa.Book).filter_by(name="annakarenina")).one().delete()
        session.commit()


def check_with_sqlalchemy(engine: Any) -> None:
    with SASession(engine) as session:
        book = session.scalars(select(sa.Book).filter_by(name="warandpeace")).one()
        anna = session.scalars(select(sa.Book).filter_by(name="annakarenina")).one()
        v1, v2 = book.get_as_of(1), book.get_as_of(2)
        assert (v1.title, v1.license.name, v1.authors) == ("War and Peacee", "gpl", [])
        assert (v2.title, v2.license.name) == ("War and Peace", "mit")
        assert [a.name for a in v2.authors] == ["tolstoy"]
        assert anna.get_as_of(2).state == "active" and anna.get_as_of(3).state == "deleted"
        assert [v.revision_id for v in book.versions] == [1, 2]
        assert [r.id for r in (v.revision for v in anna.versions)] == [1, 3]
        assert book.diff(2, 1)["title"].startswith("- War and Peacee")
        # ...and SQLAlchemy continues the history.
        session.revision = SARevision(author="sa", message="more")
        book.text = "Well, Prince"
        session.commit()


def check_with_sqlobject(new_session: Any, next_author: str) -> None:
    session = new_session()
    t = session.transaction
    book = so.Book.selectBy(name="warandpeace", connection=t).getOne()
    anna = so.Book.selectBy(name="annakarenina", connection=t).getOne()
    v1, v2 = book.get_as_of(1), book.get_as_of(2)
    assert (v1.title, v1.license.name, v1.authors) == ("War and Peacee", "gpl", [])
    assert (v2.title, v2.license.name) == ("War and Peace", "mit")
    assert [a.name for a in v2.authors] == ["tolstoy"]
    assert anna.get_as_of(2).state == "active" and anna.get_as_of(3).state == "deleted"
    assert [v.revision_id for v in book.versions] == [1, 2]
    assert [v.revision.author for v in anna.versions] == [next_author, next_author]
    assert book.diff(2, 1)["title"].startswith("- War and Peacee")
    # ...and SQLObject continues the history.
    session.revision = Revision(author="so", message="more")
    book.text = "Well, Prince"
    session.commit()
    session.close()


def test_sqlobject_history_read_by_sqlalchemy(connection: Any, new_session: Any,
                                              engine: Any) -> None:
    write_with_sqlobject(new_session)
    check_with_sqlalchemy(engine)
    with SASession(engine) as session:
        book = session.scalars(select(sa.Book).filter_by(name="warandpeace")).one()
        assert [v.text for v in book.versions] == [None, None, "Well, Prince"]
        assert book.revision.id == 4
    s = new_session()
    book = so.Book.selectBy(name="warandpeace", connection=s.transaction).getOne()
    assert book.get_as_of(4).text == "Well, Prince" and book.revision.author == "sa"


def test_sqlalchemy_history_read_by_sqlobject(new_session: Any, engine: Any) -> None:
    sa.Base.metadata.create_all(engine)
    write_with_sqlalchemy(engine)
    check_with_sqlobject(new_session, "sa")
    with SASession(engine) as session:
        book = session.scalars(select(sa.Book).filter_by(name="warandpeace")).one()
        assert book.get_as_of(4).text == "Well, Prince"
        assert book.revision.author == "so"


def describe_schema(engine: Any) -> dict[str, Any]:
    """What vdm owns of the schema, in comparable form."""
    insp = inspect(engine)
    out: dict[str, Any] = {}
    for table in ("revision", "revision_sequence", "license", "book", "author",
                  "license_revision", "book_revision", "author_revision"):
        vdm_owned = table.startswith("revision") or table.endswith("_revision")
        columns = {
            c["name"]: (repr(c["type"]).replace("INT()", "INTEGER()"), c["nullable"],
                        "active" in str(c.get("default") or ""))
            for c in insp.get_columns(table)
            if vdm_owned or c["name"] in (REVISION_ID, STATE)
        }
        indexes = sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(table)
                         if vdm_owned or i["name"].startswith("ix_"))
        fks = sorted((tuple(f["constrained_columns"]), f["referred_table"],
                      tuple(f["referred_columns"])) for f in insp.get_foreign_keys(table)
                     if vdm_owned or f["referred_table"] == "revision")
        pk = tuple(insp.get_pk_constraint(table)["constrained_columns"])
        out[table] = {"columns": columns, "indexes": indexes, "fks": fks,
                      "pk": pk if vdm_owned else None}
    return out


def test_both_backends_create_the_same_schema(db: Any, so_connection: Any, engine: Any) -> None:
    from databases import reset

    so.create_story_tables(so_connection)
    by_sqlobject = describe_schema(engine)
    engine.dispose()
    so_connection.close()
    reset(engine)
    sa.Base.metadata.create_all(engine)
    by_sqlalchemy = describe_schema(engine)
    for table, described in by_sqlalchemy.items():
        assert by_sqlobject[table] == described, table


@pytest.mark.parametrize("creator", ["sqlobject", "sqlalchemy"])
def test_revision_sequence_is_shared(creator: str, so_connection: Any, new_session: Any,
                                    engine: Any) -> None:
    if creator == "sqlobject":
        so.create_story_tables(so_connection)
    else:
        sa.Base.metadata.create_all(engine)
    ids = []
    for i in range(2):
        s = new_session()
        s.revision = Revision(author="so")
        so.License(name=f"so{i}", connection=s.transaction)
        s.commit()
        ids.append(s.transaction.queryOne("SELECT MAX(id) FROM revision")[0])
        s.close()
        with SASession(engine) as session:
            session.revision = SARevision(author="sa")
            session.add(sa.License(name=f"sa{i}"))
            session.commit()
            ids.append(session.revision_id if hasattr(session, "revision_id") else
                       session.scalar(select(sa.License.revision_id).filter_by(name=f"sa{i}")))
    assert ids == [1, 2, 3, 4]
