"""Model shapes, part 1: column types, keys, names and declarative idioms.

Each shape is a model declared the way applications declare them; each
test creates its tables, tells the same revision story (create two
objects, update one, delete the other, then change and create again) and
checks every history answer against a reference recording
(:mod:`shapes`), on every database of the matrix.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from shapes import Recorder
from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Boolean,
    Column,
    Computed,
    Date,
    DateTime,
    Double,
    Enum,
    Float,
    ForeignKey,
    Identity,
    Integer,
    Interval,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Time,
    Unicode,
    Uuid,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    MappedAsDataclass,
    Session,
    declared_attr,
    deferred,
    mapped_column,
)

from vdm import State
from vdm.naming import MAX_NAME_LENGTH
from vdm.sqlalchemy import Repository, Revision, Revisioned, Stateful


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


class TypesBase(DeclarativeBase):
    pass


class Gadget(Revisioned, Stateful, TypesBase):
    """Every column type SQLAlchemy ships, an Identity key and server defaults."""

    __tablename__ = "gadget"
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    uid: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    mood: Mapped[Mood] = mapped_column(Enum(Mood, name="gadget_mood"))
    price: Mapped[decimal.Decimal] = mapped_column(Numeric(10, 2))
    ratio: Mapped[float | None] = mapped_column(Float)
    big: Mapped[int | None] = mapped_column(BigInteger)
    flag: Mapped[bool] = mapped_column(Boolean, default=False)
    seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    day: Mapped[dt.date | None] = mapped_column(Date)
    clock: Mapped[dt.time | None] = mapped_column(Time)
    span: Mapped[dt.timedelta | None] = mapped_column(Interval)
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    doc: Mapped[Any] = mapped_column(JSON().with_variant(JSONB(), "postgresql"), nullable=True)
    note: Mapped[str | None] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(Unicode(40))
    kind: Mapped[str] = mapped_column(String(20), server_default=text("'plain'"))


def gadget(i: int) -> Gadget:
    # Bytes that are valid UTF-8: PyMySQL's batched INSERT of the live rows
    # (plain SQLAlchemy's, not vdm's) fails on others unless the URL sets
    # binary_prefix=true.
    return Gadget(
        mood=Mood.HAPPY, price=decimal.Decimal(f"{i}.25"), ratio=i / 4, big=2**40 + i,
        seen_at=dt.datetime(2024, 1, i, 12, 30, tzinfo=dt.UTC), day=dt.date(2024, 2, i),
        clock=dt.time(8, i), span=dt.timedelta(hours=i), blob=bytes([i, 0, 127]),
        data={"n": i, "tags": ["a", "b"]}, doc={"deep": {"i": i}}, note="é" * i,
        label=f"ünï{i}",
    )


def change_gadget(obj: Gadget) -> None:
    obj.mood = Mood.SAD
    obj.price = decimal.Decimal("99.99")
    obj.flag = True
    obj.data = {"n": 0}
    obj.blob = b"\x00changed"
    obj.kind = "fancy"


class Box(Revisioned, TypesBase):
    """A UUID key, a computed column, an ARRAY on PostgreSQL, a double."""

    __tablename__ = "box"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    w: Mapped[int]
    h: Mapped[int]
    area: Mapped[int] = mapped_column(Computed("w * h", persisted=True))
    depth: Mapped[float | None] = mapped_column(Double)
    sizes: Mapped[Any] = mapped_column(
        JSON().with_variant(ARRAY(Integer), "postgresql"), nullable=True)


class KeysBase(DeclarativeBase):
    pass


class Edition(Revisioned, Stateful, KeysBase):
    """A composite natural key, string first."""

    __tablename__ = "shape_edition"
    book: Mapped[str] = mapped_column(String(40), primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    pages: Mapped[int | None]


class Country(Revisioned, KeysBase):
    """A natural string key on a class that is not stateful (hard deletes)."""

    __tablename__ = "country"
    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class Serial(Revisioned, Stateful, KeysBase):
    """Key and columns whose attribute, column key and column name differ."""

    __tablename__ = "serial"
    ident: Mapped[int] = mapped_column("serial_ident", primary_key=True, key="ident_key")
    serial: Mapped[str] = mapped_column("serial_no", String(20), key="serial")
    title: Mapped[str | None] = mapped_column("title_text", String(40))


prefixed_table = Table(
    "prefixed", KeysBase.metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(40)),
    Column("state", String(8), nullable=False, default="active"),
    Column("revision_id", Integer, ForeignKey("revision.id"), index=True),
)


class Prefixed(Revisioned, Stateful, KeysBase):
    """``column_prefix``: every attribute differs from its column."""

    __table__ = prefixed_table
    __mapper_args__ = {"column_prefix": "_"}


class NamesBase(DeclarativeBase):
    pass


class Order(Revisioned, Stateful, NamesBase):
    """Reserved words as table and column names."""

    __tablename__ = "order"
    id: Mapped[int] = mapped_column(primary_key=True)
    user: Mapped[str] = mapped_column("user", String(20))
    group: Mapped[str | None] = mapped_column("group", String(20))
    select: Mapped[int | None] = mapped_column("select")


class MixedCase(Revisioned, NamesBase):
    """Quoted, mixed-case names with spaces."""

    __tablename__ = "Mixed Case"
    Id: Mapped[int] = mapped_column("Id", primary_key=True)
    value: Mapped[str] = mapped_column("Value Col", String(20))


LONG = "a_table_name_applications_generate_from_their_domain_model_x"
assert len(LONG) > 55


class LongNamed(Revisioned, Stateful, NamesBase):
    """A table name near the limit: vdm's derived names must still fit."""

    __tablename__ = LONG
    id: Mapped[int] = mapped_column(primary_key=True)
    a_rather_long_column_name_for_the_title_of_this_object: Mapped[str] = mapped_column(
        String(40), index=True)


class IdiomBase(DeclarativeBase):
    pass


class Audited:
    """A declared_attr mixin of the application's own."""

    @declared_attr
    def created_by(cls) -> Mapped[str | None]:
        return mapped_column(String(20))


class Named(IdiomBase):
    """An abstract base with shared columns."""

    __abstract__ = True
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class Note(Audited, Revisioned, Stateful, Named):
    """Mixins, an abstract base, a deferred column and a version_id_col."""

    __tablename__ = "note"
    body: Mapped[str | None] = deferred(mapped_column(Text))
    counter: Mapped[int] = mapped_column(nullable=False)
    __mapper_args__ = {"version_id_col": counter}


class DataBase(MappedAsDataclass, DeclarativeBase):
    pass


class Card(Revisioned, Stateful, DataBase):
    """A dataclass-mapped class: vdm's columns are not constructor arguments."""

    __tablename__ = "card"
    id: Mapped[int] = mapped_column(primary_key=True, init=False)
    title: Mapped[str] = mapped_column(String(40))
    rank: Mapped[int] = mapped_column(default=0)


@dataclass
class Shape:
    """One model shape: its class, how to make the i-th object and change one."""

    name: str
    cls: type
    make: Callable[[int], Any]
    change: Callable[[Any], None]


def _set(attr: str, value: Any) -> Callable[[Any], None]:
    return lambda obj: setattr(obj, attr, value)


SHAPES = [
    Shape("every column type", Gadget, gadget, change_gadget),
    Shape("uuid key, computed column, array", Box,
          lambda i: Box(id=uuid.UUID(int=i), w=i, h=2, depth=i / 3, sizes=[i, i]),
          _set("w", 7)),
    Shape("composite natural key", Edition,
          lambda i: Edition(book=f"book-{i}", number=i, pages=10 * i), _set("pages", 99)),
    Shape("natural string key, hard deletes", Country,
          lambda i: Country(code=f"c{i}", name=f"Country {i}"), _set("name", "renamed")),
    Shape("renamed key and columns", Serial,
          lambda i: Serial(ident=i, serial=f"S-{i}", title=f"t{i}"), _set("serial", "S-X")),
    Shape("column_prefix", Prefixed,
          lambda i: Prefixed(_id=i, _title=f"t{i}"), _set("_title", "changed")),
    Shape("reserved words", Order,
          lambda i: Order(user=f"u{i}", group="g", select=i), _set("user", "root")),
    Shape("quoted mixed case", MixedCase,
          lambda i: MixedCase(Id=i, value=f"v{i}"), _set("value", "V")),
    Shape("long names", LongNamed,
          lambda i: LongNamed(a_rather_long_column_name_for_the_title_of_this_object=f"t{i}"),
          _set("a_rather_long_column_name_for_the_title_of_this_object", "x")),
    Shape("mixins, abstract base, deferred, version_id_col", Note,
          lambda i: Note(name=f"n{i}", body=f"body {i}", created_by="me"),
          _set("body", "new body")),
    Shape("dataclass", Card, lambda i: Card(title=f"card {i}"), _set("rank", 5)),
]


def tell_story(recorder: Recorder, session: Session, shape: Shape) -> None:
    """Create two, update one, delete the other, then change and create again."""
    with recorder.revision(session, "create"):
        first, second = shape.make(1), shape.make(2)
        session.add_all([first, second])
    with recorder.revision(session, "update"):
        shape.change(first)
    stateful = shape.cls.__versioning__.stateful
    with recorder.revision(session, "delete"):
        if stateful:
            second.delete()
        else:
            session.delete(second)
    with recorder.revision(session, "more"):
        if stateful:
            second.undelete()
        session.add(shape.make(3))
        session.delete(first)


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_a_revision_story_on_each_shape_reads_back_as_recorded(engine, shape):
    metadata = shape.cls.metadata
    metadata.create_all(engine)
    recorder = Recorder(engine, metadata, [shape.cls])
    with Session(engine) as session:
        tell_story(recorder, session, shape)
    assert len(recorder.snapshots) == 4
    recorder.check()


def test_the_dataclass_constructor_takes_only_the_application_fields():
    card = Card(title="x")
    assert card.state is None or card.state == State.ACTIVE
    with pytest.raises(TypeError):
        Card(title="x", revision_id=3)  # type: ignore[call-arg]


def test_derived_names_fit_every_database(engine):
    NamesBase.metadata.create_all(engine)
    names = [LongNamed.__revision_class__.__table__.name]
    names += [ix.name for ix in LongNamed.__revision_class__.__table__.indexes]
    names += [fk.name for fk in LongNamed.__revision_class__.__table__.foreign_keys]
    assert all(len(n) <= MAX_NAME_LENGTH for n in names), names
    from sqlalchemy import inspect
    tables = set(inspect(engine).get_table_names())
    assert LongNamed.__revision_class__.__table__.name in tables
    assert "Mixed Case_revision" in tables and "order_revision" in tables


def test_a_foreign_key_declared_before_its_target_gets_the_target_type(engine):
    class Base(DeclarativeBase):
        pass

    class Line(Revisioned, Base):
        __tablename__ = "shape_line"
        id: Mapped[int] = mapped_column(primary_key=True)
        head_id: Mapped[str] = mapped_column(ForeignKey("shape_head.code"))

    # The target comes later, in another base sharing the metadata.
    class Other(DeclarativeBase):
        metadata = Base.metadata

    class Head(Revisioned, Other):
        __tablename__ = "shape_head"
        code: Mapped[str] = mapped_column(String(12), primary_key=True)

    version_column = Line.__revision_class__.__table__.c.head_id
    assert isinstance(version_column.type, String) and version_column.type.length == 12
    Base.metadata.create_all(engine)
    recorder = Recorder(engine, Base.metadata, [Head, Line])
    with Session(engine) as session:
        with recorder.revision(session, "create"):
            session.add_all([Head(code="h1"), Line(id=1, head_id="h1")])
        with recorder.revision(session, "repoint"):
            session.add(Head(code="h2"))
            session.flush()
            session.get(Line, 1).head_id = "h2"
    recorder.check()


def test_a_schema_of_its_own_holds_the_versioned_tables(engine, tmp_path):
    schema = "vdm_shapes_app"
    engine = _engine_with_schema(engine, schema, tmp_path)

    class Base(DeclarativeBase):
        metadata = MetaData(schema=schema)

    class Shelf(Revisioned, Stateful, Base):
        __tablename__ = "shelf"
        id: Mapped[int] = mapped_column(primary_key=True)
        label: Mapped[str] = mapped_column(String(20))

    class Item(Revisioned, Base):
        __tablename__ = "item"
        id: Mapped[int] = mapped_column(primary_key=True)
        shelf_id: Mapped[int] = mapped_column(ForeignKey("shelf.id"))

    assert Shelf.__revision_class__.__table__.schema == schema
    assert Base.metadata.tables["revision"].schema is None
    try:
        Base.metadata.create_all(engine)
        recorder = Recorder(engine, Base.metadata, [Shelf, Item])
        with Session(engine) as session:
            with recorder.revision(session, "create"):
                session.add(Shelf(id=1, label="a"))
                session.flush()
                session.add(Item(id=1, shelf_id=1))
            with recorder.revision(session, "update"):
                session.get(Shelf, 1).label = "b"
                session.delete(session.get(Item, 1))
        recorder.check()
    finally:
        Base.metadata.drop_all(engine)
        _drop_schema(engine, schema)


def _engine_with_schema(engine: Any, schema: str, tmp_path: Any) -> Any:
    """``engine`` with a schema named ``schema`` (an attached file on SQLite)."""
    from sqlalchemy import create_engine, event

    name = engine.dialect.name
    if name == "sqlite":
        attached = create_engine(engine.url)
        path = tmp_path / "app.db"

        @event.listens_for(attached, "connect")
        def attach(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.execute(f"ATTACH DATABASE '{path}' AS {schema}")

        return attached
    with engine.begin() as conn:
        if name == "postgresql":
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS {schema}"))
            conn.execute(text(f"CREATE DATABASE {schema}"))
    return engine


def _drop_schema(engine: Any, schema: str) -> None:
    name = engine.dialect.name
    if name == "sqlite":
        engine.dispose()
        return
    with engine.begin() as conn:
        if name == "postgresql":
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS {schema}"))


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_restore_and_purge_on_each_shape(engine, shape):
    metadata = shape.cls.metadata
    metadata.create_all(engine)
    recorder = Recorder(engine, metadata, [shape.cls])
    with Session(engine) as session:
        tell_story(recorder, session, shape)
    first, *_, last = sorted(recorder.snapshots)
    with Session(engine) as session:
        repo = Repository(metadata, session)
        session.revision = Revision(author="shapes", message="back to the start")
        repo.restore(first)
        session.commit()
    assert recorder.snapshot() == recorder.snapshots[first]
    with Session(engine) as session:
        repo = Repository(metadata, session)
        restored = repo.youngest_revision()
        repo.purge_revision(restored)
        assert repo.verify() == []
    assert recorder.snapshot() == recorder.snapshots[last]
    recorder.check()


def test_registry_mapped_classes_in_a_schema(engine, tmp_path):
    from sqlalchemy.orm import registry

    schema = "vdm_shapes_reg"
    engine = _engine_with_schema(engine, schema, tmp_path)
    reg = registry(metadata=MetaData(schema=schema))

    @reg.mapped
    class Plain(Revisioned, Stateful):
        __tablename__ = "plain"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(10))

    @reg.mapped_as_dataclass
    class Data(Revisioned, Stateful):
        __tablename__ = "data"
        id: Mapped[int] = mapped_column(primary_key=True, init=False)
        name: Mapped[str] = mapped_column(String(10), default="x")

    assert {fk.column.table.name for fk in Plain.__table__.foreign_keys} == {"revision"}
    assert reg.metadata.tables["revision"].schema is None
    try:
        reg.metadata.create_all(engine)
        recorder = Recorder(engine, reg.metadata, [Plain, Data])
        with Session(engine) as session:
            with recorder.revision(session, "create"):
                session.add_all([Plain(id=1, name="a"), Data(name="d")])
            with recorder.revision(session, "change"):
                session.get(Plain, 1).name = "b"
                session.get(Data, 1).delete()
        recorder.check()
    finally:
        reg.metadata.drop_all(engine)
        _drop_schema(engine, schema)


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_reverting_each_object_to_its_first_version(engine, shape):
    metadata = shape.cls.metadata
    metadata.create_all(engine)
    recorder = Recorder(engine, metadata, [shape.cls])
    with Session(engine) as session:
        tell_story(recorder, session, shape)
    first = min(recorder.snapshots)
    with Session(engine) as session:
        with recorder.revision(session, "revert everything created first"):
            for key in recorder.snapshots[first][shape.cls]:
                live = session.get(shape.cls, key if len(key) > 1 else key[0])
                version = (live.get_as_of(first) if live is not None else session.scalars(
                    select(shape.cls.__revision_class__)
                    .where(shape.cls.__versioning__.version_key_clause([key]))
                    .order_by(shape.cls.__revision_class__.revision_id)).first())
                version.revert()
    last = recorder.snapshots[max(recorder.snapshots)][shape.cls]
    for key, values in recorder.snapshots[first][shape.cls].items():
        assert last[key] == values
    recorder.check()
