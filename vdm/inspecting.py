"""Change inspection once: what a revision changed, and which revision set a field.

Both backends read versions their own way (their ORM's objects); what the
versions *mean* is decided here, for both.  A version needs ``object_key``,
``operation_type`` and ``field_values``; its class's versioning record
(``type(version).__versioning__``) needs ``name``, ``fields`` and
``tables_record``::

    changes = RevisionChanges(revision)
    for version, before in paired(written, expired):
        changes.objects.append(version_change(version, before, False, ("id",)))
    changes.sort()

The results are the plain data of :mod:`vdm.changes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from vdm.backends import Classes, backend_of, find_backend
from vdm.changes import (
    FieldChange,
    ModelDiff,
    ObjectChange,
    RevisionChanges,
    blame_fields,
    check_field,
    classify_change,
    field_changes,
)
from vdm.errors import NotVersionedError
from vdm.operations import Operation
from vdm.tables import versioning_record


def version_values(version: Any | None) -> dict[str, Any] | None:
    """A version's ``{field: value}``, or None when there is none or it records a delete."""
    if version is None or version.operation_type == Operation.DELETE:
        return None
    return dict(version.field_values)


def version_change(version: Any, before: Any | None, is_link: bool,
                   key_names: Sequence[str]) -> ObjectChange:
    """The change ``version`` records, ``before`` being the version it replaced.

    ``key_names`` name the key's parts in :meth:`ObjectChange.describe`.
    """
    v = type(version).__versioning__
    return classify_change(v.name, v.tables_record.table, version.object_key, list(v.fields),
                           version_values(before), version_values(version), is_link,
                           key_names)


def paired(written: Iterable[Any], expired: Iterable[Any]) -> list[tuple[Any, Any | None]]:
    """Each version a revision ``written``, with the one of ``expired`` it replaced."""
    before = {b.object_key: b for b in expired}
    return [(version, before.get(version.object_key)) for version in written]


def live_versioning(obj: Any, is_live: Callable[[Any], bool]) -> Any:
    """The versioning record of ``obj``, which must be a live versioned object.

    ``is_live(obj)`` is the backend's answer to whether ``obj`` (an instance
    of a versioned class) is an object it tracks: not a version, not outside
    every session.  An instance of an unversioned class is refused as such.
    """
    if not isinstance(obj, type):
        v = versioning_record(obj)
        if v is None:
            raise NotVersionedError.of(obj, "it has no history to inspect")
        if is_live(obj):
            return v
    raise NotVersionedError(f"{obj!r} is not a live versioned object", obj=obj)


#: A backend's read of a live object's history: its versions, oldest first, and
#: how to find each one's revision (None: ``version.revision``).
HistoryReader = Callable[[Any], tuple[Sequence[Any], Callable[[Any], Any] | None]]


def field_history_of(obj: Any, field_name: str, is_live: Callable[[Any], bool],
                     read: HistoryReader) -> list[FieldChange]:
    """The changes of ``field_name`` of live ``obj``, oldest first.

    Refuses what is not a live versioned object (:func:`live_versioning`),
    then a name that is not a field of its class, before reading anything.
    """
    check_field(live_versioning(obj, is_live), obj, field_name)
    versions, revision_of = read(obj)
    return field_changes(versions, field_name, revision_of)


def blame_of(obj: Any, is_live: Callable[[Any], bool], read: HistoryReader) -> dict[str, Any]:
    """For each field of live ``obj``, the revision that last set its value."""
    v = live_versioning(obj, is_live)
    versions, revision_of = read(obj)
    return blame_fields(versions, v.fields, revision_of)


def _not_live(obj: Any) -> bool:
    return False


def _history_hooks(obj: Any) -> tuple[Callable[[Any], bool], HistoryReader]:
    # An object no backend owns is refused by live_versioning, as unversioned.
    found = find_backend(obj)
    if found is None:
        return _not_live, lambda o: ((), None)
    return found.is_live, found.read_history


def changes_in(source: Any, revision: Any, classes: Classes = None) -> RevisionChanges:
    """Everything ``revision`` changed: two queries per versioned class
    (and per versioned association table, whose rows are link changes).

    ``source`` is a session (either backend) or an SQLObject connection;
    ``classes`` the classes to look at (default: every versioned class).
    """
    return backend_of(source).revision_changes(source, revision, classes)


def diff_model(source: Any, a: Any, b: Any, classes: Classes = None) -> ModelDiff:
    """Structured diff of the model between two revisions: two queries per class."""
    return backend_of(source).model_diff(source, a, b, classes)


def field_history(obj: Any, field_name: str) -> list[FieldChange]:
    """Revisions that changed ``field_name`` of live ``obj``, oldest first."""
    return field_history_of(obj, field_name, *_history_hooks(obj))


def blame(obj: Any) -> dict[str, Any]:
    """For each field of live ``obj``, the revision that last set its current value."""
    return blame_of(obj, *_history_hooks(obj))


__all__ = [
    "HistoryReader",
    "blame",
    "blame_of",
    "changes_in",
    "diff_model",
    "field_history",
    "field_history_of",
    "live_versioning",
    "paired",
    "version_change",
    "version_values",
]
