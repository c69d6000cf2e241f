"""The little SQL vdm writes by hand, per database SQLObject speaks to.

SQLObject's public connection API runs SQL text (``query``, ``queryAll``);
values become literals through the connection's own ``sqlrepr``, so they
are quoted exactly as SQLObject quotes its own statements.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from enum import Enum
from functools import partial
from typing import Any

from vdm.errors import ConfigurationError
from vdm.revisionlife import as_datetime as as_datetime
from vdm.revisionlife import json_text as json_text
from vdm.versionwrite import chunks as key_chunks

#: Keys per statement; keeps IN lists well inside every database's limits.
CHUNK = 500

#: How SQLObject names each database (``connection.dbName``).
SQLITE, POSTGRES, MYSQL = "sqlite", "postgres", "mysql"


def db_name(conn: Any) -> str:
    """``sqlite``, ``postgres`` or ``mysql`` for an SQLObject connection."""
    name = str(conn.dbName)
    if name not in (SQLITE, POSTGRES, MYSQL):
        raise ConfigurationError(
            f"vdm.sqlobject supports SQLite, PostgreSQL and MySQL/MariaDB, "
            f"not {name!r}; use one of those databases"
        )
    return name


def literal(conn: Any, value: Any) -> str:
    """``value`` as an SQL literal for ``conn``."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, dt.datetime):
        return "'" + value.strftime("%Y-%m-%d %H:%M:%S.%f") + "'"
    return str(conn.sqlrepr(value))


def from_json_text(value: Any) -> Any:
    """The inverse of :func:`json_text`."""
    return None if value is None else json.loads(value)


def timestamp_type(conn: Any) -> str:
    """The column type of ``revision.timestamp`` (microseconds everywhere)."""
    return {
        SQLITE: "DATETIME",
        POSTGRES: "TIMESTAMP WITHOUT TIME ZONE",
        MYSQL: "DATETIME(6)",
    }[db_name(conn)]


def in_clause(conn: Any, column: str, values: Sequence[Any]) -> str:
    """``column IN (...)`` with literals."""
    return f"{column} IN ({', '.join(literal(conn, v) for v in values)})"


#: :func:`vdm.versionwrite.chunks` of :data:`CHUNK`.
chunks = partial(key_chunks, size=CHUNK)


def table_exists(conn: Any, table: str) -> bool:
    """Whether ``table`` exists (SQLObject's own check)."""
    return bool(conn.tableExists(table))
