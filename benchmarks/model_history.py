"""The benchmark model in sqlalchemy-history 2.x (validity strategy).

sqlalchemy-history is a fork of SQLAlchemy-Continuum with the same API;
importing this module configures it, in its own worker process only.  The
model and the reads are those of :mod:`benchmarks.peer`.
"""

from __future__ import annotations

from sqlalchemy_history import make_versioned, version_class, versioning_manager

from benchmarks.common import Adapter
from benchmarks.peer import adapter_for

_ADAPTER = adapter_for("history", make_versioned, version_class, versioning_manager)


def adapter() -> Adapter:
    """This system's adapter."""
    return _ADAPTER
