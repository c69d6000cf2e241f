"""The seam between vdm's core and its backends: SQL on the shared schema.

Both backends write the same tables (:mod:`vdm.naming`), so what history
means -- which version is current as of a revision, what a revision wrote,
what restoring or purging must change -- is written once, in core modules,
as SQL text over those tables.  A backend lends the core its connection
through one small object, a :class:`Sql`, that runs that text inside the
caller's own transaction (so the core sees what the unit of work has just
flushed, and nothing it writes escapes a rollback).

SQL text uses ``:name`` placeholders for values; a backend binds them the
way its ORM binds its own statements.  Identifiers (table and column names)
come from :mod:`vdm.naming` and the classes' declarations, never from user
input, so they are written into the text as they are.

A backend registers how to find a :class:`Sql` for the objects its users
hand vdm (a session, a connection, a versioned object) with
:func:`register_source`; core functions call :func:`sql_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from vdm.errors import InvalidInputError

#: The three databases vdm supports, as :attr:`Sql.dialect` names them.
SQLITE, POSTGRESQL, MYSQL = "sqlite", "postgresql", "mysql"

Params = Mapping[str, Any] | None


@runtime_checkable
class Sql(Protocol):
    """Runs SQL text on the caller's connection, inside its transaction."""

    #: ``"sqlite"``, ``"postgresql"`` or ``"mysql"`` (MariaDB included).
    dialect: str

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """The rows ``sql`` (a SELECT with ``:name`` placeholders) returns."""
        ...

    def execute(self, sql: str, params: Params = None) -> int:
        """Run ``sql`` (a write); return how many rows it changed."""
        ...


def scalar(sql: Sql, text: str, params: Params = None) -> Any:
    """The first column of the first row ``text`` returns, or None."""
    found = sql.rows(text, params)
    return found[0][0] if found else None


def execute_many(sql: Sql, text: str, params: Sequence[Mapping[str, Any]]) -> None:
    """Run ``text`` (a write) once for each of ``params``.

    A :class:`Sql` may offer ``execute_many(text, params)`` (one
    ``executemany`` of its driver: one round of statement processing);
    others run the statement once per parameter set.
    """
    if not params:
        return
    many = getattr(sql, "execute_many", None)
    if many is not None:
        many(text, params)
        return
    for one in params:
        sql.execute(text, one)


_SOURCES: list[tuple[type, Callable[[Any], Sql]]] = []


def register_source(kind: type, make: Callable[[Any], Sql]) -> None:
    """Let :func:`sql_of` turn an instance of ``kind`` into a :class:`Sql`.

    Each backend registers its session or connection types when it is
    imported; the later registration of the same type replaces the earlier.
    """
    _SOURCES[:] = [(k, m) for k, m in _SOURCES if k is not kind]
    _SOURCES.append((kind, make))
    _MAKERS.clear()


def _maker_for(kind: type) -> Callable[[Any], Sql] | None:
    for registered, make in _SOURCES:
        if issubclass(kind, registered):
            return make
    return None


#: The maker found for each concrete type: sql_of runs on every revision's
#: write path, and a runtime Protocol check is slow.
_MAKERS: dict[type, Callable[[Any], Sql] | None] = {}


def sql_of(source: Any) -> Sql:
    """The :class:`Sql` for ``source`` (a session or connection of a backend)."""
    kind = type(source)
    if kind not in _MAKERS:
        _MAKERS[kind] = _maker_for(kind)
    make = _MAKERS[kind]
    if make is not None:
        return make(source)
    if isinstance(source, Sql):
        return source
    raise InvalidInputError(
        f"vdm cannot read history through {type(source).__name__}; pass a "
        f"session (vdm.sqlalchemy) or a connection (vdm.sqlobject)"
    )
