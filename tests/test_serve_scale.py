"""``vdm serve`` on 100,000 revisions: each page issues the same few queries as on six.

The wiki's six revisions are written through vdm, then 100,000 more are
generated set-based (a few ``INSERT ... SELECT`` over a table of numbers):
revision ``7 + n`` edits the title of page ``1001 + n % 1000``, so each of
those pages has 100 versions with contiguous validity intervals.  The
statements each page sends are recorded with SQLAlchemy's
``before_cursor_execute`` event, on the small history and on the large
one: the count must not change with the history's size, and the pages that
look up one revision, object or row must reach the large tables only
through their indexes (``EXPLAIN`` on SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from serve_helpers import Served, write_wiki
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    case,
    cast,
    event,
    insert,
    literal,
    select,
)

GENERATED = 100_000
PAGES = 1000

#: Pages that read a bounded slice of history, whatever its size.
KEYED = ["/revision/50000", "/object/wiki_page/1500", "/diff/wiki_page/1500",
         "/diff/wiki_page/1500?from=20000&to=60000", "/model/50000/wiki_page/1500"]
#: Pages that walk an index from one end, a page at a time.
WALKED = ["/", "/?author=bob&limit=20", "/?before=50000", "/?table=wiki_page",
          "/model/50000", "/model/50000/wiki_page", "/model/50000/wiki_page?offset=500"]


def generate_history(engine) -> None:
    """Revisions 7..100006 and their versions of pages 1001..2000, set-based."""
    meta = MetaData()
    meta.reflect(engine, only=["revision", "wiki_page", "wiki_page_revision"])
    rt, page, vt = (meta.tables[n] for n in ("revision", "wiki_page", "wiki_page_revision"))
    numbers = Table("scale_numbers", meta,
                    Column("n", Integer, primary_key=True, autoincrement=False))
    numbers.create(engine)
    try:
        with engine.begin() as connection:
            connection.execute(insert(numbers), [{"n": n} for n in range(GENERATED)])
            k = numbers.c.n
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            connection.execute(insert(rt).from_select(
                ["id", "timestamp", "author", "message", "state"],
                select(k + 7, literal(now), case((k % 3 == 0, "ann"), (k % 3 == 1, "bob"),
                                                 else_="cat"),
                       literal("Retitle page ") + cast(k % PAGES, String(10)),
                       literal("active"))))
            expired = case((k + PAGES < GENERATED, k + PAGES + 7), else_=None)
            connection.execute(insert(vt).from_select(
                ["id", "slug", "title", "body", "state", "revision_id", "expired_id",
                 "operation_type"],
                select(k % PAGES + 1001, literal("page-") + cast(k % PAGES, String(10)),
                       literal("Title ") + cast(k, String(10)), literal("Text."),
                       literal("active"), k + 7, expired,
                       case((k < PAGES, 0), else_=1))))
            current = vt.c.expired_id.is_(None) & (vt.c.id > 1000)
            connection.execute(insert(page).from_select(
                ["id", "slug", "title", "body", "state", "revision_id"],
                select(vt.c.id, vt.c.slug, vt.c.title, vt.c.body, vt.c.state,
                       vt.c.revision_id).where(current)))
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("ANALYZE")
    finally:
        numbers.drop(engine)


class Recorder:
    """The statements the server sends while one page is made."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.statements: list[tuple[str, object]] = []
        event.listen(served.app.state.source.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append((statement, parameters))

    def page(self, path: str) -> tuple[list[tuple[str, object]], float]:
        self.statements = []
        started = time.perf_counter()
        answer = self.served.get(path + ("&" if "?" in path else "?") + "format=json")
        took = time.perf_counter() - started
        assert answer.status == 200, (path, answer.body)
        return self.statements, took


def plans(engine, statements) -> list[str]:
    """The query plan lines of ``statements`` (SQLite and PostgreSQL)."""
    prefix = {"sqlite": "EXPLAIN QUERY PLAN ", "postgresql": "EXPLAIN "}[engine.dialect.name]
    found = []
    with engine.connect() as connection:
        for statement, parameters in statements:
            rows = connection.exec_driver_sql(prefix + statement, parameters)
            found.extend(str(row[-1]) for row in rows)
    return found


def full_scans(dialect: str, lines: list[str]) -> list[str]:
    """Plan lines that read a whole large table rather than seek in an index."""
    large = r"(wiki_page_revision|revision)\b"
    if dialect == "sqlite":
        return [line for line in lines if re.search(rf"^SCAN {large}(?! USING)", line)]
    return [line for line in lines if re.search(rf"Seq Scan on {large}", line)]


@pytest.mark.slow
def test_pages_issue_the_same_few_queries_on_100000_revisions(db, engine):
    write_wiki(engine)
    with Served(db.url) as served:
        recorder = Recorder(served)
        recorder.page("/")  # the schema is reflected once, on the first request
        small = {path: len(recorder.page(path)[0]) for path in KEYED + WALKED
                 if not path.startswith(("/revision/50000", "/model/50000"))
                 and "wiki_page/1500" not in path}
    generate_history(engine)
    with Served(db.url) as served:
        recorder = Recorder(served)
        log = served.json("/?limit=1")
        assert log["revisions"][0]["id"] == GENERATED + 6
        large: dict[str, int] = {}
        timings: dict[str, float] = {}
        for path in KEYED + WALKED:
            statements, took = recorder.page(path)
            large[path], timings[path] = len(statements), took
            if path in KEYED and engine.dialect.name in ("sqlite", "postgresql"):
                scans = full_scans(engine.dialect.name, plans(engine, statements))
                assert scans == [], (path, scans)
        page = served.json("/object/wiki_page/1500")
        assert len(page["timeline"]) == GENERATED // PAGES
        diff = served.json("/diff/wiki_page/1500?from=20000&to=60000")
        assert [f["name"] for f in diff["fields"] if f["changed"]] == ["title"]
    print("\nstatements and seconds per page on", db.name, "with", GENERATED + 6, "revisions:")
    for path in KEYED + WALKED:
        print(f"  {large[path]:3d}  {timings[path]:6.3f}s  {path}")
    # The same pages on six revisions sent exactly as many statements.
    assert {p: large[p] for p in small} == small
    # Three versioned tables: at most a few statements per table, per page.
    assert max(large.values()) <= 10, large
    assert max(timings.values()) < 10, timings
