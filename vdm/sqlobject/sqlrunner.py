"""The :class:`vdm.sql.Sql` of an SQLObject connection or transaction.

SQLObject runs SQL text with values already in it; the ``:name``
placeholders of the core's SQL become literals quoted by the connection's
own ``sqlrepr`` (:func:`vdm.sqlobject.dialect.literal`).
"""

from __future__ import annotations

import re
from typing import Any

from sqlobject.dbconnection import DBAPI, Transaction

from vdm.sql import MYSQL, POSTGRESQL, SQLITE, Params, register_source
from vdm.sqlobject._compat import sqlobject  # noqa: F401 - before any SQLObject import
from vdm.sqlobject.dialect import db_name, literal

_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_DIALECTS = {"sqlite": SQLITE, "postgres": POSTGRESQL, "mysql": MYSQL}


class ConnectionSql:
    """Runs the core's SQL text on an SQLObject connection or transaction."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.dialect = _DIALECTS[db_name(conn)]

    def bind(self, sql: str, params: Params) -> str:
        """``sql`` with each ``:name`` replaced by the literal of ``params[name]``."""
        if not params:
            return sql
        values = dict(params)
        return _PLACEHOLDER.sub(lambda m: literal(self.conn, values[m.group(1)]), sql)

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """See :meth:`vdm.sql.Sql.rows`."""
        return [tuple(r) for r in self.conn.queryAll(self.bind(sql, params))]

    def execute(self, sql: str, params: Params = None) -> int:
        """See :meth:`vdm.sql.Sql.execute`."""
        statement = self.bind(sql, params)
        conn = self.conn
        if isinstance(conn, Transaction):
            conn.assertActive()
            return _counted(conn._dbConnection, conn._connection, statement)
        return int(conn._runWithConnection(
            lambda raw: _counted(conn, raw, statement)))


def _counted(dbconn: Any, raw: Any, statement: str) -> int:
    cursor = raw.cursor()
    try:
        dbconn._executeRetry(raw, cursor, statement)
        return int(cursor.rowcount)
    finally:
        cursor.close()


register_source(DBAPI, ConnectionSql)
register_source(Transaction, ConnectionSql)
