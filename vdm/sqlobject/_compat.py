"""Importing SQLObject on Python 3.11+ without its known traps.

Every module of :mod:`vdm.sqlobject` imports SQLObject through here, so the
fixes below are in place before any versioned class is declared:

* FormEncode (SQLObject's validators) imports :mod:`cgi` and
  ``pkg_resources`` and so warns at import time on Python 3.11+.  Those
  warnings are about FormEncode's own imports, not about the caller's code,
  so they are silenced for the duration of that one import only.
* ``connection.Book`` (SQLObject's class-level connection wrapper,
  ``ConnWrapper``) calls ``inspect.getargspec``, which Python 3.11 removed.
  SQLObject's module gets a small stand-in built on
  :func:`inspect.getfullargspec`; the global :mod:`inspect` is untouched.
"""

from __future__ import annotations

import inspect as _inspect
import types
import warnings
from typing import Any, NamedTuple

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    import formencode  # noqa: F401 - imported here so its warnings stay here
    import formencode.validators  # noqa: F401
    import sqlobject
    from sqlobject import dbconnection as _dbconnection


class ArgSpec(NamedTuple):
    """What the removed ``inspect.getargspec`` returned."""

    args: list[str]
    varargs: str | None
    keywords: str | None
    defaults: tuple[Any, ...] | None


def getargspec(func: Any) -> ArgSpec:
    """``inspect.getargspec`` as SQLObject expects it, for Python 3.11+."""
    spec = _inspect.getfullargspec(func)
    return ArgSpec(spec.args, spec.varargs, spec.varkw, spec.defaults)


def _patch_connwrapper() -> None:
    module_inspect = getattr(_dbconnection, "inspect", None)
    if module_inspect is None or hasattr(module_inspect, "getargspec"):
        return
    shim = types.SimpleNamespace(
        **{name: getattr(_inspect, name) for name in dir(_inspect) if not name.startswith("__")}
    )
    shim.getargspec = getargspec
    _dbconnection.inspect = shim  # type: ignore[attr-defined]


_patch_connwrapper()

__all__ = ["getargspec", "sqlobject"]
