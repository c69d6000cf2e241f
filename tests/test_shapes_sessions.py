"""Model shapes, part 3: the session set-ups applications use, and refusals.

The same story (create, update, soft delete, hard delete) told through
sessions configured as applications configure them: autoflush off,
``expire_on_commit=False``, ``scoped_session``, ``sessionmaker.begin()``,
``merge`` of detached objects and nested savepoints.  Each is checked
against a reference recording (:mod:`shapes`).  Shapes vdm cannot version
are refused when the class is declared, naming the class and attribute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from shapes import Recorder
from sqlalchemy import Column, ForeignKey, Integer, String, Table, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    scoped_session,
    sessionmaker,
)

from vdm import ConfigurationError
from vdm.sqlalchemy import Revision, Revisioned, Stateful


class Base(DeclarativeBase):
    pass


class Ticket(Revisioned, Stateful, Base):
    __tablename__ = "sess_ticket"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(30))
    priority: Mapped[int] = mapped_column(default=0)


class Comment(Revisioned, Base):
    __tablename__ = "sess_comment"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("sess_ticket.id"))
    body: Mapped[str] = mapped_column(String(30))


CLASSES = [Ticket, Comment]


def story(recorder: Recorder, session: Session) -> None:
    """Create, update, soft delete and hard delete through ``session``."""
    with recorder.revision(session, "create"):
        session.add_all([Ticket(id=1, title="crash"), Ticket(id=2, title="typo")])
        session.flush()
        session.add(Comment(id=1, ticket_id=1, body="seen"))
    with recorder.revision(session, "update"):
        session.get(Ticket, 1).priority = 3
        session.get(Comment, 1).body = "fixing"
    with recorder.revision(session, "soft and hard delete"):
        session.get(Ticket, 2).delete()
        session.delete(session.get(Comment, 1))


def plain(engine: Any) -> Callable[[Recorder], None]:
    def run(recorder: Recorder) -> None:
        with Session(engine, autoflush=False) as session:
            story(recorder, session)
    return run


def no_expire(engine: Any) -> Callable[[Recorder], None]:
    def run(recorder: Recorder) -> None:
        with Session(engine, expire_on_commit=False) as session:
            story(recorder, session)
            ticket = session.get(Ticket, 1)
            # Query-backed: the committed history, although nothing expired.
            assert len(ticket.versions) == 2
    return run


def scoped(engine: Any) -> Callable[[Recorder], None]:
    def run(recorder: Recorder) -> None:
        registry = scoped_session(sessionmaker(engine))
        try:
            story(recorder, registry())
        finally:
            registry.remove()
    return run


def begin_blocks(engine: Any) -> Callable[[Recorder], None]:
    def run(recorder: Recorder) -> None:
        factory = sessionmaker(engine)
        for message, change in [
            ("create", lambda s: s.add_all([Ticket(id=1, title="crash"),
                                            Ticket(id=2, title="typo")])),
            ("comment", lambda s: s.add(Comment(id=1, ticket_id=1, body="seen"))),
            ("update", lambda s: setattr(s.get(Ticket, 1), "priority", 3)),
            ("delete", lambda s: s.get(Ticket, 2).delete()),
        ]:
            revision = Revision(author="shapes", message=message)
            with factory.begin() as session:
                session.revision = revision
                change(session)
            recorder.record(revision)
    return run


def merged(engine: Any) -> Callable[[Recorder], None]:
    def run(recorder: Recorder) -> None:
        with Session(engine) as session:
            with recorder.revision(session, "create"):
                session.merge(Ticket(id=1, title="crash"))
                session.merge(Ticket(id=2, title="typo"))
        detached = Ticket(id=1, title="crash (merged)", priority=2)
        with Session(engine) as session:
            with recorder.revision(session, "merge a detached edit"):
                session.merge(detached)
            with recorder.revision(session, "merge an unchanged copy"):
                session.merge(Ticket(id=2, title="typo", priority=0))
                session.merge(Ticket(id=3, title="new"))
    return run


def savepoints(engine: Any) -> Callable[[Recorder], None]:
    def run(recorder: Recorder) -> None:
        with Session(engine) as session:
            with recorder.revision(session, "create, one savepoint rolled back"):
                session.add(Ticket(id=1, title="kept"))
                nested = session.begin_nested()
                session.add(Ticket(id=2, title="dropped"))
                nested.rollback()
                with session.begin_nested():
                    session.add(Ticket(id=3, title="kept too"))
            with recorder.revision(session, "update in a savepoint"):
                with session.begin_nested():
                    session.get(Ticket, 1).title = "changed"
                nested = session.begin_nested()
                session.get(Ticket, 3).delete()
                nested.rollback()
    return run


SETUPS = {
    "autoflush off": plain,
    "expire_on_commit off": no_expire,
    "scoped_session": scoped,
    "sessionmaker.begin()": begin_blocks,
    "merge": merged,
    "nested savepoints": savepoints,
}


@pytest.mark.parametrize("setup", list(SETUPS), ids=list(SETUPS))
def test_each_session_set_up_writes_the_history_it_was_told(engine, setup):
    Base.metadata.create_all(engine)
    recorder = Recorder(engine, Base.metadata, CLASSES)
    SETUPS[setup](engine)(recorder)
    assert len(recorder.snapshots) >= 2
    recorder.check()


def test_nothing_of_a_rolled_back_savepoint_remains(engine):
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.revision = Revision(author="me", message="all in a savepoint")
        nested = session.begin_nested()
        session.add(Ticket(id=9, title="gone"))
        nested.rollback()
        session.commit()
        assert session.scalars(select(Ticket)).all() == []
        assert session.scalars(select(Ticket.__revision_class__)).all() == []
        assert session.scalars(select(Revision)).all() == []


# -- shapes refused when the class is declared ----------------------------

def _declare(**columns: Any) -> type:
    class Refused(DeclarativeBase):
        pass

    namespace: dict[str, Any] = {"__tablename__": "refused", **columns,
                                 "__annotations__": {}}
    return type("Gizmo", (Revisioned, Refused), namespace)


@pytest.mark.parametrize(("columns", "words"), [
    ({"id": Column(Integer, primary_key=True), "expired_id": Column(Integer)},
     ["Gizmo", "'expired_id'", "rename it"]),
    ({"id": Column(Integer, primary_key=True),
      "op": Column("operation_type", Integer)},
     ["Gizmo", "'operation_type'", "rename it"]),
    ({"name": Column(String(10))}, ["Gizmo", "no primary key"]),
], ids=["expired_id column", "operation_type column name", "no primary key"])
def test_a_shape_vdm_cannot_version_is_refused_at_declaration(columns, words):
    with pytest.raises(ConfigurationError) as raised:
        _declare(**columns)
    for word in words:
        assert word in str(raised.value)


def test_a_renamed_revision_id_column_is_refused_at_declaration():
    class Refused(DeclarativeBase):
        pass

    table = Table("refused_rev", Refused.metadata,
                  Column("id", Integer, primary_key=True),
                  Column("rev", Integer, key="revision_id"))
    with pytest.raises(ConfigurationError, match=r"Gadget .*'revision_id'.* is named 'rev'"):
        type("Gadget", (Revisioned, Refused), {"__table__": table})


def test_a_column_named_state_on_a_class_that_is_not_stateful_is_refused():
    """Read as active/deleted, US states would hide every address: refused."""

    class Refused(DeclarativeBase):
        pass

    with pytest.raises(ConfigurationError, match=r"Address .*column 'state' \(key 'state'\).* Stateful"):
        type("Address", (Revisioned, Refused), {
            "__tablename__": "address",
            "__annotations__": {"id": Mapped[int], "state": Mapped[str]},
            "id": mapped_column(primary_key=True),
            "state": mapped_column(String(2)),
        })
    class Refused2(DeclarativeBase):
        pass

    with pytest.raises(ConfigurationError, match=r"Address .*column 'state'.*rename the column"):
        type("Address", (Revisioned, Refused2), {
            "__tablename__": "address2",
            "__annotations__": {"id": Mapped[int], "region": Mapped[str]},
            "id": mapped_column(primary_key=True),
            "region": mapped_column("state", String(2)),
        })


def test_a_column_named_otherwise_than_state_is_versioned_like_any_other(engine):
    class Own(DeclarativeBase):
        pass

    class Address(Revisioned, Own):
        __tablename__ = "sess_address"
        id: Mapped[int] = mapped_column(primary_key=True)
        region: Mapped[str] = mapped_column("state_code", String(2))

    Own.metadata.create_all(engine)
    recorder = Recorder(engine, Own.metadata, [Address])
    with Session(engine) as session:
        with recorder.revision(session, "create"):
            session.add(Address(id=1, region="CA"))
        with recorder.revision(session, "move"):
            session.get(Address, 1).region = "NY"
    recorder.check()
