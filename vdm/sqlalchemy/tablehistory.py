"""Change inspection on reflected tables: a revision's changes, diffs, blame.

The same questions as :mod:`vdm.sqlalchemy.inspection` answers for mapped
classes, asked of a :class:`~vdm.sqlalchemy.reflection.ReflectedModel`, so
that they work on any vdm database without its Python model (the ``vdm``
command line uses them)::

    model = ReflectedModel(connection)
    row_changes(model, 2)            # [RowChange(table, key, kind, fields)]
    diff_tables(model, 1, 3)         # [TableDiff(table, added, removed, changed)]
    blame_row(model, model.history("book"), (1,))   # RowBlame: field -> revision

Results are plain data whose ``as_dict()`` is ready for JSON.  Each reads
a constant number of set-based queries per versioned table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select

from vdm.changes import change_kind
from vdm.difftext import changed_fields
from vdm.errors import UnknownRowError
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID
from vdm.operations import Operation
from vdm.sqlalchemy.asof import current_as_of
from vdm.sqlalchemy.reflection import (
    Key,
    ReflectedHistory,
    ReflectedModel,
    RevisionRecord,
)

#: ``{field: (old, new)}``.
FieldChanges = dict[str, tuple[Any, Any]]


def _pairs(changes: FieldChanges) -> dict[str, dict[str, Any]]:
    return {name: {"old": old, "new": new} for name, (old, new) in changes.items()}


@dataclass(frozen=True)
class RowChange:
    """What one revision did to one row.

    ``kind`` is ``created``, ``updated``, ``deleted`` (state set to deleted),
    ``undeleted`` or ``destroyed`` (hard delete), as in
    :class:`vdm.sqlalchemy.ObjectChange`; ``fields`` maps each changed field
    to ``(old, new)``.
    """

    history: ReflectedHistory
    key: Key
    kind: str
    fields: FieldChanges

    @property
    def table(self) -> str:
        """The live table's name."""
        return self.history.name

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"table": self.table, "key": self.history.key_dict(self.key),
                "kind": self.kind, "fields": _pairs(self.fields)}


def _fields(history: ReflectedHistory, row: Mapping[Any, Any] | None) -> dict[str, Any] | None:
    if row is None or row[OPERATION_TYPE] == Operation.DELETE:
        return None
    return {name: row[name] for name in history.fields}


def _key(history: ReflectedHistory, row: Mapping[Any, Any]) -> Key:
    return tuple(row[name] for name in history.key_names)


def row_changes(model: ReflectedModel, revision_id: int) -> list[RowChange]:
    """Every row ``revision_id`` changed, by table and key: two queries per table.

    Raises :class:`vdm.RevisionNotFoundError` for an unknown revision.
    """
    model.revision(revision_id)
    found: list[RowChange] = []
    for history in model.histories:
        vt = history.version_table
        written = list(model.connection.execute(
            select(vt).where(vt.c[REVISION_ID] == revision_id)).mappings())
        if not written:
            continue
        before = {_key(history, row): row for row in model.connection.execute(
            select(vt).where(vt.c[EXPIRED_ID] == revision_id)).mappings()}
        for row in sorted(written, key=lambda r: _key(history, r)):
            key = _key(history, row)
            old = _fields(history, before.get(key))
            new = _fields(history, row)
            found.append(_classify(history, key, old, new))
    return found


def _classify(history: ReflectedHistory, key: Key,
              old: dict[str, Any] | None, new: dict[str, Any] | None) -> RowChange:
    kind, changes = change_kind(old, new, history.fields)
    return RowChange(history, key, kind, changes)


@dataclass
class TableDiff:
    """How one table differs between two revisions.

    ``added`` and ``removed`` map keys to the row's values (at the later,
    resp. the earlier revision); ``changed`` maps keys to ``{field: (old, new)}``.
    """

    history: ReflectedHistory
    added: dict[Key, dict[str, Any]] = field(default_factory=dict)
    removed: dict[Key, dict[str, Any]] = field(default_factory=dict)
    changed: dict[Key, FieldChanges] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    @property
    def table(self) -> str:
        """The live table's name."""
        return self.history.name

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        key = self.history.key_dict
        return {
            "added": [{"key": key(k), "values": v} for k, v in self.added.items()],
            "removed": [{"key": key(k), "values": v} for k, v in self.removed.items()],
            "changed": [{"key": key(k), "fields": _pairs(c)} for k, c in self.changed.items()],
        }


def rows_as_of(model: ReflectedModel, history: ReflectedHistory,
               revision_id: int) -> dict[Key, dict[str, Any]]:
    """Every row of ``history``'s table as of ``revision_id``: one query."""
    vt = history.version_table
    query = select(vt).where(current_as_of(vt, revision_id))
    rows = model.connection.execute(query).mappings()
    found = {_key(history, row): _fields(history, row) for row in rows}
    return {k: v for k, v in sorted(found.items()) if v is not None}


def diff_tables(model: ReflectedModel, a: int, b: int) -> list[TableDiff]:
    """How each table differs from revision ``a`` to ``b`` (unchanged ones left out).

    Raises :class:`vdm.RevisionNotFoundError` for an unknown revision.
    """
    model.revisions_by_id([a, b])
    found: list[TableDiff] = []
    for history in model.histories:
        old = rows_as_of(model, history, a)
        new = rows_as_of(model, history, b)
        diff = TableDiff(
            history,
            added={k: v for k, v in new.items() if k not in old},
            removed={k: v for k, v in old.items() if k not in new},
        )
        for key in old.keys() & new.keys():
            changes = changed_fields(old[key], new[key], history.fields)
            if changes:
                diff.changed[key] = {f: (o, n) for f, (o, n) in changes.items()}
        diff.changed = dict(sorted(diff.changed.items()))
        if diff:
            found.append(diff)
    return found


@dataclass(frozen=True)
class FieldBlame:
    """Who set one field's value, and when."""

    name: str
    value: Any
    revision: RevisionRecord

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"field": self.name, "value": self.value, "revision": self.revision.as_dict()}


@dataclass(frozen=True)
class RowBlame:
    """For each field of one row, the revision that set its latest value.

    ``destroyed_by`` is the revision that hard-deleted the row, if one did:
    the fields are then those of its last version.
    """

    history: ReflectedHistory
    key: Key
    fields: list[FieldBlame]
    destroyed_by: RevisionRecord | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "table": self.history.name,
            "key": self.history.key_dict(self.key),
            "destroyed_by": self.destroyed_by.as_dict() if self.destroyed_by else None,
            "fields": [f.as_dict() for f in self.fields],
        }


def blame_row(model: ReflectedModel, history: ReflectedHistory, key: Key) -> RowBlame:
    """Blame of the row ``key`` of ``history``'s table: two queries.

    Raises :class:`~vdm.sqlalchemy.reflection.UnknownRowError` when the table
    never held that key.
    """
    vt = history.version_table
    same_key = and_(*(vt.c[n] == v for n, v in zip(history.key_names, key, strict=True)))
    versions = list(model.connection.execute(
        select(vt).where(same_key).order_by(vt.c[REVISION_ID])).mappings())
    if not versions:
        raise UnknownRowError(
            f"{history.describe(key)} has no history: no revision ever wrote that key",
            table=history.name, key=key,
        )
    # As in field_history(): a field is blamed on the revision that last
    # gave it a different value, or that (re-)created the row.
    setters: dict[str, int] = {}
    last: dict[str, Any] | None = None
    values: dict[str, Any] = {}
    destroyed_by: int | None = None
    for row in versions:
        current = _fields(history, row)
        if current is None:
            destroyed_by = row[REVISION_ID]
            last = None
            continue
        destroyed_by = None
        for name, value in current.items():
            if last is None or last[name] != value:
                setters[name] = row[REVISION_ID]
        last = values = current
    wanted = [*setters.values(), *([destroyed_by] if destroyed_by is not None else [])]
    revisions = model.revisions_by_id(wanted)
    return RowBlame(
        history,
        key,
        [FieldBlame(name, values[name], revisions[setters[name]]) for name in history.fields],
        revisions[destroyed_by] if destroyed_by is not None else None,
    )
