"""What changed, as plain data: the results of change inspection.

Both backends answer the same questions (what did a revision change, how
does the model differ between two revisions, which revision set a field)
with these objects, so a command line or a web page shows either backend's
answer the same way.  This module only classifies values the backends
read; it imports neither ORM::

    >>> change = classify_change("Book", "book", (1,), ["id", "title"],
    ...                          {"id": 1, "title": "Anna"},
    ...                          {"id": 1, "title": "Anna K."}, key_names=("id",))
    >>> change.describe()
    'Book(id=1) updated: title'
    >>> change.fields
    {'title': ('Anna', 'Anna K.')}
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vdm.difftext import changed_fields
from vdm.errors import UnknownFieldError
from vdm.naming import STATE
from vdm.operations import Operation
from vdm.states import State

#: A primary key as a tuple of its column values (``(1,)`` for one column).
Key = tuple[Any, ...]
#: ``{field: (old, new)}``.
FieldChanges = dict[str, tuple[Any, Any]]

#: The kinds of change :class:`ObjectChange` reports.
KINDS = ("created", "updated", "deleted", "undeleted", "destroyed")


@dataclass(frozen=True)
class ObjectChange:
    """One object's change in one revision.

    ``kind`` is ``created``, ``updated``, ``deleted`` (state set to deleted),
    ``undeleted`` or ``destroyed`` (hard delete); ``fields`` maps each
    changed field to ``(old, new)``.  ``key_names`` (the names of the key
    columns) only serve :meth:`describe`.
    """

    class_name: str
    table: str
    key: Key
    kind: str
    fields: FieldChanges
    is_link: bool = False
    key_names: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def describe(self) -> str:
        """One line for people: ``Book(id=1) updated: title``."""
        names = self.key_names or tuple(f"k{i}" for i in range(len(self.key)))
        pairs = ", ".join(f"{n}={v!r}" for n, v in zip(names, self.key, strict=False))
        changed = ", ".join(self.fields) if self.kind == "updated" else ""
        return f"{self.class_name}({pairs}) {self.kind}" + (f": {changed}" if changed else "")

    def key_dict(self) -> dict[str, Any]:
        """``{"id": 1}``: the key with its column names (empty without ``key_names``)."""
        return dict(zip(self.key_names, self.key, strict=False))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data: table, key (by column name), kind and ``{field: {old, new}}``."""
        return {"table": self.table, "key": self.key_dict(), "kind": self.kind,
                "fields": field_pairs(self.fields)}


#: One row's change in one revision, as the command line reports it: an
#: :class:`ObjectChange` whose ``class_name`` is the table's name.
RowChange = ObjectChange


def field_pairs(changes: FieldChanges) -> dict[str, dict[str, Any]]:
    """``{field: {"old": old, "new": new}}``: changed fields as JSON-ready data."""
    return {name: {"old": old, "new": new} for name, (old, new) in changes.items()}


@dataclass
class RevisionChanges:
    """Everything one revision changed (``revision`` is the backend's Revision)."""

    revision: Any
    objects: list[ObjectChange] = field(default_factory=list)

    def of_kind(self, kind: str, links: bool = False) -> list[ObjectChange]:
        """The object (or, with ``links``, link) changes of one kind."""
        return [c for c in self.objects if c.kind == kind and c.is_link == links]

    @property
    def created(self) -> list[ObjectChange]:
        """Objects (not links) the revision created."""
        return self.of_kind("created")

    @property
    def updated(self) -> list[ObjectChange]:
        """Objects whose fields the revision changed (state changes excluded)."""
        return self.of_kind("updated")

    @property
    def deleted(self) -> list[ObjectChange]:
        """Objects the revision deleted, softly or for good."""
        return self.of_kind("deleted") + self.of_kind("destroyed")

    @property
    def links_added(self) -> list[ObjectChange]:
        """Links created or undeleted by the revision."""
        return self.of_kind("created", True) + self.of_kind("undeleted", True)

    @property
    def links_removed(self) -> list[ObjectChange]:
        """Links deleted (softly or for good) by the revision."""
        return self.of_kind("deleted", True) + self.of_kind("destroyed", True)

    def sort(self) -> None:
        """Order the changes: objects before links, then by class and key."""
        self.objects.sort(key=lambda c: (c.is_link, c.class_name, repr(c.key)))


def classify_change(
    class_name: str, table: str, key: Key, fields: Sequence[str],
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None,
    is_link: bool = False, key_names: Sequence[str] = (),
) -> ObjectChange:
    """The :class:`ObjectChange` from values ``old`` to ``new``.

    ``old`` is None when the object did not exist before the revision,
    ``new`` is None when the revision destroyed it (a delete version).
    """
    kind, diff = change_kind(old, new, fields)
    return ObjectChange(class_name, table, key, kind, diff, is_link, tuple(key_names))


def change_kind(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None,
                fields: Sequence[str]) -> tuple[str, dict[str, tuple[Any, Any]]]:
    """What a revision did to one object or row, from values ``old`` to ``new``.

    Returns one of :data:`KINDS` and ``{field: (old, new)}`` of the fields
    that changed (empty when it was destroyed).
    """
    if new is None:
        return "destroyed", {}
    diff = {f: (a, b) for f, (a, b) in changed_fields(old, new, list(fields)).items()}
    if old is None:
        return "created", diff
    if STATE in diff and diff[STATE][1] == State.DELETED:
        return "deleted", diff
    if STATE in diff and diff[STATE][1] == State.ACTIVE:
        return "undeleted", diff
    return "updated", diff


@dataclass
class ClassDiff:
    """How one class differs between two revisions."""

    added: list[Key] = field(default_factory=list)
    removed: list[Key] = field(default_factory=list)
    changed: dict[Key, FieldChanges] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass
class ModelDiff:
    """The whole model's differences from revision ``a`` to revision ``b``."""

    a: int
    b: int
    classes: dict[str, ClassDiff] = field(default_factory=dict)


def diff_class(old: Mapping[Key, Mapping[str, Any]], new: Mapping[Key, Mapping[str, Any]],
               fields: Sequence[str]) -> ClassDiff:
    """The :class:`ClassDiff` between two ``{key: values}`` snapshots of one class."""
    diff = ClassDiff(
        added=sorted(set(new) - set(old), key=repr),
        removed=sorted(set(old) - set(new), key=repr),
    )
    for key in sorted(set(old) & set(new), key=repr):
        changed = {f: (o, n) for f, (o, n) in
                   changed_fields(old[key], new[key], list(fields)).items()}
        if changed:
            diff.changed[key] = changed
    return diff


@dataclass
class TableDiff:
    """How one table differs between two revisions, with the rows' values.

    ``added`` and ``removed`` map keys (in key order) to the row's values
    (at the later, resp. the earlier revision); ``changed`` maps keys to
    ``{field: (old, new)}``; ``key_names`` name the key's columns.
    """

    table: str
    key_names: tuple[str, ...]
    added: dict[Key, dict[str, Any]] = field(default_factory=dict)
    removed: dict[Key, dict[str, Any]] = field(default_factory=dict)
    changed: dict[Key, FieldChanges] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def key_dict(self, key: Key) -> dict[str, Any]:
        """``{"id": 1}``: a key with its column names."""
        return dict(zip(self.key_names, key, strict=True))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        key = self.key_dict
        return {
            "added": [{"key": key(k), "values": v} for k, v in self.added.items()],
            "removed": [{"key": key(k), "values": v} for k, v in self.removed.items()],
            "changed": [{"key": key(k), "fields": field_pairs(c)}
                        for k, c in self.changed.items()],
        }


def diff_table(table: str, key_names: Sequence[str],
               old: Mapping[Key, dict[str, Any]], new: Mapping[Key, dict[str, Any]],
               fields: Sequence[str]) -> TableDiff:
    """The :class:`TableDiff` between two ``{key: values}`` snapshots of one table.

    What differs is decided by :func:`diff_class`; rows come in key order.
    """
    differs = diff_class(old, new, fields)
    added, removed = set(differs.added), set(differs.removed)
    return TableDiff(
        table, tuple(key_names),
        added={k: new[k] for k in sorted(added)},
        removed={k: old[k] for k in sorted(removed)},
        changed=dict(sorted(differs.changed.items())),
    )


def diff_views(view_a: Any, view_b: Any, versionings: Iterable[Any]) -> ModelDiff:
    """The :class:`ModelDiff` between two as-of views of the model (both backends).

    A view has ``revision_id`` and ``all(cls)`` (every version of the class
    and its subclasses as of it); each versioning has ``cls``, ``name`` and
    ``fields``.  A class keeps only its own versions, not its subclasses'.
    """
    result = ModelDiff(view_a.revision_id, view_b.revision_id)
    for v in versionings:
        old, new = ({x.object_key: x.field_values for x in view.all(v.cls)
                     if type(x).__versioning__ is v} for view in (view_a, view_b))
        diff = diff_class(old, new, list(v.fields))
        if diff:
            result.classes[v.name] = diff
    return result


def check_field(versioning: Any, obj: Any, field_name: str) -> None:
    """Refuse a ``field_name`` that is not a versioned field of ``obj``'s class."""
    if field_name not in versioning.fields:
        raise UnknownFieldError(
            f"{versioning.name} has no versioned field {field_name!r}; "
            f"choose one of {', '.join(versioning.fields)}", obj=obj, field=field_name)


@dataclass(frozen=True)
class FieldChange:
    """One revision's change of one field."""

    revision: Any
    old: Any
    new: Any


def field_changes(versions: Iterable[Any], field_name: str,
                  revision_of: Callable[[Any], Any] | None = None) -> list[FieldChange]:
    """The changes of ``field_name`` along ``versions`` (oldest first).

    A version needs ``operation_type`` and the field as an attribute;
    ``revision_of(version)`` gives its revision (default: ``version.revision``).
    A value set again after a hard delete counts as a change.
    """
    changes: list[FieldChange] = []
    alive = False
    previous: Any = None
    for version in versions:
        if version.operation_type == Operation.DELETE:
            alive = False
            continue
        value = getattr(version, field_name)
        if not alive or value != previous:
            revision = revision_of(version) if revision_of is not None else version.revision
            changes.append(FieldChange(revision, previous if alive else None, value))
        alive, previous = True, value
    return changes


def blame_fields(versions: Sequence[Any], fields: Iterable[str],
                 revision_of: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """For each of ``fields``, the revision that last set its value along ``versions``."""
    result = {}
    for name in fields:
        changes = field_changes(versions, name, revision_of)
        if changes:
            result[name] = changes[-1].revision
    return result


def iso_utc(when: dt.datetime | None) -> str | None:
    """``2024-05-01T12:00:00+00:00`` for a naive UTC timestamp (None stays None)."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.isoformat()


@dataclass(frozen=True)
class RevisionRecord:
    """One row of the ``revision`` table, as plain data."""

    id: int
    timestamp: dt.datetime | None
    author: str | None
    message: str | None
    state: str
    extra: Any

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> RevisionRecord:
        """The record of a ``revision`` row read by column name (``extra``
        decoded from JSON text when it is some; no ``state`` reads as active)."""
        extra = row.get("extra")
        if isinstance(extra, str):
            try:
                extra = json.loads(extra)
            except ValueError:
                pass  # not JSON after all: show the text as it is
        state = row.get("state")
        return cls(
            id=int(row["id"]),
            timestamp=row.get("timestamp"),
            author=row.get("author"),
            message=row.get("message"),
            state=str(state) if state is not None else "active",
            extra=extra,
        )

    def as_dict(self) -> dict[str, Any]:
        """The revision as JSON-ready data (timestamp in ISO 8601, UTC)."""
        return {
            "id": self.id,
            "timestamp": iso_utc(self.timestamp),
            "author": self.author,
            "message": self.message,
            "state": self.state,
            "extra": self.extra,
        }


@dataclass(frozen=True)
class FieldBlame:
    """Who set one field's value, and when (``revision`` a :class:`RevisionRecord`)."""

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

    table: str
    key_names: tuple[str, ...]
    key: Key
    fields: list[FieldBlame]
    destroyed_by: RevisionRecord | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "table": self.table,
            "key": dict(zip(self.key_names, self.key, strict=True)),
            "destroyed_by": self.destroyed_by.as_dict() if self.destroyed_by else None,
            "fields": [f.as_dict() for f in self.fields],
        }


def undo_conflict(where: str, revision_id: int, old: Mapping[str, Any] | None,
                  new: Mapping[str, Any] | None,
                  now: Mapping[str, Any] | None) -> tuple[str, tuple[str, ...]] | None:
    """Why undoing one object's change in ``revision_id`` would guess, or None.

    ``old`` and ``new`` are the object's values before and after the
    revision (None: it did not exist), ``now`` its current values (None:
    it does not exist); ``where`` names it (``Book(id=1)``).  Returns the
    message and the conflicting fields.
    """
    if new is None:
        if now is not None:
            return (f"cannot undo revision {revision_id}: it destroyed {where}, "
                    f"which a later revision re-created; restore it by hand", tuple(now))
        return None
    if now is None:
        return (f"cannot undo revision {revision_id}: {where} was destroyed "
                f"by a later revision", ())
    changed_by_it = [f for f in now if old is None or old.get(f) != new.get(f)]
    later = tuple(f for f in changed_by_it if now[f] != new.get(f))
    if later:
        return (f"cannot undo revision {revision_id}: a later revision also "
                f"changed {', '.join(later)} of {where}; undo that one first or edit by hand",
                later)
    return None


def undo_dependant_conflict(where: str, revision_id: int, dependant: str) -> str:
    """Why undoing the creation of ``where`` would break ``dependant``, which refers to it."""
    return (f"cannot undo revision {revision_id}: it created {where}, which "
            f"{dependant} refers to since; undo or change that first")


__all__ = [
    "KINDS",
    "ClassDiff",
    "FieldBlame",
    "FieldChange",
    "FieldChanges",
    "Key",
    "ModelDiff",
    "ObjectChange",
    "RevisionChanges",
    "RevisionRecord",
    "RowBlame",
    "RowChange",
    "TableDiff",
    "blame_fields",
    "classify_change",
    "diff_class",
    "diff_table",
    "field_pairs",
    "iso_utc",
    "field_changes",
    "undo_conflict",
    "undo_dependant_conflict",
]
