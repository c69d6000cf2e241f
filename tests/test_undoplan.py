"""Undo planning (vdm/undoplan.py), the core both backends undo with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from vdm import ConflictError, Operation
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
