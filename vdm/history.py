"""The history readers of a live versioned object, written once for both backends.

``book.get_as_of(r)``, ``book.versions``, ``book.all_revisions``,
``book.all_related_revisions`` and ``book.diff()`` mean the same on both
backends; :class:`HistoryMethods` defines them once, and each backend's
``Revisioned`` mixin plugs in the functions that read its history
(:class:`HistoryReaders`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

V = TypeVar("V")
R = TypeVar("R")


#: The attribute under which each version of one list finds the others.
SIBLINGS = "_vdm_siblings"


def listed(versions: list[V]) -> list[V]:
    """``versions`` of one object, each told of the others: the neighbour a
    listed version reads later (``next``, ``previous``) is the listed object
    itself, on both backends, not an equal copy."""
    siblings = {v.revision_id: v for v in versions}  # type: ignore[attr-defined]
    for v in versions:
        # Versions are read-only to their users; this is vdm's own note.
        object.__setattr__(v, SIBLINGS, siblings)
    return versions


@dataclass(frozen=True)
class HistoryReaders:
    """The functions a backend reads an object's history with."""

    #: ``get_as_of(obj, revision)``: the version then, or None.
    get_as_of: Callable[[Any, Any], Any]
    #: ``versions_of(obj, newest_first=False)``: every version.
    versions_of: Callable[..., list[Any]]
    #: ``related_revisions(obj)``: revisions of the object and its links, newest first.
    related_revisions: Callable[[Any], list[Any]]
    #: ``diff_of(obj, to_revision, from_revision)``: ``{field: diff text}``.
    diff_of: Callable[[Any, Any, Any], dict[str, str]]


class HistoryMethods(Generic[V, R]):
    """``get_as_of``, ``versions``, ``all_revisions``, ``all_related_revisions``
    and ``diff`` of a live versioned object (``V``: its versions, ``R``: revisions)."""

    _vdm_history: ClassVar[HistoryReaders]

    def get_as_of(self, revision: Any) -> V | None:
        """This object as of ``revision`` (a Revision, its id or a datetime).

        Returns its version then, or None if it did not exist.  Reading
        history never changes what the session writes next.
        """
        found: V | None = self._vdm_history.get_as_of(self, revision)
        return found

    @property
    def versions(self) -> list[V]:
        """Every version of this object, oldest first (read from the database)."""
        return listed(self._vdm_history.versions_of(self))

    @property
    def all_revisions(self) -> list[V]:
        """Every version of this object, newest first (vdm's order)."""
        return listed(self._vdm_history.versions_of(self, newest_first=True))

    @property
    def all_related_revisions(self) -> list[R]:
        """Revisions that changed this object or its versioned links, newest first."""
        return self._vdm_history.related_revisions(self)

    def diff(self, to_revision: Any = None, from_revision: Any = None) -> dict[str, str]:
        """``{field: diff text}`` between two revisions of this object.

        ``to_revision`` defaults to the latest version and ``from_revision``
        to the one before it; the text is in ``difflib.Differ`` format.
        """
        return self._vdm_history.diff_of(self, to_revision, from_revision)
