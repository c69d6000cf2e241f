"""Change inspection: what a revision changed, model diffs, blame.

The same plain-data results as :mod:`vdm.sqlalchemy.inspection` (they live
in :mod:`vdm.changes`), read from the SQLObject backend's version tables::

    changes = changes_in(session, 2)      # RevisionChanges
    [c.describe() for c in changes.objects]   # ["Book(id=1) updated: title", ...]
    diff = diff_model(session, 1, 3)      # ModelDiff: added/removed/changed per class
    blame(book)                           # {"title": Revision, ...}
    field_history(book, "title")          # [FieldChange(revision, old, new), ...]

Keys are tuples (``(1,)``), as in the other backend, and fields are named
by attribute (``licenseID``), as ``version.values`` names them.  Each
function takes a vdm session or an SQLObject connection and, optionally,
the classes to look at (default: every versioned class declared whose
version table exists in the database, one class per table).  It reads two
set-based queries per class, never one per object.  The public functions
are the core's (:mod:`vdm.inspecting`), the same objects as
:mod:`vdm.sqlalchemy`'s; this module lends them what only SQLObject can
read (:data:`vdm.backends.Backend` hooks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from vdm.changes import ModelDiff, ObjectChange, RevisionChanges, diff_views
from vdm.errors import NotVersionedError
from vdm.inspecting import paired, version_change
from vdm.naming import EXPIRED_ID, REVISION_ID
from vdm.sharednames import blame, changes_in, diff_model, field_history  # noqa: F401 - importable here too
from vdm.sqlobject.dialect import table_exists
from vdm.sqlobject.registry import Versioning, versioned_classes, versioning_of
from vdm.sqlobject.revision import Revision, select_revisions
from vdm.sqlobject.session import Session
from vdm.sqlobject.timetravel import ModelAsOf
from vdm.sqlobject.versions import RevisionRef, Version, resolve_revision, select_versions

#: Classes to inspect: SQLObject classes or their :class:`Versioning`.
Classes = Iterable[Any] | None


def connection_of(source: Any) -> Any:
    """The SQLObject connection of a vdm session (its transaction) or connection."""
    return source.transaction if isinstance(source, Session) else source


def versionings(conn: Any, classes: Classes = None) -> list[Versioning]:
    """The :class:`Versioning` of each of ``classes``.

    By default every versioned class declared in the process whose version
    table exists on ``conn``; when several classes (of different SQLObject
    registries) share a table, the first declared stands for it.
    """
    if classes is not None:
        found = []
        for c in classes:
            v = c if isinstance(c, Versioning) else versioning_of(c)
            if v is None:
                raise NotVersionedError.of(c)
            found.append(v)
        return found
    by_table: dict[str, Versioning] = {}
    for v in versioned_classes:
        if v.table not in by_table and table_exists(conn, v.version_table):
            by_table[v.table] = v
    return list(by_table.values())


def link_tables(classes: Iterable[Versioning]) -> set[str]:
    """Tables of the versioned link classes of ``classes`` (their ``links`` views)."""
    tables: set[str] = set()
    for v in classes:
        for spec in v.links.values():
            link = getattr(spec, "link", None)
            if link is not None and not isinstance(link, Versioning):
                link = versioning_of(link)
            if link is not None:
                tables.add(link.table)
    return tables


def classify(v: Versioning, version: Version, before: Version | None,
             is_link: bool = False) -> ObjectChange:
    """The change ``version`` of ``v``'s class records (``before``: the one it replaced)."""
    return version_change(version, before, is_link, (v.id_name,))


def written_by(conn: Any, v: Versioning, revision_id: int) -> list[tuple[Version, Version | None]]:
    """Each version of ``v``'s class written by a revision, with the one it replaced."""
    written = select_versions(conn, v, f"{REVISION_ID} = {revision_id}",
                              f" ORDER BY {v.id_name}")
    if not written:
        return []
    return paired(written, select_versions(conn, v, f"{EXPIRED_ID} = {revision_id}"))


def connection_changes(source: Any, revision: RevisionRef,
                       classes: Classes = None) -> RevisionChanges:
    """:func:`changes_in` read through an SQLObject connection or vdm session."""
    conn = connection_of(source)
    revision_id = resolve_revision(conn, revision)
    result = RevisionChanges(select_revisions(conn, f"id = {revision_id}")[0])
    found = versionings(conn, classes)
    links = link_tables(found)
    for v in found:
        for version, before in written_by(conn, v, revision_id):
            result.objects.append(classify(v, version, before, v.table in links))
    result.sort()
    return result


def connection_diff(source: Any, a: RevisionRef, b: RevisionRef,
                    classes: Classes = None) -> ModelDiff:
    """:func:`diff_model` read through an SQLObject connection or vdm session."""
    conn = connection_of(source)
    return diff_views(ModelAsOf(conn, a), ModelAsOf(conn, b), versionings(conn, classes))


def not_a_version(obj: Any) -> bool:
    """Whether ``obj`` (of a versioned class) is a live object: not a version."""
    return not isinstance(obj, Version)


def versions_with_revisions(obj: Any) -> tuple[list[Version], Callable[[Version], Revision]]:
    """The versions of live ``obj`` and each one's revision, read in two queries."""
    # The revisions of all the versions in one query, not one per version.
    versions = obj.versions
    ids = sorted({int(x.revision_id) for x in versions})
    revisions: dict[int, Revision] = {}
    if ids:
        for r in select_revisions(obj._connection, f"id IN ({', '.join(map(str, ids))})"):
            revisions[int(r.id or 0)] = r
    return versions, lambda x: revisions[x.revision_id]


__all__ = [
    "classify",
    "connection_of",
    "link_tables",
    "versionings",
    "written_by",
]
