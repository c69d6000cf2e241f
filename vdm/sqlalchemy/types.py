"""Column types vdm uses: states, operations, JSON stored as text."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Integer, String, Text
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
