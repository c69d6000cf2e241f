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
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from vdm.changes import (
    KINDS,
    ClassDiff,
    FieldChange,
    ModelDiff,
    ObjectChange,
    RevisionChanges,
    blame_fields,
    check_field,
    classify_change,
    diff_views,
    field_changes,
)
from vdm.errors import NotVersionedError
from vdm.naming import EXPIRED_ID, REVISION_ID
from vdm.operations import Operation
from vdm.sqlalchemy.asof import RevisionRef, resolve_revision
from vdm.sqlalchemy.associations import associations_for, link_changes
from vdm.sqlalchemy.mapping import (
    Versioning,
    hierarchy_bases,
    versioned_mappers,
    versioning_of,
    versionings_in,
)
from vdm.sqlalchemy.revision import Revision
from vdm.sqlalchemy.timetravel import ModelAsOf
from vdm.sqlalchemy.versions import Version

# The result classes live in the backend-neutral core; they stay importable
# from here (and from vdm.sqlalchemy) as before.
__all__ = [
    "KINDS",
    "ClassDiff",
    "FieldChange",
    "ModelDiff",
    "ObjectChange",
    "RevisionChanges",
    "blame",
    "changes_in",
    "diff_model",
    "field_history",
]


def _link_classes() -> set[Versioning]:
    links: set[Versioning] = set()
    for v in versioned_mappers.values():
        links.update(spec.link for spec in v.links.values())
    return links


def changes_in(session: Session, revision: RevisionRef,
               classes: Iterable[Versioning] | None = None) -> RevisionChanges:
    """Everything ``revision`` changed: two queries per versioned class
    (and per versioned association table, whose rows are link changes)."""
    classes = list(classes) if classes is not None else None
    revision_id = resolve_revision(session, revision)
    found = session.get(Revision, revision_id)
    assert found is not None
    result = RevisionChanges(found)
    links = _link_classes()
    with session.no_autoflush:
        classes = versionings_in(session, classes)
        for base in hierarchy_bases(classes):
            cls = base.version_class
            written = list(session.scalars(
                select(cls).where(base.version_table.c[REVISION_ID] == revision_id)))
            if not written:
                continue
            before = {b.object_key: b for b in session.scalars(
                select(cls).where(base.version_table.c[EXPIRED_ID] == revision_id))}
            for version in written:
                prior = before.get(version.object_key)
                v = type(version).__versioning__
                result.objects.append(_classify(v, version, prior, v in links))
        for association in associations_for(classes):
            result.objects.extend(link_changes(session.connection(), association, revision_id))
    result.sort()
    return result


def _classify(
    v: Versioning, version: Version, before: Version | None, is_link: bool
) -> ObjectChange:
    existed = before is not None and before.operation_type != Operation.DELETE
    old = before.field_values if before is not None and existed else None
    new = version.field_values if version.operation_type != Operation.DELETE else None
    return classify_change(v.name, v.table.name, version.object_key, list(v.fields),
                           old, new, is_link, v.key_names)


def diff_model(session: Session, a: RevisionRef, b: RevisionRef,
               classes: Iterable[Versioning] | None = None) -> ModelDiff:
    """Structured diff of the model between two revisions: two queries per class."""
    return diff_views(ModelAsOf(session, a), ModelAsOf(session, b),
                      versionings_in(session, classes))


def field_history(obj: Any, field_name: str) -> list[FieldChange]:
    """Revisions that changed ``field_name`` of ``obj``, oldest first."""
    check_field(_versioned(obj), obj, field_name)
    return field_changes(obj.versions, field_name)


def blame(obj: Any) -> dict[str, Revision]:
    """For each field of ``obj``, the revision that last set its current value."""
    versioning = _versioned(obj)
    return blame_fields(obj.versions, versioning.fields)


def _versioned(obj: Any) -> Versioning:
    versioning = versioning_of(obj)
    if versioning is None or object_session(obj) is None:
        raise NotVersionedError(f"{obj!r} is not a versioned object in a session", obj=obj)
    return versioning
