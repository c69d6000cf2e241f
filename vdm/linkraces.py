"""Concurrent writers of one owner's versioned links: the reads and the refusals.

Two writers may each add a link from one owner to one target (or the same
key of a map), or one may destroy an owner that the other is linking to.
The stale-write check of an object cannot see this, because a new link row
was never read.  The reads here lock what they read (``FOR UPDATE``, the
owner first, so writers linking to one owner take turns); locking reads see
the latest committed data on every database.  They run through
:mod:`vdm.sql` in the writer's own transaction; a backend decides when to
call them.
"""

from __future__ import annotations

from typing import Any

from vdm.errors import ConflictError
from vdm.naming import REVISION_ID
from vdm.sql import SQLITE, Sql


def _locked(sql: Sql) -> str:
    # SQLite locks the whole file for a writer; it has no FOR UPDATE.
    return "" if sql.dialect == SQLITE else " FOR UPDATE"


def lock_owner(sql: Sql, spec: Any, owner_key: tuple[Any, ...]) -> bool:
    """Lock the live row of ``spec``'s owner ``owner_key``; False if it is gone."""
    record = spec.owner.tables_record
    where = " AND ".join(f"{col} = :key_{i}" for i, col in enumerate(record.key_columns))
    params = {f"key_{i}": value for i, value in enumerate(owner_key)}
    return bool(sql.rows(f"SELECT {record.key_columns[0]} FROM {record.table} "
                         f"WHERE {where}{_locked(sql)}", params))


def owner_links(sql: Sql, spec: Any, owner_key: tuple[Any, ...],
                column: str | None = None, value: Any = None) -> list[tuple[Any, ...]]:
    """``(link key..., revision_id)`` of the live link rows of owner ``owner_key``,
    locked; only those whose ``column`` holds ``value`` when ``column`` is given."""
    record = spec.link.tables_record
    where, params = spec.of_owner(owner_key)
    if column is not None:
        where, params = f"{where} AND {column} = :value", {**params, "value": value}
    return sql.rows(f"SELECT {', '.join(record.key_columns)}, {REVISION_ID} FROM "
                    f"{record.table} WHERE {where}{_locked(sql)}", params)


def owner_deleted(owner: Any, described: str) -> ConflictError:
    """The refusal of a link to an owner another writer has deleted."""
    return ConflictError(
        f"{described} was deleted by another transaction after this session read "
        f"it; reload your data and decide again", cls=owner.cls,
    )


def duplicate_link(spec: Any, described: str, what: str, revision_id: Any) -> ConflictError:
    """The refusal of a second link (or map row) of owner ``described`` for ``what``."""
    return ConflictError(
        f"{described} already has a {spec.link.tables_record.name} for {what} "
        f"(written by revision {revision_id}); reload "
        f"{spec.owner.tables_record.name}.{spec.attr_name} and apply your change again",
        cls=spec.link.cls, revision=revision_id,
    )


def links_gained(owner: Any, described: str, link_described: str,
                 revision_id: Any) -> ConflictError:
    """The refusal to destroy an owner that gained a link this session never read."""
    return ConflictError(
        f"{described} gained {link_described} in revision {revision_id} after this "
        f"session read it; reload it and decide again",
        cls=owner.cls, revision=revision_id,
    )
