"""Addresses of the pages and the foreign keys between versioned tables.

Every page has a permalink built here, so pages, JSON and tests agree on
them.  A key appears in an address as its values comma-separated in key
column order, as ``vdm blame`` takes it (``/object/edition/warandpeace,1``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from vdm.sqlalchemy.reflection import Key, ReflectedHistory, ReflectedModel


def key_text(key: Sequence[Any]) -> str:
    """``1`` or ``warandpeace,1``: a key as addresses write it."""
    return ",".join(str(value) for value in key)


def _key_path(key: Sequence[Any]) -> str:
    return quote(key_text(key), safe=",")


def with_query(path: str, params: Mapping[str, Any]) -> str:
    """``path`` with the parameters that have a value as its query string."""
    kept = {name: value for name, value in params.items() if value not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def log_url(**filters: Any) -> str:
    """The revision log, filtered (author, since, until, table, before, limit)."""
    return with_query("/", filters)


def revision_url(revision_id: int) -> str:
    """One revision."""
    return f"/revision/{revision_id}"


def object_url(table: str, key: Sequence[Any]) -> str:
    """One object's history."""
    return f"/object/{quote(table)}/{_key_path(key)}"


def diff_url(table: str, key: Sequence[Any], a: int | None = None, b: int | None = None) -> str:
    """One object compared between revisions ``a`` and ``b``."""
    return with_query(f"/diff/{quote(table)}/{_key_path(key)}", {"from": a, "to": b})


def model_url(revision_id: int, table: str | None = None,
              key: Sequence[Any] | None = None, offset: int = 0) -> str:
    """The model as of a revision: its tables, one table, or one row."""
    path = f"/model/{revision_id}"
    if table is not None:
        path += f"/{quote(table)}"
        if key is not None:
            path += f"/{_key_path(key)}"
    return with_query(path, {"offset": offset or None})


@dataclass(frozen=True)
class Reference:
    """Columns ``columns`` of ``source``'s table hold a key of ``target``'s table."""

    source: ReflectedHistory
    columns: tuple[str, ...]
    target: ReflectedHistory

    def key_in(self, values: Mapping[str, Any]) -> Key | None:
        """The target's key in the row ``values`` (None when a column is null)."""
        key = tuple(values.get(c) for c in self.columns)
        return None if any(v is None for v in key) else key


def references(model: ReflectedModel) -> list[Reference]:
    """Every foreign key from a versioned table to the key of a versioned table.

    Read from the live tables (version tables have no foreign keys to
    them, so that history survives erased rows).
    """
    found: list[Reference] = []
    for source in model.histories:
        for constraint in source.table.foreign_key_constraints:
            target = model.by_name.get(constraint.referred_table.name)
            if target is None:
                continue
            pairs = {e.column.name: e.parent.name for e in constraint.elements}
            if sorted(pairs) != sorted(target.key_names):
                continue
            columns = tuple(pairs[name] for name in target.key_names)
            found.append(Reference(source, columns, target))
    return found


def outgoing(model: ReflectedModel, history: ReflectedHistory) -> list[Reference]:
    """The references from ``history``'s table to others (and itself)."""
    return [r for r in references(model) if r.source is history]


def incoming(model: ReflectedModel, history: ReflectedHistory) -> list[Reference]:
    """The references to ``history``'s table: its links and the rows pointing at it."""
    return [r for r in references(model) if r.target is history]
