"""Reading history rows straight from the database, for assertions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of a raw SQL query, as tuples."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def version_rows(engine: Engine, table: str, columns: str = "id, revision_id, expired_id, operation_type") -> list[tuple[Any, ...]]:
    """Every row of ``<table>_revision``, ordered by key and revision."""
    return rows(engine, f"SELECT {columns} FROM {table}_revision ORDER BY id, revision_id")


def revision_ids(engine: Engine) -> list[int]:
    """Ids of the revision table, ascending."""
    return [r[0] for r in rows(engine, "SELECT id FROM revision ORDER BY id")]
