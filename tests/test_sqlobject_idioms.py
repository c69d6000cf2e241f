"""vdm.sqlobject as SQLObject users write it: cascades, joins, cache settings, createTable.

Each story is one a new SQLObject 3 user would try, one vdm Session per
request, on every database of the matrix.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlobject import (
    ForeignKey,
    IntCol,
    ManyToMany,
    MultipleJoin,
    SingleJoin,
    SQLObject,
    StringCol,
)
from sqlobject_models import new_session, so_connection  # noqa: F401 - fixtures

from vdm import ConfigurationError, ConflictError, MissingTableError, Operation, ReadOnlyError
from vdm.sqlobject import (
    Repository,
    Revision,
    Revisioned,
    Session,
    Stateful,
    add_stateful_versioned_m2m,
    create_tables,
)

REGISTRY = "vdm-idioms"


class Room(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        registry = REGISTRY

    name = StringCol(length=50, notNone=True)


class Shelf(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        registry = REGISTRY

    name = StringCol(length=50, notNone=True)
    room = ForeignKey("Room", default=None, cascade=True)


class Label(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        registry = REGISTRY

    text = StringCol(length=50, notNone=True)


class ShelfLabel(Revisioned, Stateful, SQLObject):
    """The versioned link: removing a shelf removes its labels (cascade)."""

    class sqlmeta:
        registry = REGISTRY

    shelf = ForeignKey("Shelf", notNone=True, cascade=True)
    label = ForeignKey("Label", notNone=True)


add_stateful_versioned_m2m(Shelf, ShelfLabel, "labels", "label", "shelf_labels")


class Counter(Revisioned, SQLObject):
    """A class that does not cache values: every read goes to the database."""

    class sqlmeta:
        registry = REGISTRY
        cacheValues = False

    name = StringCol(length=50, notNone=True)
    value = IntCol(default=0)


class Person(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        registry = REGISTRY

    name = StringCol(length=50, notNone=True)
    address = SingleJoin("Address", joinColumn="person_id")
    phones = MultipleJoin("Phone", joinColumn="person_id")


class Address(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        registry = REGISTRY

    street = StringCol(length=50, notNone=True)
    person = ForeignKey("Person", default=None)


class Phone(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        registry = REGISTRY

    number = StringCol(length=20, notNone=True)
    person = ForeignKey("Person", default=None)


class Reader(SQLObject):
    """A plain (not versioned) class with a plain ManyToMany."""

    class sqlmeta:
        registry = REGISTRY

    name = StringCol(length=50, notNone=True)
    clubs = ManyToMany("Club")


class Club(SQLObject):
    class sqlmeta:
        registry = REGISTRY

    name = StringCol(length=50, notNone=True)
    readers = ManyToMany("Reader")


MODEL = [Room, Shelf, Label, ShelfLabel, Counter, Person, Address, Phone, Reader, Club]


def rows(engine: Any, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


@pytest.fixture
def model(so_connection: Any) -> Any:
    create_tables(so_connection, MODEL)
    return so_connection


def request(new_session: Any, message: str, work: Any) -> Any:
    """One request: a fresh session, one revision, committed."""
    s: Session = new_session()
    s.revision = Revision(author="web", message=message)
    result = work(s)
    s.commit()
    s.close()
    return result


def furnished(new_session: Any) -> tuple[int, int]:
    """r1: room "study" with shelf "top" labelled "poetry" and "prose"."""
    def work(s: Session) -> tuple[int, int]:
        t = s.transaction
        room = Room(name="study", connection=t)
        shelf = Shelf(name="top", room=room, connection=t)
        shelf.labels = [Label(text="poetry", connection=t), Label(text="prose", connection=t)]
        return room.id, shelf.id
    return request(new_session, "r1", work)  # type: ignore[no-any-return]


# -- hard deletes of owners with versioned links -----------------------------------


@pytest.mark.parametrize("how", ["the shelf itself", "its room, cascading to the shelf"])
def test_a_fresh_session_hard_deletes_an_owner_with_links(model: Any, new_session: Any,
                                                          engine: Any, how: str) -> None:
    room_id, shelf_id = furnished(new_session)

    def work(s: Session) -> None:
        if how == "the shelf itself":
            s.get(Shelf, shelf_id).destroySelf()
        else:
            s.get(Room, room_id).destroySelf()

    request(new_session, "r2", work)
    assert rows(engine, "SELECT COUNT(*) FROM shelf") == [(0,)]
    assert rows(engine, "SELECT COUNT(*) FROM shelf_label") == [(0,)]
    assert rows(engine, "SELECT id, revision_id, expired_id, operation_type FROM "
                        "shelf_label_revision ORDER BY id, revision_id") == [
        (1, 1, 2, 0), (1, 2, None, 2), (2, 1, 2, 0), (2, 2, None, 2)]
    assert rows(engine, "SELECT text FROM label ORDER BY id") == [("poetry",), ("prose",)]
    assert Repository(model, MODEL).verify() == []


def test_an_owner_that_gained_a_link_after_the_session_read_its_links_is_a_conflict(
        model: Any, new_session: Any, engine: Any) -> None:
    _room_id, shelf_id = furnished(new_session)
    mine = new_session()
    shelf = mine.get(Shelf, shelf_id)
    assert [label.text for label in shelf.labels] == ["poetry", "prose"]

    def add_label(s: Session) -> None:
        s.get(Shelf, shelf_id).labels.append(Label(text="drama", connection=s.transaction))

    request(new_session, "r2", add_label)
    mine.revision = Revision(author="web", message="clear away")
    with pytest.raises(ConflictError) as caught:
        shelf.destroySelf()
    assert str(caught.value) == (
        "Shelf(id=1) gained ShelfLabel(id=3) in revision 2 after this session "
        "read it; reload it and decide again")
    assert caught.value.cls is Shelf and caught.value.revision == 2
    mine.rollback()
    assert rows(engine, "SELECT COUNT(*) FROM shelf_label") == [(3,)]
    assert rows(engine, "SELECT MAX(id) FROM revision") == [(2,)]


def test_a_session_that_read_the_links_and_added_one_itself_may_delete(
        model: Any, new_session: Any, engine: Any) -> None:
    _room_id, shelf_id = furnished(new_session)

    def work(s: Session) -> None:
        shelf = s.get(Shelf, shelf_id)
        assert len(shelf.labels) == 2
        shelf.labels.append(Label(text="drama", connection=s.transaction))
        shelf.destroySelf()

    request(new_session, "r2", work)
    assert rows(engine, "SELECT COUNT(*) FROM shelf_label") == [(0,)]
    assert Repository(model, MODEL).verify() == []


# -- ManyToMany --------------------------------------------------------------------


def test_a_many_to_many_on_a_versioned_class_is_refused_at_declaration() -> None:
    with pytest.raises(ConfigurationError) as caught:
        class Post(Revisioned, SQLObject):
            class sqlmeta:
                registry = REGISTRY

            title = StringCol(length=50)
            topics = ManyToMany("Topic")
    assert str(caught.value) == (
        "Post.topics is a ManyToMany: SQLObject writes its intermediate table "
        "with raw SQL and fires no events, so it cannot be versioned; declare an "
        "explicit link class (Revisioned, Stateful) and use "
        "vdm.sqlobject.add_stateful_versioned_m2m")

    class Post(Revisioned, SQLObject):  # type: ignore[no-redef]  # the corrected class
        class sqlmeta:
            registry = REGISTRY

            title = StringCol(length=50)


def test_create_tables_creates_a_plain_many_to_many_table(model: Any, engine: Any) -> None:
    reader = Reader(name="ann", connection=model)
    club = Club(name="poets", connection=model)
    # (Reading reader.clubs needs a process-wide connection, sqlhub: SQLObject's
    # ManyToMany selects without the instance's connection.)
    model._SO_intermediateInsert("club_reader", "reader_id", reader.id, "club_id", club.id)
    assert rows(engine, "SELECT club.name FROM club JOIN club_reader "
                        "ON club_reader.club_id = club.id") == [("poets",)]


# -- classes that do not cache values ----------------------------------------------


def test_no_lost_update_on_a_class_that_does_not_cache_values(model: Any, new_session: Any,
                                                               engine: Any) -> None:
    counter_id = request(new_session, "r1",
                         lambda s: Counter(name="hits", connection=s.transaction).id)
    a = new_session()
    mine = a.get(Counter, counter_id)
    seen = mine.value
    request(new_session, "r2", lambda s: s.get(Counter, counter_id).set(value=1))
    a.revision = Revision(author="a")
    with pytest.raises(ConflictError) as caught:
        mine.value = seen + 1
    assert str(caught.value).startswith(
        "Counter(id=1) was changed by revision 2 after this session read it (at revision 1)")
    a.rollback()
    assert rows(engine, "SELECT value, revision_id FROM counter") == [(1, 2)]
    # Read again after the rollback: the increment goes through.
    a.revision = Revision(author="a")
    mine.value = mine.value + 1
    a.commit()
    assert rows(engine, "SELECT value, revision_id FROM counter") == [(2, 3)]


def test_a_class_that_does_not_cache_values_writes_twice_in_one_revision(
        model: Any, new_session: Any, engine: Any) -> None:
    counter_id = request(new_session, "r1",
                         lambda s: Counter(name="hits", connection=s.transaction).id)

    def work(s: Session) -> None:
        counter = s.get(Counter, counter_id)
        counter.value = counter.value + 1
        counter.value = counter.value + 1
        counter.name = "visits"

    request(new_session, "r2", work)
    request(new_session, "r3", lambda s: s.get(Counter, counter_id).set(value=5))
    assert rows(engine, "SELECT revision_id, value, name FROM counter_revision "
                        "ORDER BY revision_id") == [(1, 0, "hits"), (2, 2, "visits"),
                                                    (3, 5, "visits")]
    assert Repository(model, MODEL).verify() == []


# -- a version's SingleJoin -------------------------------------------------------


def test_a_versions_single_join_is_one_object_or_none(model: Any, new_session: Any) -> None:
    person_id = request(new_session, "r1",
                        lambda s: Person(name="ann", connection=s.transaction).id)
    request(new_session, "r2", lambda s: Address(street="Elm St", person=s.get(Person, person_id),
                                                 connection=s.transaction))
    s = new_session()
    person = s.get(Person, person_id)
    assert person.address.street == "Elm St"
    assert person.get_as_of(1).address is None
    then = person.get_as_of(2).address
    assert then.street == "Elm St" and then.operation_type is Operation.INSERT
    assert person.get_as_of(2).phones == []


# -- tables created the SQLObject way ----------------------------------------------


class Memo(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        registry = REGISTRY

    body = StringCol(default=None)


def test_create_table_makes_what_vdm_needs(so_connection: Any, new_session: Any,
                                           engine: Any) -> None:
    Memo.createTable(connection=so_connection)
    Memo.createTable(ifNotExists=True, connection=so_connection)
    memo_id = request(new_session, "r1", lambda s: Memo(body="hi", connection=s.transaction).id)
    request(new_session, "r2", lambda s: s.get(Memo, memo_id).set(body="hello"))
    assert rows(engine, "SELECT id, body, revision_id, expired_id FROM memo_revision "
                        "ORDER BY revision_id") == [(1, "hi", 1, 2), (1, "hello", 2, None)]
    assert Repository(so_connection, [Memo]).verify() == []


def test_tables_made_without_vdm_are_named_at_the_first_write(
        so_connection: Any, new_session: Any, engine: Any) -> None:
    sql, _constraints = so_connection.createTableSQL(Memo)
    so_connection.query(sql)  # the live table only, as another tool would make it
    s = new_session()
    s.revision = Revision(author="me")
    with pytest.raises(MissingTableError) as caught:
        Memo(body="hi", connection=s.transaction)
    assert str(caught.value) == (
        "cannot version a new Memo: the database lacks 'revision', "
        "'revision_sequence'; create vdm's tables with "
        "vdm.sqlobject.create_tables(connection, [your classes]) or each class's "
        "createTable(), then roll back and write again")
    s.rollback()
    assert rows(engine, "SELECT COUNT(*) FROM memo") == [(0,)]


def test_a_missing_version_table_is_named_at_commit(so_connection: Any, new_session: Any,
                                                    engine: Any) -> None:
    Memo.createTable(connection=so_connection)
    so_connection.query("DROP TABLE memo_revision")
    s = new_session()
    s.revision = Revision(author="me")
    Memo(body="hi", connection=s.transaction)
    with pytest.raises(MissingTableError, match=r"^cannot version Memo: the database "
                                                r"lacks 'memo_revision'; "):
        s.commit()
    s.rollback()
    assert rows(engine, "SELECT COUNT(*) FROM memo") == [(0,)]
    assert rows(engine, "SELECT COUNT(*) FROM revision") == [(0,)]


# -- copying an object's columns ------------------------------------------------


def test_copying_sqlmeta_columns_names_the_bookkeeping_column(model: Any, new_session: Any,
                                                              engine: Any) -> None:
    def two(s: Session) -> tuple[int, int]:
        return (Person(name="ann", connection=s.transaction).id,
                Person(name="bob", connection=s.transaction).id)

    ann_id, _ = request(new_session, "r1", two)
    request(new_session, "r2", lambda s: s.get(Person, ann_id).set(name="ann b."))
    s = new_session()
    s.revision = Revision(author="me", message="copy ann onto bob")
    ann, bob = s.get(Person, 1), s.get(Person, 2)
    with pytest.raises(ReadOnlyError, match=r"^cannot write revision_id of Person\(id=2\): "):
        bob.set(**{name: getattr(ann, name) for name in ann.sqlmeta.columns})
    s.rollback()
    s.revision = Revision(author="me", message="copy ann onto bob")
    bob.set(**{name: getattr(ann, name) for name in ann.sqlmeta.columns
               if name != "revision_id"})
    s.commit()
    assert rows(engine, "SELECT id, name, revision_id FROM person ORDER BY id") == [
        (1, "ann b.", 2), (2, "ann b.", 3)]
    assert Repository(model, MODEL).verify() == []
