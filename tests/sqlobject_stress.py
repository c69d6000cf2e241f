"""The stress tool of :mod:`stress`, for the SQLObject backend.

Writer threads, each with its own SQLObject connection and a new vdm
:class:`~vdm.sqlobject.Session` per attempt, commit a fixed number of
revisions to the versioned-link model of :mod:`sqlobject_models`
(``Package`` with its ``tags`` many-to-many and ``extras`` map): creating,
renaming, relicensing, soft-deleting, undeleting and hard-deleting
packages, and editing their tags and extras.  The pool of packages is
small, so writers overlap; a writer whose read went stale must get
:class:`vdm.ConflictError` (and retries with a fresh read), never anything
else.  Readers meanwhile read the whole model with
:func:`vdm.sqlobject.as_of` at committed revisions.

The audit is that of :mod:`stress` (whose log format, replay and report
classes are reused): revision ids appear in commit order to an observer on
a separate connection, the database holds exactly the logged revisions,
``Repository.verify()`` is empty, and the as-of view at every revision,
the readers' samples and the live model equal the replay of the logs.

Bounded in count and time; loopback databases only::

    python tests/sqlobject_stress.py --db mariadb --writers 4 --revisions 20
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import make_url
from sqlobject import connectionForURI
from sqlobject_models import LINKS, LinkLicense, Package, Tag
from stress import (
    EXTRA_KEYS,
    LICENSES,
    MAX_ATTEMPTS,
    POOL_MAX,
    POOL_MIN,
    TAGS,
    Model,
    Op,
    StressResult,
    WriterReport,
    _mismatch,
    _state,
    check_loopback,
    replay,
)

from vdm import ConflictError
from vdm.sqlobject import Repository, Revision, Session, as_of, create_tables


def so_uri(url: str) -> str:
    """The SQLObject URI of an SQLAlchemy URL (as ``sqlobject_models`` does)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return "sqlite:" + str(parsed.database)
    auth = parsed.username or ""
    if parsed.password:
        auth += f":{parsed.password}"
    location = f"{auth}@{parsed.host}:{parsed.port}/{parsed.database}"
    if backend == "postgresql":
        return f"postgres://{location}?driver=psycopg2"
    return f"mysql://{location}?driver=pymysql&charset=utf8mb4"


# -- the model as plain data ------------------------------------------------


def freeze_live(conn: Any) -> Model:
    """The live model as plain data, read in one transaction."""
    tr = conn.transaction()
    try:
        model: Model = {}
        for p in Package.select(orderBy="id", connection=tr):
            extras = tuple(sorted(p.extras.items()))
            model[p.id] = (p.name, _state(p.state), p.license.name if p.license else None,
                           tuple(sorted(t.name for t in p.tags)), extras)
        return model
    finally:
        tr.commit(close=True)


def freeze_view(conn: Any, revision_id: int) -> Model:
    """The model as of ``revision_id``, read through :func:`vdm.sqlobject.as_of`."""
    tr = conn.transaction()
    try:
        view = as_of(tr, revision_id)
        model: Model = {}
        for p in view.all(Package):
            license = p.license
            model[p.id] = (p.name, _state(p.state), license.name if license else None,
                           tuple(sorted(t.name for t in p.tags)),
                           tuple(sorted(p.extras.items())))
        return model
    finally:
        tr.commit(close=True)


# -- writers ----------------------------------------------------------------


def setup_model(uri: str) -> tuple[int, list[Op]]:
    """Create the tables and the vocabulary; return the logged first revision."""
    conn = connectionForURI(uri)
    try:
        create_tables(conn, LINKS)
        s = Session(conn)
        try:
            s.revision = rev = Revision(author="setup", message="vocabulary and packages")
            tr = s.transaction
            for name in TAGS:
                Tag(name=name, connection=tr)
            licenses = {n: LinkLicense(name=n, connection=tr) for n in LICENSES}
            ops: list[Op] = []
            for i in range(POOL_MAX - 1):
                name = LICENSES[i % 2]
                p = Package(name=f"p{i}", license=licenses[name], connection=tr)
                ops.append(("create", p.id, p.name, name))
            s.commit()
        finally:
            s.close()
        assert rev.id is not None
        return rev.id, ops
    finally:
        conn.close()


def _one_action(s: Session, rng: random.Random, n: int, i: int, pool: list[Any],
                tags: dict[str, Any], licenses: dict[str, Any]) -> list[Op]:
    """Apply one random change in the session; return it as logged ops."""
    tr = s.transaction
    create = len(pool) < POOL_MIN or (len(pool) < POOL_MAX and rng.random() < 0.15)
    if create or not pool:
        license_name = rng.choice([*LICENSES, None])
        pkg = Package(name=f"w{n}.{i}.{rng.randrange(10**6)}",
                      license=licenses[license_name] if license_name else None,
                      connection=tr)
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
        for link in [*pkg.package_tags, *pkg.package_groups, *pkg.extras_list]:
            link.destroySelf()
        pkg.destroySelf()
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


def run_writer(uri: str, n: int, revisions: int, seed: int, deadline: float) -> WriterReport:
    """Writer ``n`` on a connection of its own: ``revisions`` revisions, retrying on conflict."""
    report = WriterReport(writer=n)
    rng = random.Random(f"{seed}/{n}")
    conn = connectionForURI(uri)
    try:
        for i in range(revisions):
            for _attempt in range(MAX_ATTEMPTS):
                if time.monotonic() > deadline:
                    report.truncated = True
                    return report
                s = Session(conn)
                try:
                    tr = s.transaction
                    pool = list(Package.select(orderBy="id", connection=tr))
                    for p in pool:  # read every value now: this read may go stale
                        p.name  # noqa: B018
                    tags = {t.name: t for t in Tag.select(connection=tr)}
                    licenses = {x.name: x for x in LinkLicense.select(connection=tr)}
                    time.sleep(rng.uniform(0, 0.004))
                    rev = s.revision = Revision(author=f"writer{n}", message=f"{n}:{i}")
                    ops: list[Op] = []
                    for _ in range(rng.choice([1, 1, 2])):
                        ops += _one_action(s, rng, n, i, pool, tags, licenses)
                        if rng.random() < 0.3:
                            s.flush()
                    s.commit()
                except ConflictError:
                    report.conflicts += 1
                    s.rollback()
                    continue
                except Exception as exc:  # noqa: BLE001 - any other error is a finding
                    report.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
                    s.rollback()
                    continue
                finally:
                    s.close()
                if rev.id is None:
                    report.empty += 1
                else:
                    report.log.append((rev.id, ops))
                break
            else:
                report.errors.append(f"gave up revision {i} after {MAX_ATTEMPTS} attempts")
                return report
    finally:
        conn.close()
    return report


# -- the run ----------------------------------------------------------------


def run_stress(url: str, writers: int = 4, revisions: int = 10, readers: int = 2,
               seed: int = 0, time_limit: float = 120.0) -> StressResult:
    """Stress the (empty) database at SQLAlchemy ``url`` through SQLObject; audit it."""
    check_loopback(url)
    uri = so_uri(url)
    database = make_url(url).get_backend_name()
    if database == "sqlite" and writers > 1:
        raise ValueError("SQLite has one writer at a time (a database lock); "
                         "stress concurrent writers on PostgreSQL or MariaDB")
    start = time.monotonic()
    deadline = start + time_limit
    setup = setup_model(uri)

    seen: list[int] = []
    order_violations: list[str] = []
    reader_errors: list[str] = []
    samples: list[tuple[int, Model]] = []
    reads = 0
    stop = threading.Event()

    def observe() -> None:
        known: set[int] = set()
        conn = connectionForURI(uri)
        try:
            while True:
                done = stop.is_set()
                tr = conn.transaction()  # a fresh snapshot each time
                ids = {int(r[0]) for r in tr.queryAll("SELECT id FROM revision")}
                tr.commit(close=True)
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
            conn.close()

    def read(k: int) -> None:
        nonlocal reads
        rng = random.Random(f"{seed}/reader{k}")
        conn = connectionForURI(uri)
        try:
            while not stop.is_set():
                if not seen:
                    time.sleep(0.005)
                    continue
                revision_id = rng.choice(seen)
                try:
                    model = freeze_view(conn, revision_id)
                except Exception as exc:  # noqa: BLE001 - any error is a finding
                    reader_errors.append(f"as of {revision_id}: {type(exc).__name__}: {exc}")
                    return
                reads += 1
                if len(samples) < 500:
                    samples.append((revision_id, model))
        finally:
            conn.close()

    threads = [threading.Thread(target=observe)]
    threads += [threading.Thread(target=read, args=(k,)) for k in range(readers)]
    for t in threads:
        t.start()
    results: dict[int, WriterReport] = {}
    try:
        def write(n: int) -> None:
            results[n] = run_writer(uri, n, revisions, seed, deadline)

        workers = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        stop.set()
        for t in threads:
            t.join()
    reports = [results[n] for n in sorted(results)]

    result = StressResult(
        database=database, writers=writers,
        revisions=1 + sum(len(r.log) for r in reports),
        conflicts=sum(r.conflicts for r in reports),
        duration=0.0, reads=reads, truncated=any(r.truncated for r in reports),
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

    expected = replay([setup, *(e for r in reports for e in r.log)])
    conn = connectionForURI(uri)
    try:
        rows = conn.queryAll("SELECT id, timestamp FROM revision ORDER BY id")
        in_db = [int(r[0]) for r in rows]
        if in_db != sorted(expected):
            problems.append(f"revisions in the database {in_db} differ from the logged "
                            f"ones {sorted(expected)}")
        stamps = [r[1] for r in rows]
        if stamps != sorted(stamps):
            problems.append("revision timestamps decrease along ids")
        problems += [f"verify: {v}" for v in Repository(conn, LINKS).verify()]
        differing: list[int] = []
        for revision_id in in_db:
            got = freeze_view(conn, revision_id)
            if revision_id in expected and got != expected[revision_id]:
                if not differing:
                    problems.append(_mismatch(f"as of {revision_id} (the first revision "
                                              f"to differ)", expected[revision_id], got))
                differing.append(revision_id)
        if differing:
            problems.append(f"the as-of view differs from the replay at {len(differing)} "
                            f"of {len(in_db)} revisions")
        try:
            live = freeze_live(conn)
        except Exception as exc:  # noqa: BLE001 - a finding, reported
            problems.append(f"reading the live model: {type(exc).__name__}: {exc}")
            live = expected.get(in_db[-1], {}) if in_db else {}
        extras = conn.queryAll(
            "SELECT package_id, extra_key, COUNT(*) FROM package_extra WHERE state = "
            "'active' GROUP BY package_id, extra_key HAVING COUNT(*) > 1")
        problems += [f"package {r[0]} has {r[2]} active extras {r[1]!r} (concurrent "
                     f"creations of one key were not a conflict)" for r in extras]
        if in_db and live != expected.get(in_db[-1]):
            problems.append(_mismatch("live model", expected.get(in_db[-1], {}), live))
    finally:
        conn.close()
    bad = [(r, m) for r, m in samples if r in expected and m != expected[r]]
    if bad:
        revision_id, model = bad[0]
        problems.append(_mismatch(f"{len(bad)} of {len(samples)} reader samples, "
                                  f"e.g. as of {revision_id},", expected[revision_id], model))
    result.duration = time.monotonic() - start
    return result


def main(argv: list[str] | None = None) -> int:
    from databases import create_run_database, drop_run_database, server_url

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["postgresql", "mariadb"], default="postgresql")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--revisions", type=int, default=20, help="revisions per writer")
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds")
    args = parser.parse_args(argv)
    check_loopback(server_url(args.db))
    url = create_run_database(args.db)
    try:
        result = run_stress(url, args.writers, args.revisions, args.readers,
                            args.seed, args.time_limit)
    finally:
        drop_run_database(args.db)
    print(result.figures())
    for problem in result.problems:
        print(f"PROBLEM: {problem}")
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
