"""The :class:`vdm.sql.Sql` of a SQLAlchemy session or connection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from vdm.sql import MYSQL, Params, register_source


class SessionSql:
    """Runs the core's SQL text through a session (or connection), in its transaction."""

    def __init__(self, runner: Session | Connection) -> None:
        self.runner = runner
        bind = runner.get_bind() if isinstance(runner, Session) else runner
        name = bind.dialect.name
        #: MariaDB's own dialect name reads as MySQL: the SQL is the same.
        self.dialect = MYSQL if name == "mariadb" else name

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """See :meth:`vdm.sql.Sql.rows`."""
        return [tuple(r) for r in self.runner.execute(_text(sql), dict(params or {}))]

    def execute(self, sql: str, params: Params = None) -> int:
        """See :meth:`vdm.sql.Sql.execute`."""
        result: Any = self.runner.execute(_text(sql), dict(params or {}))
        return int(result.rowcount)

    def execute_many(self, sql: str, params: Sequence[Mapping[str, Any]]) -> None:
        """One ``executemany`` of ``sql`` (see :func:`vdm.sql.execute_many`)."""
        self.runner.execute(_text(sql), [dict(p) for p in params])


@lru_cache(maxsize=512)
def _text(sql: str) -> TextClause:
    # The core's statements repeat on every revision: parse each text once.
    return text(sql)


register_source(Session, SessionSql)
register_source(Connection, SessionSql)
