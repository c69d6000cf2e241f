"""Column types vdm uses: states, operations, JSON stored as text."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import JSON, ColumnElement, Enum, Integer, Text, cast
from sqlalchemy.types import TypeDecorator

from vdm.naming import STATE_LENGTH
from vdm.states import State


def _state_values(states: type[State]) -> list[str]:
    return [s.value for s in states]


#: The type of a ``state`` column: stores the text, returns :class:`vdm.State`.
#: A plain SQLAlchemy ``Enum`` (a ``VARCHAR``: no database enum type and no
#: CHECK constraint), so that Alembic's autogenerate writes it into a
#: migration as ``sa.Enum(...)``, which runs without importing vdm.  An
#: instance, used as a type class would be: ``Column("state", StateType)``.
StateType = Enum(State, name="vdm_state", native_enum=False, create_constraint=False,
                 length=STATE_LENGTH, values_callable=_state_values, validate_strings=True)

#: The type of an ``operation_type`` column: 0, 1 or 2.  A plain ``Integer``,
#: which Alembic writes into migrations on its own; a version gives the
#: value back as :class:`vdm.Operation` (see :mod:`vdm.sqlalchemy.versions`).
OperationType = Integer


class JSONText(TypeDecorator[Any]):
    """JSON kept in a text column, so every database and backend reads it alike.

    Only vdm's own mapping of ``revision.extra`` uses it; the ``revision``
    table in an application's metadata (what Alembic sees) has a plain
    ``Text`` column, which holds the same text.
    """

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
