"""The stress tool: concurrent writers and as-of readers, then a full audit.

One tool for both backends: it drives vdm through the acceptance harness
(:mod:`acceptance.harness`), so ``vdm.sqlalchemy`` and ``vdm.sqlobject``
meet exactly the same load and the same audit.

Writers (threads, or processes on a server database) each commit a fixed
number of revisions to the versioned-link model (packages with a license,
tags through a versioned link and extras through a versioned map):
creating packages, renaming them, changing their license, soft-deleting,
undeleting, hard-deleting them, and editing their tags and extras.  The
pool of packages is kept small so that writers keep touching the same
objects; a writer whose read went stale must get :class:`vdm.ConflictError`
(and then retries with a fresh read), never any other error.  Readers
meanwhile read the whole model as of committed revisions.

Every writer logs what it committed: the revision id and the intended
change, as plain data.  Afterwards the audit checks that

* revision ids followed commit order (ids observed from a separate
  connection while the writers ran: a newly seen id is never below one seen
  earlier);
* the revisions in the database are exactly the logged ones, and their
  timestamps never decrease along ids;
* :meth:`Repository.verify` finds nothing;
* the as-of view at *every* revision equals a replay, in plain Python, of
  the logged changes up to that revision, and so do the readers' samples
  taken during the run and the live model at the end.

It is bounded in count (writers x revisions) and in time (``time_limit``),
and talks only to a database on the loopback interface::

    python tests/stress.py --backend sqlobject --db postgresql --writers 8 --revisions 50

:func:`run_stress` is what ``tests/test_stress.py`` calls.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from acceptance.harness import Harness, SQLAlchemyHarness, SQLObjectHarness
from sqlalchemy import Engine, create_engine, make_url, select, text

from vdm import ConflictError

#: Hosts the tool agrees to talk to.
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
BACKENDS = ("sqlalchemy", "sqlobject")
TAGS = [f"t{i}" for i in range(5)]
LICENSES = ["L0", "L1", "L2"]
EXTRA_KEYS = ["a", "b"]
#: Live packages the writers aim for: few, so that they overlap.
POOL_MIN, POOL_MAX = 3, 6
#: Attempts of one revision before a writer gives up (a livelock guard).
MAX_ATTEMPTS = 200

Op = tuple[Any, ...]
#: One package, frozen: (name, state, license, sorted tags, sorted extras).
Frozen = tuple[str, str, str | None, tuple[str, ...], tuple[tuple[str, str | None], ...]]
Model = dict[int, Frozen]


@dataclass
class WriterReport:
    """What one writer did: its log and what went wrong."""

    writer: int
    #: ``(revision id, [op, ...])`` for each revision it committed.
    log: list[tuple[int, list[Op]]] = field(default_factory=list)
    conflicts: int = 0
    #: Errors other than ConflictError: ``"Type: message"``.
    errors: list[str] = field(default_factory=list)
    #: Commits that wrote nothing (should not happen: every action changes).
    empty: int = 0
    truncated: bool = False


@dataclass
class StressResult:
    """The figures of a run, and every problem the audit found."""

    backend: str
    database: str
    writers: int
    revisions: int
    conflicts: int
    duration: float
    reads: int
    processes: bool = False
    truncated: bool = False
    problems: list[str] = field(default_factory=list)

    def figures(self) -> str:
        mode = "processes" if self.processes else "threads"
        return (f"{self.backend} on {self.database}: {self.writers} writers ({mode}), "
                f"{self.revisions} revisions, {self.conflicts} conflicts, "
                f"{self.reads} as-of reads, {self.duration:.1f} s"
                + (" (stopped at the time limit)" if self.truncated else ""))


# -- the backends, through the harness -------------------------------------


class Endpoint:
    """One client of the database (a writer, a reader, the auditor).

    It owns what a real application process would own: an engine, and for
    SQLObject a connection of its own; :meth:`session` gives a harness on a
    fresh session for each unit of work.
    """

    def __init__(self, backend: str, url: str, create: bool = False) -> None:
        self.backend = backend
        self.engine: Engine = create_engine(url, pool_size=1, max_overflow=2) \
            if make_url(url).get_backend_name() != "sqlite" else create_engine(url)
        self.connection: Any = None
        if backend == "sqlobject":
            from sqlobject import connectionForURI
            from sqlobject_models import sqlobject_uri_of

            self.connection = connectionForURI(sqlobject_uri_of(url))
            if create:
                import sqlobject_models

                from vdm.sqlobject import create_tables

                create_tables(self.connection, sqlobject_models.LINKS)
        elif create:
            import link_models

            link_models.LinkBase.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Harness]:
        """A harness on a new session (closed at the end of the block)."""
        harness: Harness
        if self.backend == "sqlalchemy":
            harness = SQLAlchemyHarness(self.engine, "links", create=False)
        else:
            harness = SQLObjectHarness(self.engine, "links", connection=self.connection)
        try:
            yield harness
        finally:
            harness.close()

    def revision_rows(self) -> list[tuple[int, Any]]:
        """``(id, timestamp)`` of every revision, in id order, in a fresh snapshot."""
        with self.engine.connect() as conn:
            return [(int(r[0]), r[1]) for r in conn.execute(
                text("SELECT id, timestamp FROM revision ORDER BY id"))]

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.engine.dispose()


def packages(h: Harness) -> list[Any]:
    """The live packages in the harness's session, values read now."""
    if h.backend == "sqlalchemy":
        cls = h.classes["Package"]
        found = list(h.session.scalars(select(cls).order_by(cls.id)))  # type: ignore[attr-defined]
    else:
        found = list(h.classes["Package"].select(orderBy="id",
                                                 connection=h.session.transaction))  # type: ignore[attr-defined]
    for p in found:  # read every value now: this read may go stale
        p.name  # noqa: B018
    return found


def by_name(h: Harness, cls_name: str) -> dict[str, Any]:
    cls = h.classes[cls_name]
    if h.backend == "sqlalchemy":
        return {x.name: x for x in h.session.scalars(select(cls))}  # type: ignore[attr-defined]
    return {x.name: x for x in cls.select(connection=h.session.transaction)}  # type: ignore[attr-defined]


def flush(h: Harness) -> None:
    h.session.flush()  # type: ignore[attr-defined]


def _state(value: Any) -> str:
    return str(getattr(value, "value", value))


def _frozen(p: Any, extras: Iterable[tuple[str, Any]]) -> Frozen:
    license = p.license
    return (p.name, _state(p.state), license.name if license else None,
            tuple(sorted(t.name for t in p.tags)), tuple(sorted(extras)))


def freeze_live(h: Harness) -> Model:
    """The live model as plain data."""
    return {p.id: _frozen(p, p.extras.items()) for p in packages(h)}


def freeze_view(h: Harness, revision_id: int) -> Model:
    """The model as of ``revision_id``, read through the repository's as-of view."""
    view = h.repository().as_of(revision_id)
    model: Model = {}
    for p in view.all(h.classes["Package"]):
        if h.backend == "sqlalchemy":
            extras = [(e.key, e.value) for e in p.extras_active]
        else:
            extras = list(p.extras.items())
        model[p.id] = _frozen(p, extras)
    return model


def replay(entries: Iterable[tuple[int, list[Op]]]) -> dict[int, Model]:
    """The model after each revision, rebuilt from the logged changes alone."""
    live: dict[int, dict[str, Any]] = {}
    after: dict[int, Model] = {}
    for revision_id, ops in sorted(entries, key=lambda e: e[0]):
        for op in ops:
            kind, pid = op[0], op[1]
            if kind == "create":
                live[pid] = {"name": op[2], "state": "active", "license": op[3],
                             "tags": [], "extras": {}}
            elif kind == "hard":
                del live[pid]
            elif kind == "name":
                live[pid]["name"] = op[2]
            elif kind == "license":
                live[pid]["license"] = op[2]
            elif kind == "state":
                live[pid]["state"] = op[2]
            elif kind == "tag+":
                live[pid]["tags"].append(op[2])
            elif kind == "tag-":
                live[pid]["tags"].remove(op[2])
            elif kind == "extra":
                live[pid]["extras"][op[2]] = op[3]
            elif kind == "extra-":
                del live[pid]["extras"][op[2]]
            else:  # pragma: no cover - a bug of this tool
                raise AssertionError(f"unknown op {op!r}")
        after[revision_id] = {
            pid: (p["name"], p["state"], p["license"], tuple(sorted(p["tags"])),
                  tuple(sorted(p["extras"].items())))
            for pid, p in live.items()
        }
    return after


# -- writers ----------------------------------------------------------------


def setup_model(backend: str, url: str) -> tuple[int, list[Op]]:
    """Create the tables and the vocabulary; return the logged first revision."""
    endpoint = Endpoint(backend, url, create=True)
    try:
        with endpoint.session() as h:
            rev = h.begin("vocabulary and packages", author="setup")
            for name in TAGS:
                h.create("Tag", name=name)
            licenses = {n: h.create("License", name=n) for n in LICENSES}
            created = [h.create("Package", name=f"p{i}", license=licenses[LICENSES[i % 2]])
                       for i in range(POOL_MAX - 1)]
            flush(h)
            ops: list[Op] = [("create", p.id, p.name, p.license.name) for p in created]
            h.commit()
            assert rev.id is not None
            return rev.id, ops
    finally:
        endpoint.close()


def _one_action(h: Harness, rng: random.Random, n: int, i: int, pool: list[Any],
                tags: dict[str, Any], licenses: dict[str, Any]) -> list[Op]:
    """Apply one random change in the session; return it as logged ops."""
    create = len(pool) < POOL_MIN or (len(pool) < POOL_MAX and rng.random() < 0.15)
    if create or not pool:
        license_name = rng.choice([*LICENSES, None])
        pkg = h.create("Package", name=f"w{n}.{i}.{rng.randrange(10**6)}",
                       license=licenses[license_name] if license_name else None)
        flush(h)
        return [("create", pkg.id, pkg.name, license_name)]
    pkg = pool.pop(rng.randrange(len(pool)))
    action = rng.choice(["name", "license", "state", "state", "hard", "tags", "tags",
                         "extras", "extras"])
    if action == "hard" and len(pool) + 1 <= POOL_MIN:
        action = "name"
    if action == "name":
        pkg.name = f"p{pkg.id}.w{n}.{i}"
        return [("name", pkg.id, pkg.name)]
    if action == "license":
        current = pkg.license.name if pkg.license else None
        name = rng.choice([x for x in LICENSES if x != current])
        pkg.license = licenses[name]
        return [("license", pkg.id, name)]
    if action == "state":
        if _state(pkg.state) == "active":
            pkg.delete()
            return [("state", pkg.id, "deleted")]
        pkg.undelete()
        return [("state", pkg.id, "active")]
    if action == "hard":
        for link in [*pkg.package_tags, *getattr(pkg, "package_groups", []),
                     *pkg.extras_list]:
            h.destroy(link)
        h.destroy(pkg)
        return [("hard", pkg.id)]
    if action == "tags":
        present = [t.name for t in pkg.tags]
        absent = [t for t in TAGS if t not in present]
        if present and (not absent or rng.random() < 0.5):
            name = rng.choice(present)
            pkg.tags.remove(tags[name])
            return [("tag-", pkg.id, name)]
        name = rng.choice(absent)
        pkg.tags.append(tags[name])
        return [("tag+", pkg.id, name)]
    key = rng.choice(EXTRA_KEYS)
    extras = pkg.extras
    if key in extras and rng.random() < 0.4:
        del extras[key]
        return [("extra-", pkg.id, key)]
    value = f"w{n}.{i}"
    extras[key] = value
    return [("extra", pkg.id, key, value)]


def run_writer(backend: str, url: str, n: int, revisions: int, seed: int,
               deadline: float) -> WriterReport:
    """Writer ``n``: commit ``revisions`` revisions, retrying on conflict.

    A top-level function, so that it also runs in a worker process.
    """
    report = WriterReport(writer=n)
    rng = random.Random(f"{seed}/{n}")
    endpoint = Endpoint(backend, url)
    try:
        for i in range(revisions):
            for _attempt in range(MAX_ATTEMPTS):
                if time.monotonic() > deadline:
                    report.truncated = True
                    return report
                with endpoint.session() as h:
                    try:
                        pool = packages(h)
                        tags = by_name(h, "Tag")
                        licenses = by_name(h, "License")
                        # Give other writers time to commit in between, so that
                        # some of this read goes stale.
                        time.sleep(rng.uniform(0, 0.004))
                        rev = h.begin(f"{n}:{i}", author=f"writer{n}")
                        ops: list[Op] = []
                        for _ in range(rng.choice([1, 1, 2])):
                            ops += _one_action(h, rng, n, i, pool, tags, licenses)
                            if rng.random() < 0.3:
                                flush(h)
                        h.commit()
                    except ConflictError:
                        report.conflicts += 1
                        h.rollback()
                        continue
                    except Exception as exc:  # noqa: BLE001 - any other error is a finding
                        report.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
                        h.rollback()
                        continue
                if rev.id is None:
                    report.empty += 1
                else:
                    report.log.append((rev.id, ops))
                break
            else:
                report.errors.append(f"gave up revision {i} after {MAX_ATTEMPTS} attempts")
                return report
    finally:
        endpoint.close()
    return report


# -- the run ----------------------------------------------------------------


def check_loopback(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" and parsed.host not in LOOPBACK:
        raise SystemExit(f"refusing to stress {parsed.host!r}: only loopback databases "
                         f"({', '.join(sorted(LOOPBACK))}) are allowed")


def run_stress(url: str, backend: str = "sqlalchemy", writers: int = 4, revisions: int = 10,
               readers: int = 2, processes: bool = False, seed: int = 0,
               time_limit: float = 120.0) -> StressResult:
    """Stress the (empty) database at ``url`` through ``backend``; audit it."""
    check_loopback(url)
    database = make_url(url).get_backend_name()
    if database == "sqlite" and (writers > 1 or processes):
        raise ValueError("SQLite has one writer at a time (a database lock); "
                         "stress concurrent writers on PostgreSQL or MariaDB")
    start = time.monotonic()
    deadline = start + time_limit
    setup = setup_model(backend, url)

    seen: list[int] = []
    order_violations: list[str] = []
    reader_errors: list[str] = []
    samples: list[tuple[int, Model]] = []
    reads = 0
    stop = threading.Event()

    def observe() -> None:
        known: set[int] = set()
        observer = Endpoint(backend, url)
        try:
            while True:
                done = stop.is_set()
                ids = {rid for rid, _ in observer.revision_rows()}
                new = ids - known
                if new and known and min(new) < max(known):
                    order_violations.append(
                        f"revision {min(new)} appeared after revision {max(known)}")
                known |= ids
                seen[:] = sorted(known)
                if done:
                    return
                time.sleep(0.002)
        finally:
            observer.close()

    def read(k: int) -> None:
        nonlocal reads
        rng = random.Random(f"{seed}/reader{k}")
        reader = Endpoint(backend, url)
        try:
            while not stop.is_set():
                if not seen:
                    time.sleep(0.005)
                    continue
                revision_id = rng.choice(seen)
                with reader.session() as h:
                    try:
                        model = freeze_view(h, revision_id)
                    except Exception as exc:  # noqa: BLE001 - any error is a finding
                        reader_errors.append(
                            f"as of {revision_id}: {type(exc).__name__}: {exc}")
                        return
                reads += 1
                if len(samples) < 500:
                    samples.append((revision_id, model))
        finally:
            reader.close()

    threads = [threading.Thread(target=observe)]
    threads += [threading.Thread(target=read, args=(k,)) for k in range(readers)]
    for t in threads:
        t.start()
    reports: list[WriterReport] = []
    try:
        if processes:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(writers, mp_context=context) as pool:
                futures = [pool.submit(run_writer, backend, url, n, revisions, seed, deadline)
                           for n in range(writers)]
                reports = [f.result() for f in futures]
        else:
            results: dict[int, WriterReport] = {}

            def write(n: int) -> None:
                results[n] = run_writer(backend, url, n, revisions, seed, deadline)

            workers = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            reports = [results[n] for n in sorted(results)]
    finally:
        stop.set()
        for t in threads:
            t.join()

    result = StressResult(
        backend=backend, database=database, writers=writers,
        revisions=1 + sum(len(r.log) for r in reports),
        conflicts=sum(r.conflicts for r in reports),
        duration=0.0, reads=reads, processes=processes,
        truncated=any(r.truncated for r in reports),
    )
    problems = result.problems
    problems += order_violations
    problems += [f"reader: {e}" for e in reader_errors]
    for r in reports:
        problems += [f"writer{r.writer}: {e}" for e in r.errors]
        if r.empty:
            problems.append(f"writer{r.writer}: {r.empty} commit(s) wrote no revision")
    if len(reports) != writers:
        problems.append(f"only {len(reports)} of {writers} writers reported")
    problems += audit(backend, url, [setup, *(e for r in reports for e in r.log)], samples)
    result.duration = time.monotonic() - start
    return result


def audit(backend: str, url: str, entries: list[tuple[int, list[Op]]],
          samples: list[tuple[int, Model]]) -> list[str]:
    """What the database holds against the replay of the logged revisions."""
    problems: list[str] = []
    expected = replay(entries)
    auditor = Endpoint(backend, url)
    try:
        rows = auditor.revision_rows()
        in_db = [rid for rid, _ in rows]
        if in_db != sorted(expected):
            problems.append(f"revisions in the database {in_db} differ from the logged "
                            f"ones {sorted(expected)}")
        stamps = [stamp for _, stamp in rows]
        if stamps != sorted(stamps):
            problems.append("revision timestamps decrease along ids")
        with auditor.session() as h:
            problems += [f"verify: {v}" for v in h.verify()]
        differing: list[int] = []
        for revision_id in in_db:
            with auditor.session() as h:
                got = freeze_view(h, revision_id)
            if revision_id in expected and got != expected[revision_id]:
                if not differing:
                    problems.append(_mismatch(f"as of {revision_id} (the first revision "
                                              f"to differ)", expected[revision_id], got))
                differing.append(revision_id)
        if differing:
            problems.append(f"the as-of view differs from the replay at {len(differing)} "
                            f"of {len(in_db)} revisions")
        with auditor.session() as h:
            live = freeze_live(h)
        if in_db and live != expected.get(in_db[-1]):
            problems.append(_mismatch("live model", expected.get(in_db[-1], {}), live))
    finally:
        auditor.close()
    bad_samples = [(r, m) for r, m in samples if r in expected and m != expected[r]]
    if bad_samples:
        revision_id, model = bad_samples[0]
        problems.append(_mismatch(f"{len(bad_samples)} of {len(samples)} reader samples, "
                                  f"e.g. as of {revision_id},", expected[revision_id], model))
    return problems


def _mismatch(where: str, expected: Model, got: Model) -> str:
    diffs = [f"{pid}: expected {expected.get(pid)}, found {got.get(pid)}"
             for pid in sorted(set(expected) | set(got)) if expected.get(pid) != got.get(pid)]
    return f"{where} differs from the replay: " + "; ".join(diffs)


def main(argv: list[str] | None = None) -> int:
    from databases import create_run_database, drop_run_database, server_url, sqlite_url

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, default="sqlalchemy")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "mariadb"], default="postgresql")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--revisions", type=int, default=20, help="revisions per writer")
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--processes", action="store_true",
                        help="run the writers as processes (server databases only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds")
    args = parser.parse_args(argv)

    if args.db == "sqlite":
        import tempfile

        directory = Path(tempfile.mkdtemp(prefix="vdm-stress-"))
        url = sqlite_url(directory)
    else:
        check_loopback(server_url(args.db))
        url = create_run_database(args.db)
    try:
        result = run_stress(url, args.backend, args.writers, args.revisions, args.readers,
                            args.processes, args.seed, args.time_limit)
    finally:
        if args.db != "sqlite":
            drop_run_database(args.db)
    print(result.figures())
    for problem in result.problems:
        print(f"PROBLEM: {problem}")
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
