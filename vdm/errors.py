"""The errors vdm raises.

Every error derives from :class:`VdmError` and also from the builtin that
fits it, so callers may catch either.  Errors keep the things they are about
as attributes (``obj``, ``cls``, ``revision``, ``table``, ``key``,
``field``; None where they do not apply) and their messages name the object
or class and say what to do instead.  vdm never raises :class:`VdmError`
itself: every case has its own subclass.
"""

from __future__ import annotations

from typing import Any


class VdmError(Exception):
    """Root of every error vdm raises."""

    def __init__(
        self,
        message: str,
        *,
        obj: Any = None,
        cls: Any = None,
        revision: Any = None,
        table: str | None = None,
        key: Any = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.obj = obj
        self.cls = cls if cls is not None or obj is None else type(obj)
        self.revision = revision
        self.table = table
        self.key = key
        self.field = field

    def __str__(self) -> str:
        return self.message


class NoRevisionError(VdmError, RuntimeError):
    """Versioned objects were changed but the session has no revision."""


class ConflictError(VdmError, RuntimeError):
    """A write was based on a stale read, or an undo met a later change.

    ``fields`` names the conflicting fields where known.
    """

    def __init__(self, message: str, *, fields: tuple[str, ...] = (), **data: Any) -> None:
        super().__init__(message, **data)
        self.fields = fields


class ReadOnlyError(VdmError, AttributeError):
    """Something read-only (a version, an as-of view) was written to."""


class ConfigurationError(VdmError, TypeError):
    """A versioned class is declared in a way vdm cannot support.

    Raised when the class is declared, never at the first flush.
    """


class RevisionNotFoundError(VdmError, LookupError):
    """A revision id or datetime names no revision in the database."""


class UnversionedChangeError(VdmError, RuntimeError):
    """A change would bypass history (e.g. an ORM bulk UPDATE/DELETE)."""


class InvalidInputError(VdmError, TypeError, ValueError):
    """An argument of the wrong type or value (e.g. a revision's author).

    It is both a :class:`TypeError` and a :class:`ValueError`, so callers
    may catch the builtin they would expect.
    """


class IntegrityViolation(VdmError, ValueError):
    """An operation would leave the model or its history inconsistent."""


class NotVdmDatabaseError(VdmError, LookupError):
    """The database has no ``revision`` table: vdm never wrote to it."""


class MissingTableError(VdmError, LookupError):
    """The database lacks a table vdm needs to write history (create it first)."""


class UnknownTableError(VdmError, LookupError):
    """A table name names no versioned table of the database."""


class UnknownRowError(VdmError, LookupError):
    """A key names no row that the table's history ever held."""


class MalformedKeyError(VdmError, ValueError):
    """A primary key given as text does not fit the table's key columns."""


class NotVersionedError(VdmError, TypeError):
    """History was asked of an object or class that is not versioned."""

    @classmethod
    def of(cls, thing: Any, what_to_do: str = "") -> NotVersionedError:
        """The error for ``thing`` (an object or a class), with advice appended.

            >>> str(NotVersionedError.of(int, "declare it Revisioned"))
            'int is not versioned; declare it Revisioned'
        """
        klass = thing if isinstance(thing, type) else type(thing)
        name = getattr(klass, "__name__", repr(klass))
        message = f"{name} is not versioned"
        if what_to_do:
            message += f"; {what_to_do}"
        if isinstance(thing, type):
            return cls(message, cls=thing)
        return cls(message, obj=thing)


class DetachedError(VdmError, RuntimeError):
    """An object or version is in no session (or in another one) to read through."""


class RevisionInUseError(VdmError, RuntimeError):
    """A revision was given to a second transaction, or replaced mid-transaction.

    A revision covers exactly one transaction: create a new
    :class:`Revision` for the next one.
    """


class UnknownFieldError(VdmError, LookupError):
    """A field name names no versioned field of the class."""


class DeletedVersionError(VdmError, ValueError):
    """An operation needs object values, but the version records a hard delete."""


class UnsupportedQueryError(VdmError, NotImplementedError):
    """A query or relationship cannot be resolved as of a revision."""


class UnsupportedDatabaseError(VdmError, RuntimeError):
    """The database set-up cannot keep vdm's guarantees (e.g. a shared :memory: connection)."""

def bookkeeping_message(described: str, column: str) -> str:
    """Why user code may not write vdm's bookkeeping ``column`` of ``described``."""
    return (
        f"cannot write {column} of {described}: it is vdm's bookkeeping column "
        f"(the revision that last changed the row) and only vdm writes it; "
        f"leave it out of the values you set (copy an object's fields, not "
        f"its {column})"
    )
