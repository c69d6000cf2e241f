"""The benchmark model in SQLAlchemy-Continuum 2.x (validity strategy).

Importing this module configures Continuum; it is only ever imported in
Continuum's own worker process.  The model and the reads are those of
:mod:`benchmarks.peer`.
"""

from __future__ import annotations

from sqlalchemy_continuum import make_versioned, version_class, versioning_manager

from benchmarks.common import Adapter
from benchmarks.peer import adapter_for

_ADAPTER = adapter_for("continuum", make_versioned, version_class, versioning_manager)


def adapter() -> Adapter:
    """This system's adapter."""
    return _ADAPTER
