"""Which backend an object belongs to, so that each public function is written once.

``blame``, ``changes_in``, ``restore_object``, ``verify_history`` and the
rest mean the same on both backends and are defined once, in core modules
(:mod:`vdm.inspecting`, :mod:`vdm.restoring`, :mod:`vdm.verifying`).  What
only an ORM can do -- load an object's versions, query a version class,
write through its unit of work -- each backend lends as one
:class:`Backend` (a :class:`BackendHooks`), registered for the types it
owns with :func:`register_backend`; the core finds it with
:func:`backend_of`::

    register_backend(Versioning, hooks)     # objects and classes it versions
    register_backend(Session, hooks)        # sessions and connections it reads through
    backend_of(book).read_history(book)

A versioned object or class is recognised by the type of its per-class
record (``__versioning__``, :func:`vdm.tables.versioning_record`), anything
else (a session, a connection) by its own type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from vdm.changes import ModelDiff, RevisionChanges
from vdm.errors import InvalidInputError
from vdm.tables import versioning_record

#: Classes a whole-model function looks at (None: every versioned class).
Classes = Iterable[Any] | None


class Backend(Protocol):
    """What a backend lends the core's public functions.

    Each hook takes what the public function was handed (a session or
    connection first, where it takes one), after the core has refused what
    it refuses for both backends.
    """

    @property
    def is_live(self) -> Callable[[Any], bool]:
        """Whether an instance of a versioned class is a live object the backend tracks."""
        ...

    @property
    def read_history(self) -> Callable[[Any], tuple[Sequence[Any], Callable[[Any], Any] | None]]:
        """A live object's versions, oldest first, and how to find each one's
        revision (None: ``version.revision``)."""
        ...

    @property
    def revision_changes(self) -> Callable[[Any, Any, Classes], RevisionChanges]:
        """``(source, revision, classes)``: a :class:`vdm.changes.RevisionChanges`."""
        ...

    @property
    def model_diff(self) -> Callable[[Any, Any, Any, Classes], ModelDiff]:
        """``(source, a, b, classes)``: a :class:`vdm.changes.ModelDiff`."""
        ...

    @property
    def restore_one(self) -> Callable[[Any, Any, Any], Any]:
        """``(session, obj, revision)``: the live object restored (None if gone)."""
        ...

    @property
    def restore_all(self) -> Callable[[Any, Any, Classes], None]:
        """``(session, revision, classes)``: the model restored in ``session``."""
        ...

    @property
    def undo(self) -> Callable[[Any, Any, Classes], None]:
        """``(session, revision, classes)``: the revision undone in ``session``."""
        ...

    @property
    def verify(self) -> Callable[[Any, Iterable[Any]], list[Any]]:
        """``(source, tables)``: the history violations of ``tables``."""
        ...

    @property
    def link_check(self) -> Callable[[Any, Any], list[Any]]:
        """``(source, link spec)``: the duplicate active links of one link collection."""
        ...


@dataclass(frozen=True)
class BackendHooks:
    """A :class:`Backend` made of plain functions, as each backend builds its own."""

    is_live: Callable[[Any], bool]
    read_history: Callable[[Any], tuple[Sequence[Any], Callable[[Any], Any] | None]]
    revision_changes: Callable[[Any, Any, Classes], RevisionChanges]
    model_diff: Callable[[Any, Any, Any, Classes], ModelDiff]
    restore_one: Callable[[Any, Any, Any], Any]
    restore_all: Callable[[Any, Any, Classes], None]
    undo: Callable[[Any, Any, Classes], None]
    verify: Callable[[Any, Iterable[Any]], list[Any]]
    link_check: Callable[[Any, Any], list[Any]]


_BACKENDS: list[tuple[type, Backend]] = []


def register_backend(kind: type, backend: Backend) -> None:
    """Let :func:`backend_of` find ``backend`` for ``kind``: a per-class
    versioning record type (for versioned objects and classes) or a session
    or connection type.  A later registration of the same type replaces the
    earlier."""
    _BACKENDS[:] = [(k, b) for k, b in _BACKENDS if k is not kind]
    _BACKENDS.append((kind, backend))


def find_backend(x: Any) -> Backend | None:
    """The backend of ``x`` (a versioned object or class, a session or a
    connection), or None when no backend owns it."""
    record = versioning_record(x)
    probe = record if record is not None else x
    for kind, backend in _BACKENDS:
        if isinstance(probe, kind):
            return backend
    return None


def backend_of(x: Any) -> Backend:
    """The backend of ``x``, which must be something a backend owns.

    Raises :class:`vdm.InvalidInputError` naming what to pass instead.
    """
    found = find_backend(x)
    if found is None:
        raise InvalidInputError(
            f"vdm cannot work through {type(x).__name__}; pass a session "
            f"(vdm.sqlalchemy) or a session or connection (vdm.sqlobject)")
    return found


__all__ = ["Backend", "BackendHooks", "Classes", "backend_of", "find_backend",
           "register_backend"]
