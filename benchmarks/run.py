"""Run the benchmarks and print medians, ratios and the SPEC §6 targets.

    python3 -m benchmarks                  # full sizes; the table on SQLite and
                                           # PostgreSQL, writers on PostgreSQL and MariaDB
    python3 -m benchmarks --quick --db sqlite
    python3 -m benchmarks --only asof,memory

Each system (plain SQLAlchemy, vdm, SQLAlchemy-Continuum, sqlalchemy-history)
runs in its own worker process; the parent asks for one sample at a time,
system after system (plain, vdm, continuum, history, plain, ...), so slow
drifts of the machine hit every system alike.  See ``benchmarks/README.txt``.
"""

from __future__ import annotations

import argparse
import math
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
from benchmarks.native import run_native
from benchmarks.worker import serve

SYSTEMS = ("plain", "vdm", "continuum", "history")
PEERS = ("continuum", "history")
#: Systems timed with concurrent writers (the peers' write path is not the point).
WRITER_SYSTEMS = ("plain", "vdm")
#: Where each part runs when --db is not given.
TABLE_DATABASES = ("sqlite", "postgresql")
WRITER_DATABASES = ("postgresql", "mariadb")
ONLY = ("create", "update", "asof", "live_read", "all_as_of", "versions",
        "authors", "writers", "statements", "memory", "native")
SHORT = {"vdm": "vdm", "continuum": "cont", "history": "hist"}


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
        Row("create", f"1 rev: {s.create:,} books+{s.create:,} authors+{2 * s.create:,} links",
            "create", write=True),
        Row("update", f"{s.update_revisions} revs x 10 title updates", "update",
            write=True),
        Row("live_get", "one live book by key", "asof"),
    ]
    rows += [Row(f"asof:{d}", f"one book as of R by key, {d:,} deep", "asof",
                 floor="live_get") for d in s.depths]
    # The versions are compared with a live read of as many rows, if sizes match.
    versions_floor = "live_read" if s.versions_depth == s.mass else None
    rows += [
        Row("live_read", f"read {s.mass:,} live books", "live_read"),
        Row("all_as_of", f"all {s.mass:,} books as of a middle rev", "all_as_of",
            floor="live_read"),
        Row("versions", f"{s.versions_depth:,} versions of one book, oldest 1st",
            "versions", floor=versions_floor),
        Row("authors_live", "authors of a book, live", "authors"),
        Row("authors_as_of", "authors of a book as of R (link-only revs)", "authors",
            floor="authors_live"),
    ]
    return rows


def writer_cells(sizes: Sizes) -> list[tuple[int, int]]:
    """(threads, wait in ms) of the concurrent-writers table."""
    return [(t, w) for w in sizes.waits for t in sizes.writers]


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
        elif status == "wrong" and system in PEERS:
            self.missing[(key, system)] = f"wrong answer: {payload}"
        else:
            self.missing[(key, system)] = "FAIL"
            self.failures.append(f"{system} / {key}:\n{payload}")

    def ratio(self, key: str, system: str, floor: str | None = None) -> float | None:
        """``system``'s median over plain's (over plain's ``floor`` row if given)."""
        mine, plain = self.median(key, system), self.median(floor or key, "plain")
        return mine / plain if mine is not None and plain else None

    def median(self, key: str, system: str) -> float | None:
        values = self.samples.get((key, system))
        return statistics.median(values) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m benchmarks",
        description="vdm vs plain SQLAlchemy, SQLAlchemy-Continuum and sqlalchemy-history.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="smaller sizes and fewer repeats (under a minute)")
    size.add_argument("--smoke", action="store_true",
                      help="tiny sizes, one repeat: checks that everything runs")
    parser.add_argument("--db", choices=[*DATABASES, "all"], default="all",
                        help="database to run everything on (default: all, meaning the "
                             "table on sqlite and postgresql, the concurrent writers on "
                             "postgresql and mariadb)")
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
            parts = set(only)
            if args.db == "all":
                if db not in TABLE_DATABASES:
                    parts &= {"writers"}
                if db not in WRITER_DATABASES:
                    parts -= {"writers"}
            if "native" in parts:  # native versioning rows: benchmarks/native.py
                parts.discard("native")
                if args.db != "all" or db == "postgresql":
                    run_native(db, workdir, mode)
            if not parts:
                continue
            results = run_database(db, workdir, mode, parts)
            if results.failures:
                status = 1
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
        if "writers" in only and db != "sqlite":
            row_started = time.perf_counter()
            for _ in range(sizes.writer_repeats):
                for threads, wait in writer_cells(sizes):
                    for w in live:
                        if w.system in WRITER_SYSTEMS:
                            status, payload = w.call("writers", threads, wait)
                            results.add(f"writers:{threads}:{wait}", w.system, status, payload)
            progress(db, "concurrent writers", row_started)
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
           time.perf_counter() - started, writers="writers" in only and db != "sqlite")
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
           build: dict[str, str], elapsed: float, writers: bool = False) -> None:
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
    others = SYSTEMS[1:]

    def cell(key: str, system: str) -> str:
        if not workers[system].available:
            return "n/a"
        value = med(key, system)
        if value is not None:
            return fmt_time(value)
        return results.missing.get((key, system), "n/a").split(":")[0]

    if rows:
        header = (f"{'scenario (median)':44}" + "".join(f"{s:>13}" for s in SYSTEMS)
                  + "".join(f"{SHORT[s] + '/plain':>12}" for s in others))
        print(header)
        print("-" * len(header))
        for row in rows:
            floor_key = row.floor or row.key
            plain = med(floor_key, "plain")
            plain_cell = cell(floor_key, "plain") + ("*" if row.floor and plain else " ")
            line = f"{row.label:44} {plain_cell:>13}"
            line += "".join(f"{cell(row.key, s):>13}" for s in others)
            line += "".join(f"{fmt_ratio(med(row.key, s), plain):>12}" for s in others)
            print(line)
        if any(r.floor for r in rows):
            print("* plain keeps no history: its live read of the same rows is the floor")
        print(f"write rows: one sample is the whole scenario ({sizes.write_repeats} samples); "
              f"read rows: one read, mean of {sizes.inner} per sample "
              f"({sizes.read_repeats} samples)")
    if writers:
        print_writers(sizes, results)
    print_geometric_means(rows, sizes, results, writers)
    print_targets(sizes, results, memory, rows, writers)
    if statements:
        print_statements(statements)
    if memory:
        print_memory(memory)
    for failure in results.failures:
        print(f"\nFAILED {failure}")
    for (key, system), why in sorted(results.missing.items()):
        if system != "plain" and why.startswith(("n/a", "wrong")):
            print(f"{system} / {key}: {why}")
    print(f"({db} run took {elapsed:.0f} s)")


def print_writers(sizes: Sizes, results: Results) -> None:
    print(f"\nConcurrent writers, each on its own book: revisions/s (median of "
          f"{sizes.writer_repeats} samples of {sizes.writer_seconds:g} s)")
    print(f"  {'writers x wait between first flush and commit':48}"
          f"{'plain':>10}{'vdm':>10}{'vdm/plain':>11}")
    for threads, wait in writer_cells(sizes):
        key = f"writers:{threads}:{wait}"
        plain, vdm = results.median(key, "plain"), results.median(key, "vdm")
        shown = [f"{x:.0f}" if x is not None else results.missing.get((key, s), "n/a")
                 .split(":")[0] for x, s in ((plain, "plain"), (vdm, "vdm"))]
        print(f"  {f'{threads} x {wait} ms':48}{shown[0]:>10}{shown[1]:>10}"
              f"{fmt_ratio(vdm, plain):>11}")


def table_ratios(system: str, rows: list[Row], sizes: Sizes, results: Results,
                 writers: bool) -> list[float]:
    """``system``'s ratios to plain, all as "time per unit of work"."""
    ratios = [results.ratio(row.key, system, row.floor) for row in rows]
    if writers:
        for threads, wait in writer_cells(sizes):
            rate = results.ratio(f"writers:{threads}:{wait}", system)
            ratios.append(1 / rate if rate else None)
    return [r for r in ratios if r is not None]


def print_geometric_means(rows: list[Row], sizes: Sizes, results: Results,
                          writers: bool) -> None:
    lines = []
    for system in SYSTEMS[1:]:
        ratios = table_ratios(system, rows, sizes, results, writers)
        if ratios:
            mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
            lines.append(f"  {system:10} {mean:.2f}x over {len(ratios)} rows")
    if lines:
        print("\nGeometric mean of the ratios to plain (time per unit of work: writers "
              "count as plain's rate / the system's; wrong answers and n/a left out)")
        print("\n".join(lines))


def print_targets(sizes: Sizes, results: Results, memory: dict[str, Any],
                  rows: list[Row], writers: bool) -> None:
    keys = {row.key for row in rows}
    lines: list[tuple[str, float | None, str, str]] = []

    def at_most(label: str, value: float | None, limit: float) -> None:
        lines.append((label, value, f"<= {limit:g}x", verdict(value, limit)))

    for key, what in (("create", "create"), ("update", "updates")):
        if key in keys:
            at_most(f"vdm/plain, {what}", results.ratio(key, "vdm"), 1.5)
            for peer in PEERS:
                mine, theirs = results.median(key, "vdm"), results.median(key, peer)
                r = mine / theirs if mine and theirs else None
                lines.append((f"vdm/{peer}, {what}", r, "< 1x", verdict(r, 1.0, strict=True)))
    low, high = min(sizes.depths), max(sizes.depths)
    if f"asof:{high}" in keys:
        for depth in sizes.depths:
            at_most(f"vdm as of R by key, {depth:,} deep / live get",
                    results.ratio(f"asof:{depth}", "vdm", "live_get"), 1.3)
        a, b = results.median(f"asof:{high}", "vdm"), results.median(f"asof:{low}", "vdm")
        at_most(f"vdm as of R by key, {high:,} deep / {low:,} deep",
                a / b if a and b else None, 1.3)
    if "authors_as_of" in keys:
        at_most("vdm authors as of R / live", results.ratio("authors_as_of", "vdm",
                                                            "authors_live"), 1.5)
    if "all_as_of" in keys:
        at_most("vdm all books as of R / live read", results.ratio("all_as_of", "vdm",
                                                                   "live_read"), 1.2)
    if "versions" in keys and sizes.versions_depth == sizes.mass:
        at_most("vdm version list / live read of as many rows",
                results.ratio("versions", "vdm", "live_read"), 1.1)
    if writers:
        threads, wait = max(sizes.writers), max(sizes.waits)
        r = results.ratio(f"writers:{threads}:{wait}", "vdm")
        lines.append((f"vdm/plain revisions/s, {threads} writers x {wait} ms", r, ">= 0.8x",
                      "n/a" if r is None else "met" if r >= 0.8 else "MISSED"))
        r = results.ratio(f"writers:1:{min(sizes.waits)}", "vdm")
        lines.append((f"vdm/plain revisions/s, 1 writer x {min(sizes.waits)} ms", r,
                      ">= 0.7x", "n/a" if r is None else "met" if r >= 0.7 else "MISSED"))
    for system, peaks in memory.items():
        status, payload = peaks
        if status == "ok":
            r = payload[high] / payload[low]
            lines.append((f"{system}: memory at depth {high:,} / depth {low:,}", r,
                          "<= 1x (+5% noise)", verdict(r, 1.05)))
    if not lines:
        return
    print("\nTargets (issue 14, SPEC section 6)")
    for label, value, target, outcome in lines:
        shown = "n/a" if value is None else f"{value:.2f}x"
        print(f"  {label:52} {shown:>8}   target {target:18} {outcome}")


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
