"""A worker process: one system, one database, requests from the parent.

Each system runs alone in its process, so only its own ORM hooks are
registered (vdm and Continuum both listen on every ``Session``).
"""

from __future__ import annotations

import importlib
import traceback
from pathlib import Path
from typing import Any

from benchmarks.common import MODES, NotAvailable, WrongAnswer


def serve(conn: Any, system: str, db: str, workdir: str, mode: str) -> None:
    """Answer ``(method, args)`` requests with ``(status, payload)``."""
    try:
        module = importlib.import_module(f"benchmarks.model_{system}")
        from benchmarks.scenarios import Bench

        bench = Bench(module.adapter(), db, Path(workdir), MODES[mode])
        version = bench.server_version()
    except Exception as exc:  # noqa: BLE001 - reported as the reason for n/a
        detail = traceback.format_exc(limit=-3)
        conn.send(("unavailable", f"{type(exc).__name__}: {exc}\n{detail}"))
        return
    conn.send(("ready", {"server": version, "library": _library(system)}))
    while True:
        method, args = conn.recv()
        if method == "stop":
            try:
                bench.close()
            finally:
                conn.send(("ok", None))
            return
        try:
            conn.send(("ok", getattr(bench, method)(*args)))
        except NotAvailable as exc:
            conn.send(("n/a", str(exc)))
        except WrongAnswer as exc:
            conn.send(("wrong", str(exc)))
        except BaseException:  # noqa: BLE001 - sent to the parent, which reports it
            conn.send(("error", traceback.format_exc()))


def _library(system: str) -> str:
    from importlib.metadata import version

    names = {"plain": "SQLAlchemy", "vdm": "vdm", "continuum": "SQLAlchemy-Continuum",
             "history": "sqlalchemy-history"}
    try:
        return f"{names[system]} {version(names[system])}"
    except Exception:  # noqa: BLE001 - not installed as a distribution
        if system == "vdm":
            import vdm

            return f"vdm {vdm.__version__}"
        return names[system]
