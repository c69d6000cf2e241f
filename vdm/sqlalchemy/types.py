"""Column types vdm uses: states, operations, JSON stored as text."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import JSON, ColumnElement, Integer, String, Text, cast
from sqlalchemy.types import TypeDecorator

from vdm.naming import STATE_LENGTH
from vdm.operations import Operation
from vdm.states import State


class StateType(TypeDecorator[State]):
    """A ``state`` column: stores the text, returns :class:`vdm.State`."""

    impl = String(STATE_LENGTH)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else State.coerce(value).value

    def process_result_value(self, value: Any, dialect: Any) -> State | None:
        return None if value is None else State(value)


class OperationType(TypeDecorator[Operation]):
    """An ``operation_type`` column: stores 0/1/2, returns :class:`vdm.Operation`."""

    impl = Integer
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        return None if value is None else int(value)

    def process_result_value(self, value: Any, dialect: Any) -> Operation | None:
        return None if value is None else Operation(value)


class JSONText(TypeDecorator[Any]):
    """JSON kept in a text column, so every database and backend reads it alike."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else json.loads(value)


def comparable(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``column`` in a form every database can compare for equality.

    PostgreSQL has no ``=`` for ``json``.  A version holds the very text its
    live row held, so comparing JSON as text is exact; the rule is the same
    on every database.
    """
    if isinstance(column.type, JSON):
        return cast(column, Text)
    return column
