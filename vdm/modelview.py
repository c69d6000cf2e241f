"""What a whole-model as-of view means, written once for both backends.

:class:`vdm.sqlalchemy.ModelAsOf` and :class:`vdm.sqlobject.ModelAsOf`
derive from :class:`ModelView`, which holds what a view *is*:

* the revision it shows, given as a written revision, an id, a datetime or
  ``None`` (the youngest).  One given by id is checked inside the first
  read's own statement (rows found prove it exists; none found, it is
  resolved on its own, raising :class:`vdm.RevisionNotFoundError` if
  missing); any other is resolved when the view is made;
* which classes it shows: the live versioned classes, nothing else
  (:class:`vdm.NotVersionedError` otherwise);
* ``get(cls, key)``, ``all(cls)``, ``revision_id`` and its repr;
* that it is read-only: every write a session or a connection offers is
  refused with one :class:`vdm.ReadOnlyError`.

A backend plugs in how it reads (a :class:`ViewBackend`) and rewrites its
own queries (its ``select``) to read the version tables as of the revision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vdm.errors import NotVersionedError, ReadOnlyError
from vdm.tables import versioning_record


@dataclass(frozen=True)
class ViewBackend:
    """The functions a backend plugs into :class:`ModelView`."""

    #: ``written_id(revision)``: the id of a revision given by id or as a
    #: written revision object, else None (it must then be resolved).
    written_id: Callable[[Any], int | None]
    #: ``resolve(source, revision)``: the id of any revision reference,
    #: raising :class:`vdm.RevisionNotFoundError` if none matches.
    resolve: Callable[[Any, Any], int]
    #: ``version_as_of(source, versioning, key, revision_id,
    #: check_revision=...)``: the version of one object as of a revision, or
    #: None; with ``check_revision`` nothing is found unless the revision
    #: exists (checked in the same statement).
    version_as_of: Callable[..., Any]
    #: Whether ``version_as_of`` takes a one-column key bare, not as a tuple.
    bare_keys: bool = False


class ModelView:
    """The model as it was right after a revision committed (read-only).

    ``source`` is what the backend reads through (a session or a
    connection); ``revision`` a revision, an id, a datetime or None.
    """

    #: How the backend reads; set by each backend's subclass.
    backend: ViewBackend

    def __init__(self, source: Any, revision: Any) -> None:
        self.source = source
        #: The revision id, once known to exist (None: not checked yet).
        self._checked: int | None = None
        #: The id asked for, to be checked by the first read.
        self._asked = self.backend.written_id(revision)
        if self._asked is None:
            self._checked = self.backend.resolve(source, revision)

    @property
    def revision_id(self) -> int:
        """The id of the revision the view shows (checked to exist)."""
        if self._checked is None:
            self._checked = self.backend.resolve(self.source, self._asked)
        return self._checked

    def __repr__(self) -> str:
        return f"<{type(self).__name__} revision {self._checked or self._asked}>"

    def reading_id(self) -> int:
        """The id to read as of: the checked one, or the one asked for (then
        a read must prove it exists, see :meth:`found`)."""
        rid = self._checked if self._checked is not None else self._asked
        assert rid is not None
        return rid

    def found(self, anything: bool) -> None:
        """Record what a read as of :meth:`reading_id`, under the condition
        that the revision exists, found: rows prove the revision exists;
        none found, the revision is resolved on its own (raising
        :class:`vdm.RevisionNotFoundError` if it is missing)."""
        if anything:
            self._checked = self.reading_id()
        else:
            self.revision_id  # noqa: B018 - raises RevisionNotFoundError if missing

    def viewable(self, cls: type) -> Any:
        """The versioning record of ``cls`` if the view shows it (a live
        versioned class), else :class:`vdm.NotVersionedError`."""
        record = versioning_record(cls)
        # A version class carries its live class's record: it has no past.
        if record is None or record.cls is not cls:
            raise NotVersionedError.of(cls, "it has no past to view")
        return record

    def get(self, cls: type, key: Any) -> Any:
        """The object of class ``cls`` with primary key ``key`` as of the
        revision, or None if it did not exist then.

        One statement (an index seek on the version table), resolving the
        revision included: the way to read one object as of a revision by
        its key.  No live object is loaded.
        """
        record = self.viewable(cls)
        keys = tuple(key) if isinstance(key, tuple | list) else (key,)
        bare = self.backend.bare_keys and len(keys) == 1
        checking = self._checked is None
        found = self.backend.version_as_of(self.source, record, keys[0] if bare else keys,
                                           self.reading_id(), check_revision=checking)
        if checking:
            self.found(found is not None)
        return found

    def all(self, cls: type) -> list[Any]:
        """Every object of ``cls`` as of the revision, by primary key: one query."""
        return self.read_all(self.viewable(cls))

    def read_all(self, record: Any) -> list[Any]:
        """Every version current as of the revision of the class of
        ``record``, by primary key: the backend's one query."""
        raise NotImplementedError

    def refuse(self, *args: Any, **kwargs: Any) -> None:
        """Refused: the view is read-only (raises :class:`vdm.ReadOnlyError`)."""
        raise ReadOnlyError(
            f"{self!r} is a read-only view of the past; write through the "
            f"session in a new revision (see revert() and restore)",
            obj=self, revision=self._checked or self._asked,
        )

    # What an ORM session and an SQLObject connection offer to write with.
    add = add_all = create = delete = destroy = merge = update = flush = commit = refuse
