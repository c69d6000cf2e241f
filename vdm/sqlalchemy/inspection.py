"""Change inspection: what a revision changed, model diffs, blame.

All results are plain data (dataclasses), so a command line or a web page
can show them::

    changes = changes_in(session, 2)      # RevisionChanges
    [c.describe() for c in changes.objects]
    diff = diff_model(session, 1, 3)      # ModelDiff: added/removed/changed per class
    blame(book)                           # {"title": Revision, ...}
    field_history(book, "title")          # [FieldChange(revision, old, new), ...]

Every function reads one or two set-based queries per versioned class.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from vdm.difftext import changed_fields
from vdm.errors import VdmError
from vdm.naming import EXPIRED_ID, REVISION_ID, STATE
from vdm.operations import Operation
from vdm.sqlalchemy.asof import RevisionRef, resolve_revision
from vdm.sqlalchemy.mapping import Key, Versioning, versioned_mappers, versioning_of
from vdm.sqlalchemy.revision import Revision
from vdm.sqlalchemy.timetravel import ModelAsOf
from vdm.sqlalchemy.versions import Version
from vdm.states import State

#: The kinds of change :class:`ObjectChange` reports.
KINDS = ("created", "updated", "deleted", "undeleted", "destroyed")


@dataclass(frozen=True)
class ObjectChange:
    """One object's change in one revision.

    ``kind`` is ``created``, ``updated``, ``deleted`` (state set to deleted),
    ``undeleted`` or ``destroyed`` (hard delete); ``fields`` maps each
    changed field to ``(old, new)``.
    """

    class_name: str
    table: str
    key: Key
    kind: str
    fields: dict[str, tuple[Any, Any]]
    is_link: bool = False

    def describe(self) -> str:
        """One line for people: ``Book(id=1) updated: title``."""
        pairs = ", ".join(f"{n}={v!r}" for n, v in zip(self._key_names(), self.key, strict=False))
        names = ", ".join(self.fields) if self.kind == "updated" else ""
        return f"{self.class_name}({pairs}) {self.kind}" + (f": {names}" if names else "")

    def _key_names(self) -> list[str]:
        for v in versioned_mappers.values():
            if v.table.name == self.table:
                return v.key_names
        return [f"k{i}" for i in range(len(self.key))]


@dataclass
class RevisionChanges:
    """Everything one revision changed."""

    revision: Revision
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


def _link_classes() -> set[Versioning]:
    links: set[Versioning] = set()
    for v in versioned_mappers.values():
        links.update(spec.link for spec in v.links.values())
    return links


def _versionings(classes: Iterable[Versioning] | None) -> list[Versioning]:
    return list(classes) if classes is not None else list(versioned_mappers.values())


def changes_in(session: Session, revision: RevisionRef,
               classes: Iterable[Versioning] | None = None) -> RevisionChanges:
    """Everything ``revision`` changed: two queries per versioned class."""
    revision_id = resolve_revision(session, revision)
    found = session.get(Revision, revision_id)
    assert found is not None
    result = RevisionChanges(found)
    links = _link_classes()
    with session.no_autoflush:
        for v in _versionings(classes):
            cls = v.version_class
            written = list(session.scalars(
                select(cls).where(v.version_table.c[REVISION_ID] == revision_id)))
            if not written:
                continue
            before = {b.object_key: b for b in session.scalars(
                select(cls).where(v.version_table.c[EXPIRED_ID] == revision_id))}
            for version in written:
                prior = before.get(version.object_key)
                result.objects.append(_classify(v, version, prior, v in links))
    result.objects.sort(key=lambda c: (c.is_link, c.class_name, repr(c.key)))
    return result


def _classify(
    v: Versioning, version: Version, before: Version | None, is_link: bool
) -> ObjectChange:
    fields = list(v.fields)
    existed = before is not None and before.operation_type != Operation.DELETE
    old = before.field_values if before is not None and existed else None
    diff = {f: (a, b) for f, (a, b) in changed_fields(old, version.field_values, fields).items()}
    if version.operation_type == Operation.DELETE:
        kind = "destroyed"
        diff = {}
    elif old is None:
        kind = "created"
    elif STATE in diff and diff[STATE][1] == State.DELETED:
        kind = "deleted"
    elif STATE in diff and diff[STATE][1] == State.ACTIVE:
        kind = "undeleted"
    else:
        kind = "updated"
    return ObjectChange(v.name, v.table.name, version.object_key, kind, diff, is_link)


@dataclass
class ClassDiff:
    """How one class differs between two revisions."""

    added: list[Key] = field(default_factory=list)
    removed: list[Key] = field(default_factory=list)
    changed: dict[Key, dict[str, tuple[Any, Any]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass
class ModelDiff:
    """The whole model's differences from revision ``a`` to revision ``b``."""

    a: int
    b: int
    classes: dict[str, ClassDiff] = field(default_factory=dict)


def diff_model(session: Session, a: RevisionRef, b: RevisionRef,
               classes: Iterable[Versioning] | None = None) -> ModelDiff:
    """Structured diff of the model between two revisions: two queries per class."""
    view_a, view_b = ModelAsOf(session, a), ModelAsOf(session, b)
    result = ModelDiff(view_a.revision_id, view_b.revision_id)
    for v in _versionings(classes):
        old = {x.object_key: x.field_values for x in view_a.all(v.cls)}
        new = {x.object_key: x.field_values for x in view_b.all(v.cls)}
        diff = ClassDiff(
            added=sorted(set(new) - set(old), key=repr),
            removed=sorted(set(old) - set(new), key=repr),
        )
        for key in sorted(set(old) & set(new), key=repr):
            changed = {f: (o, n) for f, (o, n) in
                       changed_fields(old[key], new[key], list(v.fields)).items()}
            if changed:
                diff.changed[key] = changed
        if diff:
            result.classes[v.name] = diff
    return result


@dataclass(frozen=True)
class FieldChange:
    """One revision's change of one field."""

    revision: Revision
    old: Any
    new: Any


def field_history(obj: Any, field_name: str) -> list[FieldChange]:
    """Revisions that changed ``field_name`` of ``obj``, oldest first."""
    versioning = _versioned(obj)
    if field_name not in versioning.fields:
        raise VdmError(
            f"{versioning.name} has no versioned field {field_name!r}; "
            f"choose one of {', '.join(versioning.fields)}", obj=obj)
    return _field_changes(obj.versions, field_name)


def _field_changes(versions: list[Version], field_name: str) -> list[FieldChange]:
    changes: list[FieldChange] = []
    alive = False
    previous: Any = None
    for version in versions:
        if version.operation_type == Operation.DELETE:
            alive = False
            continue
        value = getattr(version, field_name)
        if not alive or value != previous:
            changes.append(FieldChange(version.revision, previous if alive else None, value))
        alive, previous = True, value
    return changes


def blame(obj: Any) -> dict[str, Revision]:
    """For each field of ``obj``, the revision that last set its current value."""
    versioning = _versioned(obj)
    versions = obj.versions
    result = {}
    for name in versioning.fields:
        changes = _field_changes(versions, name)
        if changes:
            result[name] = changes[-1].revision
    return result


def _versioned(obj: Any) -> Versioning:
    versioning = versioning_of(obj)
    if versioning is None or object_session(obj) is None:
        raise VdmError(f"{obj!r} is not a versioned object in a session", obj=obj)
    return versioning
