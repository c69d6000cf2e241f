"""Change inspection: what a revision changed, model diffs, blame.

All results are plain data (dataclasses), so a command line or a web page
can show them::

    changes = changes_in(session, 2)      # RevisionChanges
    [c.describe() for c in changes.objects]
    diff = diff_model(session, 1, 3)      # ModelDiff: added/removed/changed per class
    blame(book)                           # {"title": Revision, ...}
    field_history(book, "title")          # [FieldChange(revision, old, new), ...]

Every function reads one or two set-based queries per versioned class.
The public functions are the core's (:mod:`vdm.inspecting`), the same
objects as :mod:`vdm.sqlobject`'s; this module lends them what only
SQLAlchemy can read (:data:`vdm.backends.Backend` hooks).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from vdm.changes import (
    ModelDiff,
    RevisionChanges,
    diff_views,
)
from vdm.inspecting import paired, version_change
from vdm.naming import EXPIRED_ID, REVISION_ID
from vdm.sharednames import blame, changes_in, diff_model, field_history  # noqa: F401 - importable here too
from vdm.sqlalchemy.asof import RevisionRef, resolve_revision
from vdm.sqlalchemy.associations import associations_for, link_changes
from vdm.sqlalchemy.mapping import (
    Versioning,
    hierarchy_bases,
    versioned_mappers,
    versionings_in,
)
from vdm.sqlalchemy.revision import Revision
from vdm.sqlalchemy.timetravel import ModelAsOf
from vdm.sqlalchemy.versions import Version


def _link_classes() -> set[Versioning]:
    links: set[Versioning] = set()
    for v in versioned_mappers.values():
        links.update(spec.link for spec in v.links.values())
    return links


def session_changes(session: Session, revision: RevisionRef,
                    classes: Iterable[Versioning] | None = None) -> RevisionChanges:
    """:func:`changes_in` read through a SQLAlchemy session."""
    classes = list(classes) if classes is not None else None
    revision_id = resolve_revision(session, revision)
    found = session.get(Revision, revision_id)
    assert found is not None
    result = RevisionChanges(found)
    links = _link_classes()
    with session.no_autoflush:
        classes = versionings_in(session, classes)
        for base in hierarchy_bases(classes):
            cls, vt = base.version_class, base.version_table
            written = list(session.scalars(select(cls).where(vt.c[REVISION_ID] == revision_id)))
            if not written:
                continue
            expired = session.scalars(select(cls).where(vt.c[EXPIRED_ID] == revision_id))
            for version, before in paired(written, expired):
                v = type(version).__versioning__
                result.objects.append(version_change(version, before, v in links, v.key_names))
        for association in associations_for(classes):
            result.objects.extend(link_changes(session.connection(), association, revision_id))
    result.sort()
    return result


def session_diff(session: Session, a: RevisionRef, b: RevisionRef,
                 classes: Iterable[Versioning] | None = None) -> ModelDiff:
    """:func:`diff_model` read through a SQLAlchemy session."""
    return diff_views(ModelAsOf(session, a), ModelAsOf(session, b),
                      versionings_in(session, classes))


def in_session(obj: Any) -> bool:
    """Whether ``obj`` (of a versioned class) is a live object of a session."""
    return not isinstance(obj, Version) and object_session(obj) is not None


def loaded_versions(obj: Any) -> tuple[list[Version], None]:
    """The versions of live ``obj``, through its ``versions`` relationship."""
    # Each version loads its revision through its own relationship.
    return obj.versions, None
