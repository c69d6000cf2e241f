"""vdm: a versioned domain model.

Group changes to many objects into one explicit revision, read any object,
link or the whole model *as of* a revision, and undo deletes.  This package
holds only the backend-neutral vocabulary; the backends live in
:mod:`vdm.sqlalchemy` and :mod:`vdm.sqlobject`, and importing :mod:`vdm`
imports neither ORM::

    >>> import vdm
    >>> vdm.State.ACTIVE == "active"
    True
    >>> vdm.Operation.DELETE
    <Operation.DELETE: 2>
"""

from vdm.errors import (
    ConfigurationError,
    ConflictError,
    DeletedVersionError,
    DetachedError,
    IntegrityViolation,
    InvalidInputError,
    MalformedKeyError,
    MissingTableError,
    NoRevisionError,
    NotVdmDatabaseError,
    NotVersionedError,
    ReadOnlyError,
    RevisionInUseError,
    RevisionNotFoundError,
    UnknownFieldError,
    UnknownRowError,
    UnknownTableError,
    UnsupportedDatabaseError,
    UnsupportedQueryError,
    UnversionedChangeError,
    VdmError,
)
from vdm.operations import Operation
from vdm.states import State

__version__ = "0.16.0"

__all__ = [
    "ConfigurationError",
    "ConflictError",
    "DeletedVersionError",
    "DetachedError",
    "IntegrityViolation",
    "InvalidInputError",
    "MalformedKeyError",
    "MissingTableError",
    "NoRevisionError",
    "NotVdmDatabaseError",
    "NotVersionedError",
    "Operation",
    "ReadOnlyError",
    "RevisionInUseError",
    "RevisionNotFoundError",
    "State",
    "UnknownFieldError",
    "UnknownRowError",
    "UnknownTableError",
    "UnsupportedDatabaseError",
    "UnsupportedQueryError",
    "UnversionedChangeError",
    "VdmError",
    "__version__",
]
