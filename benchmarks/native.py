"""Native versioning beside the Python mode and plain SQLAlchemy (PostgreSQL).

    python3 -m benchmarks --only native --db postgresql [--quick]
    python3 -m benchmarks.native [--quick|--smoke]

The same write scenarios as the main table (:mod:`benchmarks.scenarios`:
creating books with their links in one revision, revisions of ten
updates) run with three systems, each in its own process, samples
interleaved: ``plain`` (no history), ``vdm`` (Python mode: the flush hooks
write the versions) and ``native`` (the same vdm model with
:func:`vdm.sqlalchemy.native.enable`: triggers write them).  The target
is native writes at most 1.3x plain.  Native versioning needs PostgreSQL;
on other databases the row says so.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import statistics
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from benchmarks.common import MODES, Adapter
from benchmarks.model_vdm import VdmAdapter

SYSTEMS = ("plain", "vdm", "native")
KEYS = (("create", "create books + links, 1 rev"), ("update", "revs x 10 book updates"))
TARGET = 1.3


class NativeAdapter(VdmAdapter):
    """The vdm model with native versioning: triggers write the versions."""

    name = "native"


def adapter() -> Adapter:
    """The native system's adapter (enables native mode on the vdm model)."""
    from vdm.sqlalchemy import native

    native.enable(NativeAdapter.Base.metadata)
    return NativeAdapter()


def _serve(conn: Any, system: str, db: str, workdir: str, mode: str) -> None:
    """A worker process: one system; answers sample requests until ``None``."""
    try:
        from benchmarks.scenarios import Bench

        name = "benchmarks.native" if system == "native" else f"benchmarks.model_{system}"
        bench = Bench(importlib.import_module(name).adapter(), db, Path(workdir), MODES[mode])
        conn.send(("ready", None))
    except Exception:  # noqa: BLE001 - reported by the parent
        conn.send(("error", traceback.format_exc()))
        return
    try:
        while (key := conn.recv()) is not None:
            try:
                conn.send(("ok", bench.sample(key)))
            except Exception:  # noqa: BLE001 - reported by the parent
                conn.send(("error", traceback.format_exc()))
    finally:
        bench.close()
        conn.send(("closed", None))


def run_native(db: str, workdir: str, mode: str) -> dict[tuple[str, str], float]:
    """Print the native rows for ``db``; return the medians by (key, system)."""
    print(f"\n== {db} | native versioning (triggers) vs Python mode vs plain | mode {mode}")
    if db != "postgresql":
        print("   n/a: native versioning needs PostgreSQL triggers (see doc/native.rst)")
        return {}
    sizes = MODES[mode]
    ctx = multiprocessing.get_context("spawn")
    workers = {}
    for system in SYSTEMS:
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_serve, args=(child, system, db, workdir, mode),
                              daemon=True)
        process.start()
        status, payload = parent.recv()
        if status != "ready":
            raise SystemExit(f"{system}: could not start:\n{payload}")
        workers[system] = (parent, process)
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for key, _ in KEYS:
            for _ in range(sizes.write_repeats):
                for system, (parent, _process) in workers.items():
                    parent.send(key)
                    status, payload = parent.recv()
                    if status != "ok":
                        raise SystemExit(f"{system} / {key} failed:\n{payload}")
                    samples.setdefault((key, system), []).append(payload)
    finally:
        for parent, process in workers.values():
            parent.send(None)
            parent.recv()
            process.join(10)
    medians = {k: statistics.median(v) for k, v in samples.items()}
    labels = {"create": f"create {sizes.create:,} books + {2 * sizes.create:,} links, 1 rev",
              "update": f"{sizes.update_revisions} revs x 10 book updates"}
    header = (f"{'scenario (median)':44} {'plain':>10} {'vdm':>10} {'native':>10}"
              f" {'vdm/plain':>10} {'native/plain':>13}")
    print(header)
    print("-" * len(header))
    for key, _ in KEYS:
        plain, vdm, nat = (medians[(key, s)] for s in SYSTEMS)
        print(f"{labels[key]:44} {plain * 1e3:>8.1f}ms {vdm * 1e3:>8.1f}ms {nat * 1e3:>8.1f}ms"
              f" {vdm / plain:>9.2f}x {nat / plain:>12.2f}x")
    for key, _ in KEYS:
        ratio = medians[(key, "native")] / medians[(key, "plain")]
        outcome = "met" if ratio <= TARGET else "MISSED"
        print(f"  native/plain, {key}: {ratio:.2f}x   target <= {TARGET}x   {outcome}")
    print(f"({sizes.write_repeats} samples per cell, one sample is the whole scenario)")
    return medians


def main(argv: list[str] | None = None) -> int:
    """``python3 -m benchmarks.native``: the native rows on PostgreSQL."""
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.native",
                                     description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes")
    size.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    from benchmarks.databases import unreachable

    reason = unreachable("postgresql")
    if reason is not None:
        print(f"postgresql unreachable: {reason}")
        return 1
    with tempfile.TemporaryDirectory(prefix="vdm-bench-native-") as workdir:
        run_native("postgresql", workdir, mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
