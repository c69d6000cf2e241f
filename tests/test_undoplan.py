"""Undo planning (vdm/undoplan.py, vdm/restoring.py), the core both backends undo with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from vdm import ConflictError, InvalidInputError, NotVersionedError, Operation, State
from vdm.restoring import (
    Reference,
    carry_out,
    check_no_dependants,
    describe,
    hold,
    restorable,
    restore_plan,
)
from vdm.sql import SQLITE, Params
from vdm.tables import TableRecord
from vdm.undoplan import UndoStep, plan_undo_step


@dataclass
class FakeVersion:
    field_values: dict[str, Any]
    revision_id: int = 5
    operation_type: Operation = Operation.UPDATE


class Book:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


FIELDS = ["title", "pages"]


def test_a_change_is_undone_field_by_field() -> None:
    before = FakeVersion({"title": "War", "pages": 1}, revision_id=2)
    written = FakeVersion({"title": "Peace", "pages": 1})
    step = plan_undo_step(written, before, Book(title="Peace", pages=3), FIELDS, "Book(id=1)", Book)
    assert step == UndoStep({"title": "War"}, whole=False)


def test_a_creation_is_undone_by_destroying_and_a_destruction_by_re_creating() -> None:
    created = FakeVersion({"title": "War", "pages": 1}, operation_type=Operation.INSERT)
    assert plan_undo_step(created, None, Book(title="War", pages=1), FIELDS, "Book(id=1)",
                          Book) == UndoStep(None, whole=True)
    before = FakeVersion({"title": "War", "pages": 1}, revision_id=2)
    destroyed = FakeVersion({"title": "War", "pages": 1}, operation_type=Operation.DELETE)
    assert plan_undo_step(destroyed, before, None, FIELDS, "Book(id=1)", Book) == UndoStep(
        {"title": "War", "pages": 1}, whole=True)


def test_a_later_change_to_the_same_field_is_a_conflict_with_its_data() -> None:
    before = FakeVersion({"title": "War", "pages": 1}, revision_id=2)
    written = FakeVersion({"title": "Peace", "pages": 1})
    live = Book(title="Peace!", pages=1)
    with pytest.raises(ConflictError) as caught:
        plan_undo_step(written, before, live, FIELDS, "Book(id=1)", Book)
    error = caught.value
    assert str(error) == ("cannot undo revision 5: a later revision also changed title of "
                          "Book(id=1); undo that one first or edit by hand")
    assert (error.obj, error.cls, error.revision, error.fields) == (live, Book, 5, ("title",))


# -- vdm/restoring.py ----------------------------------------------------------


@dataclass(eq=False)
class FakeVersioning:
    cls: type
    tables_record: TableRecord


LICENSE = FakeVersioning(Book, TableRecord("License", "license", "license_revision", ("id",)))
BOOK = FakeVersioning(Book, TableRecord("Book", "book", "book_revision", ("id",)))
BOOK_LICENSE = Reference(BOOK, LICENSE, ("license_id",), ("license",))


class FakeSql:
    """Answers every SELECT with ``found``; keeps the statements it was given."""

    dialect = SQLITE

    def __init__(self, found: list[tuple[Any, ...]]) -> None:
        self.found = found
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        self.asked.append((sql, dict(params or {})))
        return self.found

    def execute(self, sql: str, params: Params = None) -> int:
        raise AssertionError("checking never writes")


def test_a_row_kept_that_refers_to_an_object_the_undo_destroys_refuses_it() -> None:
    sql = FakeSql([(7, 2)])
    with pytest.raises(ConflictError) as caught:
        check_no_dependants(sql, 5, {LICENSE: {(2,): None}}, [BOOK_LICENSE])
    error = caught.value
    assert str(error) == ("cannot undo revision 5: it created License(id=2), which "
                          "Book(id=7) refers to since; undo or change that first")
    assert (error.cls, error.revision) == (Book, 5)
    assert sql.asked == [("SELECT id, license_id FROM book WHERE license_id IN (:k0_0) "
                          "ORDER BY id", {"k0_0": 2})]


def test_a_referring_row_the_undo_destroys_or_points_elsewhere_is_no_obstacle() -> None:
    sql = FakeSql([(7, 2)])
    check_no_dependants(sql, 5, {LICENSE: {(2,): None}, BOOK: {(7,): None}}, [BOOK_LICENSE])
    check_no_dependants(sql, 5, {LICENSE: {(2,): None}, BOOK: {(7,): {"license": 1}}},
                        [BOOK_LICENSE])
    with pytest.raises(ConflictError):
        check_no_dependants(sql, 5, {LICENSE: {(2,): None}, BOOK: {(7,): {"title": "War"}}},
                            [BOOK_LICENSE])


def test_nothing_destroyed_asks_nothing() -> None:
    sql = FakeSql([(7, 2)])
    check_no_dependants(sql, 5, {LICENSE: {(2,): {"name": "L"}}}, [BOOK_LICENSE])
    assert sql.asked == []


def test_composite_keys_are_matched_column_by_column() -> None:
    edition = FakeVersioning(Book, TableRecord("Edition", "edition", "edition_revision",
                                               ("isbn", "year")))
    review = FakeVersioning(Book, TableRecord("Review", "review", "review_revision", ("id",)))
    ref = Reference(review, edition, ("edition_isbn", "edition_year"), ("isbn", "year"))
    sql = FakeSql([])
    check_no_dependants(sql, 5, {edition: {("x", 1): None, ("y", 2): None}}, [ref])
    assert sql.asked == [(
        "SELECT id, edition_isbn, edition_year FROM review WHERE "
        "((edition_isbn = :k0_0 AND edition_year = :k0_1) OR "
        "(edition_isbn = :k1_0 AND edition_year = :k1_1)) ORDER BY id",
        {"k0_0": "x", "k0_1": 1, "k1_0": "y", "k1_1": 2})]
    assert describe(edition.tables_record, ("x", 1)) == "Edition(isbn='x', year=1)"


def test_restorable_refuses_classes_and_unversioned_objects() -> None:
    class Versioned:
        __versioning__ = BOOK

    assert restorable(Versioned()) is BOOK
    with pytest.raises(InvalidInputError, match="Versioned is a class; restore one of its"):
        restorable(Versioned)
    with pytest.raises(NotVersionedError, match="^Book is not versioned; restore objects"):
        restorable(Book(title="War"))


def test_hold_writes_only_what_differs() -> None:
    calls: list[tuple[str, Any]] = []

    def create(values: dict[str, Any]) -> Any:
        calls.append(("create", values))
        return Book(**values)

    def update(live: Any, changed: dict[str, Any]) -> None:
        calls.append(("update", changed))

    def destroy(live: Any) -> None:
        calls.append(("destroy", live))

    live = Book(title="War", pages=1)
    assert hold(live, {"title": "War", "pages": 2}, create, update, destroy) is live
    assert hold(live, {"title": "War", "pages": 1}, create, update, destroy) is live
    assert hold(None, None, create, update, destroy) is None
    assert hold(live, None, create, update, destroy) is None
    assert hold(None, {"title": "Peace"}, create, update, destroy).title == "Peace"
    assert calls == [("update", {"pages": 2}), ("destroy", live), ("create", {"title": "Peace"})]


def test_carry_out_writes_parents_first_and_destroys_children_first() -> None:
    written: list[tuple[str, Any]] = []
    plan = {"book": {(1,): None, (2,): {"t": 1}}, "license": {(3,): None, (4,): {"n": 1}}}
    carry_out(plan, ["license", "book"], lambda v, key, values: written.append((v, key)))
    assert written == [("license", (4,)), ("book", (2,)), ("book", (1,)), ("license", (3,))]


def test_objects_made_since_are_destroyed_and_the_others_come_back() -> None:
    then = {(1,): {"name": "a"}, (3,): {"name": "c"}}
    assert restore_plan([(1,), (2,)], then) == {(2,): None, (1,): then[(1,)], (3,): then[(3,)]}
    assert restore_plan([2], {}) == {2: None}


def test_links_made_since_are_only_marked_deleted() -> None:
    then = {(1,): {"tag": "a", "state": State.ACTIVE}}
    assert restore_plan([(1,), (2,)], then, mark_deleted=True) == {
        (2,): {"state": State.DELETED}, (1,): then[(1,)]}
