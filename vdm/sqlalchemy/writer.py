"""Writing version rows: the core's SQL on SQLAlchemy's tables.

The flush hooks (:mod:`vdm.sqlalchemy.session`) only record which keys of
which versioned table were inserted, updated or deleted; the core writes
their versions (:func:`vdm.versionwrite.write_versions`, a constant number
of statements per table) and takes back those that changed nothing
(:func:`vdm.noopversions.drop_net_no_ops`).  :func:`versioned_table` names
a table for that SQL as SQLAlchemy would: quoted as the dialect quotes,
with its schema, and key values converted by the key columns' types.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import JSON
from sqlalchemy.engine import Dialect

from vdm.naming import REVISION_ID, STATE
from vdm.versionwrite import VersionedTable
from vdm.versionwrite import cached_on as cached_on
from vdm.versionwrite import chunks as key_chunks

#: Keys per statement; keeps IN lists well inside every database's limits.
CHUNK = 1000


#: :func:`vdm.versionwrite.chunks` of :data:`CHUNK`.
chunks = partial(key_chunks, size=CHUNK)


def versioned_table(dialect: Dialect, versioning: Any) -> VersionedTable:
    """The tables of ``versioning`` (a class's, or an association's) as
    ``dialect``'s SQL names them; built once per dialect."""
    return cached_on(versioning, f"_vdm_table_{dialect.name}",
                     lambda: _describe(dialect, versioning))


def _describe(dialect: Dialect, v: Any) -> VersionedTable:
    names = dialect.identifier_preparer
    live = v.table
    keys = [live.c[n] for n in v.key_names]
    # A subclass's table in joined inheritance is copied with its base
    # row's revision and state (see vdm.sqlalchemy.inheritance).
    joined = getattr(v, "joined_subclass", False)
    processors = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in keys]
    return VersionedTable(
        table=names.format_table(live), version_table=names.format_table(v.version_table),
        key_columns=tuple(names.quote(c.name) for c in keys),
        columns=tuple(names.quote(c.name) for c in live.c if c.key != REVISION_ID),
        stamped=REVISION_ID in live.c, stateful=STATE in live.c,
        base=versioned_table(dialect, v.root) if joined else None,
        as_text=frozenset(names.quote(c.name) for c in live.c if isinstance(c.type, JSON)),
        bind_key=partial(_bind_key, processors) if any(processors) else None,
    )


def _bind_key(processors: list[Any], key: tuple[Any, ...]) -> tuple[Any, ...]:
    """``key`` as its columns' types bind it (a UUID stored as text...)."""
    return tuple(v if p is None else p(v) for p, v in zip(processors, key, strict=True))
