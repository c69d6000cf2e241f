"""SQLAlchemy links: statement counts of a version's link lists, and related revisions in a
schema with reserved names (what both backends share is in tests/acceptance/test_accept_links.py)."""

import pytest
from link_models import LinkBase, Package, Tag
from sqlalchemy import ForeignKey, MetaData, String, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from test_shapes_columns import _drop_schema, _engine_with_schema

from vdm.sqlalchemy import (
    Revision,
    Revisioned,
    Stateful,
    add_stateful_versioned_dict,
)


@pytest.fixture
def session(engine):
    LinkBase.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def revise(session, message="change"):
    session.revision = Revision(author="tester", message=message)


class Statements:
    def __init__(self, engine):
        self.engine, self.log = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self.record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self.record)

    def record(self, *args):
        self.log.append(args[2])


@pytest.mark.parametrize("count", [3, 30])
def test_a_versions_link_list_loads_in_one_query(session, engine, count):
    revise(session)
    pkg = Package(name="many")
    pkg.tags = [Tag(name=f"t{i}") for i in range(count)]
    session.add(pkg)
    session.commit()
    old = pkg.get_as_of(1)
    with Statements(engine) as statements:
        tags = old.tags
    assert len(tags) == count and len(statements.log) == 1
    with Statements(engine) as statements:
        assert len(old.tags_active) == count
        assert old.extras == {}
    assert len(statements.log) == 2


def test_related_revisions_read_a_schema_and_reserved_names(engine, tmp_path):
    schema = "vdm_links_related"
    engine = _engine_with_schema(engine, schema, tmp_path)

    class Base(DeclarativeBase):
        metadata = MetaData(schema=schema)

    class Order(Revisioned, Base):
        __tablename__ = "order"
        id: Mapped[int] = mapped_column(primary_key=True)
        label: Mapped[str] = mapped_column(String(20))

    class OrderNote(Revisioned, Stateful, Base):
        __tablename__ = "order_note"
        id: Mapped[int] = mapped_column(primary_key=True)
        group: Mapped[int] = mapped_column("group", ForeignKey("order.id"))
        key: Mapped[str] = mapped_column(String(20))
        value: Mapped[str] = mapped_column(String(20))

    add_stateful_versioned_dict(Order, OrderNote, "notes", "key", "value", "order_notes")
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            revise(session, "r1")
            order = Order(id=1, label="a")
            session.add(order)
            session.add(Order(id=2, label="other"))
            session.commit()
            revise(session, "r2: a note")
            order.notes["colour"] = "red"
            session.commit()
            revise(session, "r3: another order's note")
            session.get(Order, 2).notes["colour"] = "blue"
            session.commit()
            assert [r.message for r in order.all_related_revisions] == ["r2: a note", "r1"]
    finally:
        Base.metadata.drop_all(engine)
        _drop_schema(engine, schema)
