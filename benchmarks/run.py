"""Run the benchmarks and print medians, ratios and the SPEC §6 targets.

    python3 -m benchmarks                  # full sizes, SQLite and PostgreSQL
    python3 -m benchmarks --quick --db sqlite
    python3 -m benchmarks --only asof,memory

Each system (plain SQLAlchemy, vdm, SQLAlchemy-Continuum) runs in its own
worker process; the parent asks for one sample at a time, system after
system (plain, vdm, continuum, plain, vdm, ...), so slow drifts of the
machine hit every system alike.  See ``benchmarks/README.txt``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy

from benchmarks.common import MODES, Sizes
from benchmarks.databases import DATABASES, unreachable
from benchmarks.worker import serve

SYSTEMS = ("plain", "vdm", "continuum")
ONLY = ("create", "update", "asof", "live_read", "all_as_of", "versions",
        "links", "statements", "memory", "native")


@dataclass
class Row:
    """One line of the results table."""

    key: str
    label: str
    group: str  # the --only name that selects it
    write: bool = False
    #: Plain's measurement that stands in as the floor (a live read), if any.
    floor: str | None = None


def plan(sizes: Sizes) -> list[Row]:
    """The table's rows for these sizes."""
    s = sizes
    rows = [
        Row("create", f"create {s.create:,} books + {2 * s.create:,} links, 1 rev",
            "create", write=True),
        Row("update", f"{s.update_revisions} revs x 10 book updates", "update",
            write=True),
    ]
    rows += [Row(f"asof:{d}", f"as-of one book, depth {d:,}", "asof")
             for d in s.depths]
    rows += [
        Row("live_read", f"read {s.mass:,} live books", "live_read"),
        Row("all_as_of", f"all {s.mass:,} books as of middle rev", "all_as_of",
            floor="live_read"),
        Row("versions", f"list {s.versions_depth:,} versions of one book", "versions"),
        Row("links_live", "live link list of one book", "links"),
        Row("links_as_of", "link list as of an older rev", "links",
            floor="links_live"),
    ]
    return rows


class Worker:
    """The parent's handle on one system's worker process."""

    def __init__(self, system: str, db: str, workdir: str, mode: str) -> None:
        self.system = system
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(child, system, db, workdir, mode),
                                   daemon=True)
        self.process.start()
        status, payload = self.conn.recv()
        self.available = status == "ready"
        self.info: dict[str, str] = payload if self.available else {}
        self.reason = "" if self.available else str(payload)

    def send(self, method: str, *args: Any) -> None:
        self.conn.send((method, args))

    def receive(self) -> tuple[str, Any]:
        return self.conn.recv()

    def call(self, method: str, *args: Any) -> tuple[str, Any]:
        self.send(method, *args)
        return self.receive()

    def stop(self) -> None:
        if self.available and self.process.is_alive():
            self.call("stop")
        self.process.join(timeout=30)


class Results:
    """Samples and outcomes of one database's run."""

    def __init__(self) -> None:
        self.samples: dict[tuple[str, str], list[float]] = {}
        self.missing: dict[tuple[str, str], str] = {}  # "n/a: ..." or "FAIL: ..."
        self.failures: list[str] = []

    def add(self, key: str, system: str, status: str, payload: Any) -> None:
        if status == "ok":
            self.samples.setdefault((key, system), []).append(float(payload))
        elif status == "n/a":
            self.missing[(key, system)] = f"n/a: {payload}"
        else:
            self.missing[(key, system)] = "FAIL"
            self.failures.append(f"{system} / {key}:\n{payload}")

    def median(self, key: str, system: str) -> float | None:
        values = self.samples.get((key, system))
        return statistics.median(values) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m benchmarks",
        description="vdm vs plain SQLAlchemy vs SQLAlchemy-Continuum.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="smaller sizes and fewer repeats (under a minute)")
    size.add_argument("--smoke", action="store_true",
                      help="tiny sizes, one repeat: checks that everything runs")
    parser.add_argument("--db", choices=[*DATABASES, "all"], default="all",
                        help="database to run on (default: all)")
    parser.add_argument("--only", default="",
                        help=f"comma-separated subset of: {', '.join(ONLY)}")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    only = {o.strip() for o in args.only.split(",") if o.strip()} or set(ONLY)
    unknown = only - set(ONLY)
    if unknown:
        parser.error(f"unknown --only {sorted(unknown)}; choose from {', '.join(ONLY)}")
    dbs = DATABASES if args.db == "all" else (args.db,)

    status = 0
    with tempfile.TemporaryDirectory(prefix="vdm-bench-") as workdir:
        for db in dbs:
            reason = unreachable(db)
            if reason is not None:
                print(f"\n== {db}: skipped, unreachable ({reason})")
                if args.db != "all":
                    status = 1
                continue
            if only - {"native"}:
                results = run_database(db, workdir, mode, only)
                if results.failures:
                    status = 1
            if "native" in only:  # native versioning rows: benchmarks/native.py
                from benchmarks.native import run_native

                run_native(db, workdir, mode)
    return status


def run_database(db: str, workdir: str, mode: str, only: set[str]) -> Results:
    sizes = MODES[mode]
    started = time.perf_counter()
    workers = {s: Worker(s, db, workdir, mode) for s in SYSTEMS}
    live = [w for w in workers.values() if w.available]
    results = Results()
    rows = [r for r in plan(sizes) if r.group in only]
    try:
        build: dict[str, str] = {}
        if any(not r.write for r in rows) or "memory" in only:
            for w in live:
                w.send("build_read")
            for w in live:
                status, payload = w.receive()
                if status != "ok":
                    raise SystemExit(f"{w.system}: building the read history failed:\n{payload}")
                build[w.system] = f"{payload:.1f} s"
            progress(db, "read history built", started)
        for row in rows:
            row_started = time.perf_counter()
            repeats = sizes.write_repeats if row.write else sizes.read_repeats
            skip: set[str] = set()
            for _ in range(repeats):
                for w in live:  # interleaved: plain, vdm, continuum, plain, ...
                    if w.system in skip:
                        continue
                    status, payload = w.call("sample", row.key)
                    results.add(row.key, w.system, status, payload)
                    if status != "ok":
                        skip.add(w.system)
            progress(db, row.label, row_started)
        statements: dict[str, Any] = {}
        memory: dict[str, Any] = {}
        if "statements" in only:
            row_started = time.perf_counter()
            statements = {w.system: w.call("statements") for w in live}
            progress(db, "statements", row_started)
        if "memory" in only:
            row_started = time.perf_counter()
            memory = {w.system: w.call("memory") for w in live}
            progress(db, "memory", row_started)
    finally:
        for w in workers.values():
            w.stop()
    report(db, mode, sizes, workers, rows, results, statements, memory, build,
           time.perf_counter() - started)
    return results


# -- printing -------------------------------------------------------------

def progress(db: str, what: str, since: float) -> None:
    """A progress line on stderr (the results go to stdout)."""
    print(f"[{db}] {what}: {time.perf_counter() - since:.1f} s", file=sys.stderr, flush=True)


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def verdict(value: float | None, limit: float, strict: bool = False) -> str:
    if value is None:
        return "n/a"
    ok = value < limit if strict else value <= limit
    return "met" if ok else "MISSED"


def report(db: str, mode: str, sizes: Sizes, workers: dict[str, Worker], rows: list[Row],
           results: Results, statements: dict[str, Any], memory: dict[str, Any],
           build: dict[str, str], elapsed: float) -> None:
    server = next((w.info["server"] for w in workers.values() if w.available), "?")
    print(f"\n== {db} {server} | mode {mode} | {platform.platform()} | "
          f"{multiprocessing.cpu_count()} CPUs | Python {platform.python_version()} | "
          f"SQLAlchemy {sqlalchemy.__version__}")
    for w in workers.values():
        if w.available:
            print(f"   {w.system:10} {w.info['library']}")
        else:
            print(f"   {w.system:10} n/a: {w.reason.splitlines()[0]}")
    if build:
        print("   read history built in " + ", ".join(f"{k} {v}" for k, v in build.items()))
    med = results.median

    def cell(key: str, system: str) -> str:
        if not workers[system].available:
            return "n/a"
        value = med(key, system)
        if value is not None:
            return fmt_time(value)
        return results.missing.get((key, system), "n/a").split(":")[0]

    header = (f"{'scenario (median)':44} {'plain':>10} {'vdm':>10} {'continuum':>10}"
              f" {'vdm/plain':>10} {'cont/plain':>10} {'vdm/cont':>9}")
    print(header)
    print("-" * len(header))
    for row in rows:
        floor_key = row.floor or row.key
        plain = med(floor_key, "plain")
        vdm, cont = med(row.key, "vdm"), med(row.key, "continuum")
        plain_cell = cell(floor_key, "plain") + ("*" if row.floor and plain else " ")
        print(f"{row.label:44} {plain_cell:>11}{cell(row.key, 'vdm'):>10} "
              f"{cell(row.key, 'continuum'):>10} {fmt_ratio(vdm, plain):>10} "
              f"{fmt_ratio(cont, plain):>10} {fmt_ratio(vdm, cont):>9}")
    if any(r.floor for r in rows):
        print("* plain keeps no history: its live read of the same rows is the floor")
    print(f"write rows: one sample is the whole scenario ({sizes.write_repeats} samples); "
          f"read rows: one read, mean of {sizes.inner} per sample "
          f"({sizes.read_repeats} samples)")

    print_targets(sizes, results, memory)
    if statements:
        print_statements(statements)
    if memory:
        print_memory(memory)
    for failure in results.failures:
        print(f"\nFAILED {failure}")
    for (key, system), why in sorted(results.missing.items()):
        if why.startswith("n/a") and system != "plain":
            print(f"{system} / {key}: {why}")
    print(f"({db} run took {elapsed:.0f} s)")


def print_targets(sizes: Sizes, results: Results, memory: dict[str, Any]) -> None:
    med = results.median
    lines: list[tuple[str, float | None, str, str]] = []
    for key, what in (("create", "create"), ("update", "update")):
        vdm = med(key, "vdm")
        plain, cont = med(key, "plain"), med(key, "continuum")
        r = vdm / plain if vdm and plain else None
        lines.append((f"write overhead vdm/plain, {what}", r, "<= 2x", verdict(r, 2.0)))
        r = vdm / cont if vdm and cont else None
        lines.append((f"vdm/continuum, {what}", r, "< 1x", verdict(r, 1.0, strict=True)))
    low, high = min(sizes.depths), max(sizes.depths)
    for system in ("vdm", "continuum"):
        a, b = med(f"asof:{high}", system), med(f"asof:{low}", system)
        r = a / b if a and b else None
        lines.append((f"{system}: as-of depth {high:,} / depth {low:,}", r, "<= 1.5x",
                      verdict(r, 1.5)))
    for system in ("vdm", "continuum"):
        a, b = med("all_as_of", system), med("live_read", system)
        r = a / b if a and b else None
        lines.append((f"{system}: all as-of / its own live read", r, "<= 3x",
                      verdict(r, 3.0)))
        b = med("live_read", "plain")
        r = a / b if a and b else None
        lines.append((f"{system}: all as-of / plain live read", r, "<= 3x", verdict(r, 3.0)))
    for system, peaks in memory.items():
        status, payload = peaks
        if status == "ok":
            r = payload[high] / payload[low]
            lines.append((f"{system}: memory at depth {high:,} / depth {low:,}", r,
                          "<= 1x (+5% noise)", verdict(r, 1.05)))
    print("\nSPEC section 6 targets")
    for label, value, target, outcome in lines:
        shown = "n/a" if value is None else f"{value:.2f}x"
        print(f"  {label:46} {shown:>8}   target {target:18} {outcome}")


def print_statements(statements: dict[str, Any]) -> None:
    works: list[str] = []
    for status, payload in statements.values():
        if status == "ok":
            works = list(payload)
            break
    print("\nStatements per revision: total (on the system's own history tables)")
    print(f"  {'':10}" + "".join(f"{w:>16}" for w in works))
    for system, (status, payload) in statements.items():
        if status != "ok":
            print(f"  {system:10} {status}: {str(payload).splitlines()[-1]}")
            continue
        cells = []
        for w in works:
            total, own = payload[w]
            cells.append(f"{total} ({own})" if system != "plain" else f"{total}")
        print(f"  {system:10}" + "".join(f"{c:>16}" for c in cells))


def print_memory(memory: dict[str, Any]) -> None:
    print("\nPeak memory of reading one version (tracemalloc, best of 3)")
    for system, (status, payload) in memory.items():
        if status != "ok":
            print(f"  {system:10} {status}: {str(payload).splitlines()[-1]}")
            continue
        print(f"  {system:10} " + "   ".join(
            f"depth {d:,}: {b / 1024:.1f} KiB" for d, b in payload.items()))


if __name__ == "__main__":
    sys.exit(main())
