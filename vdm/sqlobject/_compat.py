"""Importing SQLObject on Python 3.11+ without its known traps.

Every module of :mod:`vdm.sqlobject` imports SQLObject through here, so the
fixes below are in place before any versioned class is declared:

* FormEncode (SQLObject's validators) imports :mod:`cgi` and
  ``pkg_resources`` and so warns at import time on Python 3.11+.  Those
  warnings are about FormEncode's own imports, not about the caller's code,
  so they are silenced for the duration of that one import only.
* SQLObject connects to MySQL/MariaDB with PyMySQL's deprecated ``db=``
  and ``passwd=`` keywords and pings with the deprecated ``reconnect``
  argument; the driver module it calls gets a thin wrapper that passes
  ``database=`` and ``password=`` and reconnects without the deprecated
  argument.
* SQLObject uses the MySQL ``charset`` of the URI (``utf8mb4``, MySQL's
  full UTF-8) as a Python codec name; vdm registers ``utf8mb4`` as an
  alias of UTF-8 (looked up only when that name is asked for).
* ``connection.Book`` (SQLObject's class-level connection wrapper,
  ``ConnWrapper``) calls ``inspect.getargspec``, which Python 3.11 removed.
  SQLObject's module gets a small stand-in built on
  :func:`inspect.getfullargspec`; the global :mod:`inspect` is untouched.
"""

from __future__ import annotations

import codecs
import inspect as _inspect
import types
import warnings
from typing import Any, NamedTuple

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    import formencode
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
    _dbconnection.inspect = shim


class _PyMySQLModule:
    """PyMySQL as SQLObject calls it, with today's keyword names."""

    _renamed = {"db": "database", "passwd": "password"}

    def __init__(self, module: Any) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def connect(self, *args: Any, **kw: Any) -> Any:
        for old, new in self._renamed.items():
            if old in kw:
                kw[new] = kw.pop(old)
        return _pymysql_connection_class()(*args, **kw)


def _pymysql_connection_class() -> Any:
    global _PyMySQLConnection
    if _PyMySQLConnection is None:
        import pymysql.connections

        class Connection(pymysql.connections.Connection):
            """PyMySQL's connection; ``ping(True)`` reconnects without a warning."""

            def ping(self, reconnect: bool = False) -> None:
                if not reconnect:
                    return super().ping(False)  # type: ignore[no-any-return]
                try:
                    if self._sock is None:
                        self.connect()
                    return super().ping(False)  # type: ignore[no-any-return]
                except pymysql.err.Error:
                    self.connect()
                    return super().ping(False)  # type: ignore[no-any-return]

        _PyMySQLConnection = Connection
    return _PyMySQLConnection


_PyMySQLConnection: Any = None


def _patch_mysql() -> None:
    from sqlobject.mysql import mysqlconnection

    cls: Any = mysqlconnection.MySQLConnection
    if getattr(cls, "_vdm_patched", False):
        return
    original = cls.makeConnection

    def make_connection(self: Any) -> Any:
        if self.driver == "pymysql" and not isinstance(self.module, _PyMySQLModule):
            self.module = _PyMySQLModule(self.module)
        return original(self)

    cls.makeConnection = make_connection
    cls._vdm_patched = True


def _mysql_codec(name: str) -> codecs.CodecInfo | None:
    return codecs.lookup("utf-8") if name in ("utf8mb4", "utf8mb3") else None


_patch_connwrapper()
_patch_mysql()
try:
    codecs.lookup("utf8mb4")
except LookupError:
    codecs.register(_mysql_codec)

__all__ = ["getargspec", "sqlobject"]
