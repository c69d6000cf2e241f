"""The scenarios, run inside one system's worker process.

:class:`Bench` owns the system's two stores (see :mod:`benchmarks.databases`)
and answers the parent's requests: build the read history once, then time
one sample of a scenario at a time.  Every sample checks its answer against
the values the setup wrote, so a fast wrong answer fails the run instead of
winning it.  Setups and checks are never inside the timed region.
"""

from __future__ import annotations

import gc
import re
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from benchmarks.common import TEXT, Adapter, NotAvailable, Sizes, WrongAnswer
from benchmarks.databases import Store

#: Authors the books of the update scenario's first revision link to.
AUTHORS = 20
#: Books changed by each revision of the update scenario.
PER_REVISION = 10


class Bench:
    """One system on one database."""

    def __init__(self, adapter: Adapter, db: str, workdir: Path, sizes: Sizes) -> None:
        self.a = adapter
        self.sizes = sizes
        metadata = adapter.Base.metadata
        self.write = Store(db, adapter.name, "w", workdir, metadata)
        self.read = Store(db, adapter.name, "r", workdir, metadata, fast_commits=True)
        self.history: dict[str, Any] = {}
        self.keeps_history = adapter.own_tables is not None

    def server_version(self) -> str:
        """The database server's version, for the report header."""
        with self.write.engine.connect() as conn:
            info = conn.dialect.server_version_info or ()
        return ".".join(str(x) for x in info)

    def close(self) -> None:
        """Drop both stores."""
        self.write.drop()
        self.read.drop()

    # -- dispatch --------------------------------------------------------

    def sample(self, key: str) -> float:
        """Seconds of one sample of scenario ``key`` (per read for reads)."""
        name, _, arg = key.partition(":")
        method: Callable[..., float] = getattr(self, f"_sample_{name}")
        return method(int(arg)) if arg else method()

    def _timed(self, work: Callable[[], Any], collect: bool = True) -> tuple[float, Any]:
        # The collector stays off while timing, so no system pays for
        # garbage another one (or the setup) left behind.
        if collect:
            gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            result = work()
            return time.perf_counter() - start, result
        finally:
            gc.enable()

    # -- writes ----------------------------------------------------------

    def _fresh_authors(self) -> None:
        self.write.reset()
        a = self.a
        with a.session(self.write.engine) as session:
            a.begin(session, "authors")
            session.add_all([a.Author(name=f"a{j}") for j in range(AUTHORS)])
            session.commit()

    def _sample_create(self) -> float:
        a, n = self.a, self.sizes.create
        self.write.reset()
        with a.session(self.write.engine) as session:
            def work() -> None:
                a.begin(session, "create")
                authors = [a.Author(name=f"a{i}") for i in range(n)]
                session.add_all(authors)
                for i in range(n):
                    book = a.Book(name=f"b{i}", title=f"title {i}", text=TEXT)
                    session.add(book)
                    session.add(a.BookAuthor(book=book, author=authors[i]))
                    session.add(a.BookAuthor(book=book, author=authors[(i + 1) % n]))
                session.commit()

            seconds, _ = self._timed(work)
            assert a.count(session, a.Book) == n
            assert a.count(session, a.Author) == n
            assert a.count(session, a.BookAuthor) == 2 * n
            if self.keeps_history:
                assert a.version_count(session, a.Book) == n
                assert a.version_count(session, a.Author) == n
                assert a.version_count(session, a.BookAuthor) == 2 * n
            book = session.scalars(select(a.Book).filter_by(name=f"b{n - 1}")).one()
            assert sorted(link.author.name for link in book.book_authors) == sorted(
                [f"a{n - 1}", "a0"])
        return seconds

    def _sample_update(self) -> float:
        a, s = self.a, self.sizes
        self._fresh_authors()
        with a.session(self.write.engine) as session:
            a.begin(session, "pool")
            session.add_all([a.Book(name=f"p{i}", title=f"p{i} u-", text=TEXT)
                             for i in range(s.update_pool)])
            session.commit()
            ids = list(session.scalars(select(a.Book.id).order_by(a.Book.id)))
            expected = {i: f"p{n} u-" for n, i in enumerate(ids)}
            for r in range(s.update_revisions):
                start = (r * PER_REVISION) % len(ids)
                for i in ids[start:start + PER_REVISION]:
                    expected[i] = f"{r}"

        with a.session(self.write.engine) as session:
            def work() -> None:
                for r in range(s.update_revisions):
                    start = (r * PER_REVISION) % len(ids)
                    chosen = ids[start:start + PER_REVISION]
                    a.begin(session, f"update {r}")
                    for book in session.scalars(select(a.Book).where(a.Book.id.in_(chosen))):
                        book.title = f"{r}"
                    session.commit()

            seconds, _ = self._timed(work)
            found = {i: t for i, t in session.execute(select(a.Book.id, a.Book.title))}
            assert found == expected
            if self.keeps_history:
                assert a.version_count(session, a.Book) == (
                    s.update_pool + PER_REVISION * s.update_revisions)
        return seconds

    # -- the read history ------------------------------------------------

    def _revision(self, session: Any, token: Any) -> int | None:
        try:
            return self.a.revision_id(session, token)
        except NotAvailable:
            return None

    def build_read(self) -> float:
        """Write the history the read scenarios read; returns its seconds."""
        start = time.perf_counter()
        self.read.reset()
        with self.a.session(self.read.engine) as session:
            self._build_mass(session)
            self._build_depths(session)
            self._build_links(session)
        self.read.analyze()
        return time.perf_counter() - start

    def _build_mass(self, session: Any) -> None:
        a, s = self.a, self.sizes
        revisions = []
        rev = a.begin(session, "mass 0")
        session.add_all([a.Book(name=f"m{i:06d}", title=f"m{i:06d} v0", text=TEXT)
                         for i in range(s.mass)])
        session.commit()
        revisions.append(self._revision(session, rev))
        for k in range(1, s.mass_versions):
            rev = a.begin(session, f"mass {k}")
            for book in session.scalars(select(a.Book).order_by(a.Book.id)):
                book.title = f"{book.name} v{k}"
            session.commit()
            revisions.append(self._revision(session, rev))
        ids = list(session.scalars(select(a.Book.id)))
        self.history["mass_range"] = (min(ids), max(ids))
        self.history["mass_revisions"] = revisions

    def _build_depths(self, session: Any) -> None:
        # One book per depth; revision k updates every book deeper than k,
        # so book d{depth} ends with exactly `depth` versions.
        a, depths = self.a, sorted(self.sizes.depths)
        rev = a.begin(session, "depth 0")
        books = {d: a.Book(name=f"d{d}", title=f"d{d} v0", text=TEXT) for d in depths}
        session.add_all(books.values())
        session.commit()
        self.history["depth_ids"] = {d: b.id for d, b in books.items()}
        revisions = [self._revision(session, rev)]
        last = depths[-1] if self.keeps_history else 1
        for k in range(1, last):
            rev = a.begin(session, f"depth {k}")
            # One SELECT refreshes the books (touching each expired book
            # would load it alone and autoflush the ones before it).
            ids = [i for d, i in self.history["depth_ids"].items() if d > k]
            for book in session.scalars(select(a.Book).where(a.Book.id.in_(ids))):
                book.title = f"{book.name} v{k}"
            session.commit()
            revisions.append(self._revision(session, rev))
        self.history["depth_revisions"] = revisions

    def _build_links(self, session: Any) -> None:
        # Revision j removes the link to author j-1, adds one to a new
        # author, and every 4th revision restores the link removed before.
        a, s = self.a, self.sizes
        rev = a.begin(session, "links 0")
        authors = [a.Author(name=f"la{j}") for j in range(s.links + s.link_steps)]
        book = a.Book(name="links", title="links", text=TEXT)
        session.add_all([*authors, book])
        for j in range(s.links):
            session.add(a.BookAuthor(book=book, author=authors[j]))
        session.commit()
        author_ids = [x.id for x in authors]
        book_id = book.id
        active = set(range(s.links))
        expected = [sorted(f"la{j}" for j in active)]
        revisions = [self._revision(session, rev)]
        for j in range(1, s.link_steps + 1):
            rev = a.begin(session, f"links {j}")
            a.set_state(session.get(a.BookAuthor, (book_id, author_ids[j - 1])), False)
            active.discard(j - 1)
            session.add(a.BookAuthor(book=book, author=authors[s.links - 1 + j]))
            active.add(s.links - 1 + j)
            if j % 4 == 0:
                a.set_state(session.get(a.BookAuthor, (book_id, author_ids[j - 2])), True)
                active.add(j - 2)
            session.commit()
            expected.append(sorted(f"la{x}" for x in active))
            revisions.append(self._revision(session, rev))
        self.history["links"] = (book_id, revisions, expected)

    # -- reads -----------------------------------------------------------

    def _per_read(self, prepare: Callable[[Any], Any],
                  read: Callable[[Any, Any], Any], check: Callable[[Any], None]) -> float:
        """Mean seconds of ``inner`` reads, each in a fresh session.

        One untimed read first warms the statement caches up.
        """
        with self.a.session(self.read.engine) as session:
            check(read(session, prepare(session)))
        total = 0.0
        gc.collect()
        for _ in range(self.sizes.inner):
            with self.a.session(self.read.engine) as session:
                target = prepare(session)
                seconds, result = self._timed(
                    lambda session=session, target=target: read(session, target),
                    collect=False)
                check(result)
                total += seconds
        return total / self.sizes.inner

    def _depth_target(self, depth: int) -> tuple[int, int, str]:
        if not self.keeps_history:
            raise NotAvailable("plain SQLAlchemy keeps no history")
        k = depth // 2
        return (self.history["depth_ids"][depth],
                self.history["depth_revisions"][k], f"d{depth} v{k}")

    def _sample_asof(self, depth: int) -> float:
        a = self.a
        book_id, revision, title = self._depth_target(depth)

        def check(found: Any) -> None:
            assert found == title, (found, title)

        return self._per_read(
            lambda session: None,
            lambda session, _: a.as_of_title(session, book_id, revision),
            check,
        )

    def _sample_live_get(self) -> float:
        a, depth = self.a, max(self.sizes.depths)
        book_id = self.history["depth_ids"][depth]
        last = (depth - 1) if self.keeps_history else 0

        def check(found: Any) -> None:
            assert found == f"d{depth} v{last}", found

        return self._per_read(
            lambda session: None,
            lambda session, _: a.live_title(session, book_id),
            check,
        )

    def _sample_live_read(self) -> float:
        a, s = self.a, self.sizes
        low, high = self.history["mass_range"]
        last = s.mass_versions - 1

        def check(rows: list[Any]) -> None:
            assert len(rows) == s.mass
            assert all(r.title == f"{r.name} v{last}" for r in rows)

        return self._per_read(
            lambda session: None,
            lambda session, _: session.scalars(
                select(a.Book).where(a.Book.id.between(low, high))).all(),
            check,
        )

    def _sample_all_as_of(self) -> float:
        a, s = self.a, self.sizes
        if not self.keeps_history:
            raise NotAvailable("plain SQLAlchemy keeps no history")
        middle = s.mass_versions // 2
        revision = self.history["mass_revisions"][middle]

        def check(rows: list[Any]) -> None:
            assert len(rows) == s.mass, len(rows)
            assert all(r.title == f"{r.name} v{middle}" for r in rows)

        return self._per_read(
            lambda session: None,
            lambda session, _: a.all_as_of(session, revision),
            check,
        )

    def _sample_versions(self) -> float:
        a, depth = self.a, self.sizes.versions_depth
        book_id, _, _ = self._depth_target(depth)
        expected = [f"d{depth} v{k}" for k in range(depth)]

        def check(titles: list[str]) -> None:
            assert titles == expected

        return self._per_read(
            lambda session: session.get(a.Book, book_id),
            lambda session, book: a.version_titles(session, book),
            check,
        )

    def _sample_authors_as_of(self) -> float:
        a = self.a
        if not self.keeps_history:
            raise NotAvailable("plain SQLAlchemy keeps no history")
        book_id, revisions, expected = self.history["links"]
        step = len(revisions) // 2

        def check(names: list[str]) -> None:
            if sorted(names) != expected[step]:
                raise WrongAnswer(f"as of revision {revisions[step]}: got {sorted(names)}, "
                                  f"the history holds {expected[step]}")

        return self._per_read(
            lambda session: None,
            lambda session, _: a.authors_as_of(session, book_id, revisions[step]),
            check,
        )

    def _sample_authors_live(self) -> float:
        a = self.a
        book_id, _, expected = self.history["links"]

        def check(names: list[str]) -> None:
            assert sorted(names) == expected[-1], (names, expected[-1])

        return self._per_read(
            lambda session: None,
            lambda session, _: a.live_authors(session, book_id),
            check,
        )

    # -- concurrent writers ----------------------------------------------

    def writers(self, threads: int, wait_ms: int) -> float:
        """Revisions per second of ``threads`` writers, each on its own row.

        Each revision loads the writer's book, changes its title, flushes,
        spends ``wait_ms`` milliseconds (the application's work between its
        first write and its commit) and commits.
        """
        a = self.a
        if self.write.db == "sqlite":
            raise NotAvailable("concurrent writers are measured on server databases")
        self.write.reset()
        with a.session(self.write.engine) as session:
            a.begin(session, "writers")
            books = [a.Book(name=f"w{i}", title="0", text=TEXT) for i in range(threads)]
            session.add_all(books)
            session.commit()
            ids = [book.id for book in books]
        counts = [0] * threads
        ends = [0.0] * threads
        errors: list[BaseException] = []
        start = threading.Barrier(threads + 1)
        stop_at = [0.0]

        def writer(i: int) -> None:
            try:
                with a.session(self.write.engine) as session:
                    start.wait()
                    while time.perf_counter() < stop_at[0]:
                        a.begin(session, f"writer {i}")
                        book = session.get(a.Book, ids[i])
                        book.title = str(counts[i] + 1)
                        session.flush()
                        if wait_ms:
                            time.sleep(wait_ms / 1000)
                        session.commit()
                        counts[i] += 1
                    ends[i] = time.perf_counter()
            except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
                errors.append(exc)
                ends[i] = time.perf_counter()

        workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
        for thread in workers:
            thread.start()
        began = time.perf_counter()
        stop_at[0] = began + self.sizes.writer_seconds
        start.wait()
        for thread in workers:
            thread.join()
        if errors:
            raise errors[0]
        elapsed = max(ends) - began
        with a.session(self.write.engine) as session:
            titles = dict(session.execute(select(a.Book.id, a.Book.title)).all())
            assert titles == {i: str(n) for i, n in zip(ids, counts, strict=True)}, titles
            if self.keeps_history:
                assert a.version_count(session, a.Book) == threads + sum(counts)
        return sum(counts) / elapsed

    # -- statements and memory -------------------------------------------

    def statements(self) -> dict[str, tuple[int, int]]:
        """``{work: (statements, of which on the system's own tables)}``."""
        a = self.a
        own = re.compile(rf"\b(?:{a.own_tables})\b", re.I) if a.own_tables else None
        seen: list[str] = []

        def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(statement)

        def counted(work: Callable[[], None]) -> tuple[int, int]:
            seen.clear()
            event.listen(self.write.engine, "before_cursor_execute", listen)
            try:
                work()
            finally:
                event.remove(self.write.engine, "before_cursor_execute", listen)
            mine = sum(1 for s in seen if own is not None and own.search(s))
            return len(seen), mine

        results: dict[str, tuple[int, int]] = {}
        counts = self.sizes.statement_counts
        for n in counts:
            self.write.reset()
            with a.session(self.write.engine) as session:
                def create(n: int = n, session: Any = session) -> None:
                    a.begin(session, f"create {n}")
                    session.add_all([a.Book(name=f"s{i}", title="t", text=TEXT)
                                     for i in range(n)])
                    session.commit()

                results[f"create {n}"] = counted(create)
                assert a.count(session, a.Book) == n
        n = counts[-1]
        with a.session(self.write.engine) as session:
            books = session.scalars(select(a.Book)).all()

            def update() -> None:
                a.begin(session, f"update {n}")
                for book in books:
                    book.title = "changed"
                session.commit()

            results[f"update {n}"] = counted(update)
            if self.keeps_history:
                assert a.version_count(session, a.Book) == 2 * n
        return results

    def memory(self) -> dict[int, int]:
        """``{depth: peak bytes}`` of reading one version at each depth."""
        a = self.a
        peaks: dict[int, int] = {}
        for depth in (min(self.sizes.depths), max(self.sizes.depths)):
            book_id, revision, title = self._depth_target(depth)
            best = None
            for attempt in range(4):
                with a.session(self.read.engine) as session:
                    gc.collect()
                    tracemalloc.start()
                    found = a.as_of_title(session, book_id, revision)
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                    assert found == title
                if attempt:  # the first read warms caches up
                    best = peak if best is None else min(best, peak)
            assert best is not None
            peaks[depth] = best
        return peaks
