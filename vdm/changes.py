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
    "FieldChange",
    "FieldChanges",
    "Key",
    "ModelDiff",
    "ObjectChange",
    "RevisionChanges",
    "blame_fields",
    "classify_change",
    "diff_class",
    "field_changes",
    "undo_conflict",
    "undo_dependant_conflict",
]
