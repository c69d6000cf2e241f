"""The ``vdm`` command line on every database of the matrix.

A small catalogue history is written through the SQLAlchemy backend (the
model of :mod:`models`); the command then reads it knowing nothing of that
model, and its output is checked both as tables for people and as
``--json``.  The commands run in-process (:func:`vdm.cli.main` with the
output captured, in the working directory the shell would have); one
smoke test runs ``python -m vdm`` as a subprocess, as a user would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from models import Author, Book, Edition, License
from sqlalchemy import make_url, text

from vdm.cli import main
from vdm.sqlalchemy import Repository

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    """What one run of ``vdm`` did."""

    status: int
    out: str
    err: str

    def json(self) -> object:
        assert self.status == 0, self.err
        return json.loads(self.out)

    def table(self) -> list[list[str]]:
        return parse_table(self.out)


def vdm(*args: str, url: str | None = None, cwd: Path | None = None) -> Run:
    """Run ``vdm ARGS [--url URL]`` in-process, in directory ``cwd``."""
    out, err = io.StringIO(), io.StringIO()
    argv = [*args, *(["--url", url] if url else [])]
    before = os.getcwd()
    os.chdir(cwd or ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(argv, out=out)
            except SystemExit as exc:  # argparse: --help, --version, bad usage
                status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        os.chdir(before)
    return Run(status, out.getvalue(), err.getvalue())


def vdm_subprocess(*args: str, url: str | None = None) -> Run:
    """Run ``python -m vdm ARGS [--url URL]`` with the working tree's vdm."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "vdm", *args, *(["--url", url] if url else [])]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    return Run(result.returncode, result.stdout, result.stderr)


HEADERS = ("REV", "TIMESTAMP (UTC)", "AUTHOR", "CHANGES", "MESSAGE", "TABLE", "KEY",
           "CHANGE", "FIELD", "OLD", "NEW", "VALUE", "KIND", "DETAIL")


def parse_table(output: str) -> list[list[str]]:
    """The rows of the first aligned table in ``output``, cut at the header's columns."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith(("REV ", "TABLE ", "FIELD ")))
    header = lines[start]
    names = [w for w in header.split("  ") if w.strip()]
    cuts = [header.index(n.strip()) for n in names] + [None]
    table = []
    for line in lines[start + 1:]:
        if not line.strip() or line.startswith("revisions "):
            break
        table.append([line[a:b].strip() for a, b in zip(cuts, cuts[1:], strict=False)])
    return [[n.strip() for n in names], *table]


@pytest.fixture
def catalogue(make_session, db):
    """Four revisions on the test database; its URL.

    r1 ann: the GPL, warandpeace (typo) and annakarenina, an edition
    (composite key); r2 bob: the typo fixed, an author added, more pages;
    r3 ann: annakarenina deleted (softly); r4 cat: the author erased.
    """
    session = make_session()
    repo = Repository(Book.metadata, session)
    repo.new_revision(author="ann", message="Add two novels")
    gpl = License(id=1, name="GPL")
    wp = Book(id=1, name="warandpeace", title="War and Peacee", license=gpl)
    ak = Book(id=2, name="annakarenina", title="Anna Karenina")
    session.add_all([wp, ak, Edition(book_name="warandpeace", number=1, pages=1200)])
    repo.commit()
    repo.new_revision(author="bob", message="Fix the typo,\nadd the author")
    wp.title = "War and Peace"
    wp.authors.append(Author(id=1, name="tolstoy"))
    session.get(Edition, ("warandpeace", 1)).pages = 1225
    repo.commit()
    repo.new_revision(author="ann", message="Remove Anna Karenina")
    ak.delete()
    repo.commit()
    repo.new_revision(author="cat", message="Erase the author")
    session.delete(wp.authors[0])
    repo.commit()
    session.close()
    return db.url


# -- log ----------------------------------------------------------------


def test_log_lists_revisions_newest_first_with_their_changes(catalogue):
    run = vdm("log", url=catalogue)
    assert (run.status, run.err) == (0, "")
    table = run.table()
    assert table[0] == ["REV", "TIMESTAMP (UTC)", "AUTHOR", "CHANGES", "MESSAGE"]
    assert [(r[0], r[2], r[3], r[4]) for r in table[1:]] == [
        ("r4", "cat", "1", "Erase the author"),
        ("r3", "ann", "1", "Remove Anna Karenina"),
        ("r2", "bob", "3", "Fix the typo, add the author"),
        ("r1", "ann", "4", "Add two novels"),
    ]
    assert all(len(r[1]) == len("2024-05-01 12:00:00") for r in table[1:])
    assert run.out.splitlines()[-1] == "revisions 1-4 of 4"


def test_log_pages_and_filters(catalogue):
    page = vdm("log", "--limit", "2", "--offset", "1", url=catalogue)
    assert [r[0] for r in page.table()[1:]] == ["r3", "r2"]
    assert page.out.splitlines()[-1] == "revisions 2-3 of 4; next page: --offset 3"

    ann = vdm("log", "--author", "ann", "--json", url=catalogue).json()
    assert (ann["total"], [r["id"] for r in ann["revisions"]]) == (2, [3, 1])

    everything = vdm("log", "--json", url=catalogue).json()
    assert everything["total"] == 4 and everything["limit"] == 20
    first = everything["revisions"][-1]
    assert first == {"id": 1, "timestamp": first["timestamp"], "author": "ann",
                     "message": "Add two novels", "state": "active", "extra": None,
                     "changes": 4}
    assert first["timestamp"].endswith("+00:00")

    # --since keeps the revisions at or after a time (naive is UTC; an
    # offset is converted), whatever the clock's resolution.
    third = everything["revisions"][1]["timestamp"]
    when = dt.datetime.fromisoformat
    expected = [r["id"] for r in everything["revisions"] if when(r["timestamp"]) >= when(third)]
    since = vdm("log", "--since", third, "--json", url=catalogue).json()
    assert [r["id"] for r in since["revisions"]] == expected and 3 in expected
    naive = third.removesuffix("+00:00")
    assert vdm("log", "--since", naive, "--json", url=catalogue).json() == since
    none = vdm("log", "--author", "nobody", url=catalogue)
    assert (none.status, none.out) == (0, "no revision matches\n")


# -- show ---------------------------------------------------------------


def test_show_prints_every_row_a_revision_changed(catalogue):
    run = vdm("show", "r2", url=catalogue)
    assert run.status == 0, run.err
    head, count = run.out.splitlines()[:2]
    assert head.startswith("r2  20") and head.endswith(' UTC  bob  "Fix the typo, add the author"')
    assert count == "3 rows changed:"
    assert run.table() == [
        ["TABLE", "KEY", "CHANGE", "FIELD", "OLD", "NEW"],
        ["author", "id=1", "created", "name", "", "'tolstoy'"],
        ["", "", "", "book_id", "", "1"],
        ["", "", "", "state", "", "'active'"],
        ["book", "id=1", "updated", "title", "'War and Peacee'", "'War and Peace'"],
        ["edition", "book_name='warandpeace',number=1", "updated", "pages", "1200", "1225"],
    ]


def test_show_json_and_deletes(catalogue):
    data = vdm("show", "2", "--json", url=catalogue).json()
    assert data["revision"]["author"] == "bob"
    assert data["revision"]["message"] == "Fix the typo,\nadd the author"
    assert data["changes"] == [
        {"table": "author", "key": {"id": 1}, "kind": "created",
         "fields": {"id": {"old": None, "new": 1}, "name": {"old": None, "new": "tolstoy"},
                    "book_id": {"old": None, "new": 1}, "state": {"old": None, "new": "active"}}},
        {"table": "book", "key": {"id": 1}, "kind": "updated",
         "fields": {"title": {"old": "War and Peacee", "new": "War and Peace"}}},
        {"table": "edition", "key": {"book_name": "warandpeace", "number": 1}, "kind": "updated",
         "fields": {"pages": {"old": 1200, "new": 1225}}},
    ]
    soft = vdm("show", "3", "--json", url=catalogue).json()["changes"]
    assert soft == [{"table": "book", "key": {"id": 2}, "kind": "deleted",
                     "fields": {"state": {"old": "active", "new": "deleted"}}}]
    hard = vdm("show", "4", url=catalogue)
    assert hard.table()[1:] == [["author", "id=1", "destroyed", "", "", ""]]


# -- diff ---------------------------------------------------------------


def test_diff_compares_the_whole_model_between_two_revisions(catalogue):
    run = vdm("diff", "1", "3", url=catalogue)
    assert run.status == 0, run.err
    assert run.out.splitlines()[0] == "r1 -> r3: 3 tables differ"
    assert run.table() == [
        ["TABLE", "KEY", "CHANGE", "FIELD", "r1", "r3"],
        ["author", "id=1", "added", "name", "", "'tolstoy'"],
        ["", "", "", "book_id", "", "1"],
        ["", "", "", "state", "", "'active'"],
        ["book", "id=1", "changed", "title", "'War and Peacee'", "'War and Peace'"],
        ["book", "id=2", "changed", "state", "'active'", "'deleted'"],
        ["edition", "book_name='warandpeace',number=1", "changed", "pages", "1200", "1225"],
    ]
    data = vdm("diff", "r1", "r4", "--json", url=catalogue).json()
    assert (data["from"], data["to"]) == (1, 4)
    assert sorted(data["tables"]) == ["book", "edition"], "the author came and went"
    assert data["tables"]["book"]["changed"][0] == {
        "key": {"id": 1}, "fields": {"title": {"old": "War and Peacee", "new": "War and Peace"}}}
    back = vdm("diff", "4", "1", "--json", url=catalogue).json()
    assert back["tables"]["book"]["changed"][0]["fields"]["title"] == {
        "old": "War and Peace", "new": "War and Peacee"}
    same = vdm("diff", "2", "2", url=catalogue)
    assert (same.status, same.out) == (0, "r2 -> r2: the model is the same\n")


# -- blame --------------------------------------------------------------


def test_blame_names_the_revision_behind_each_field(catalogue):
    run = vdm("blame", "book", "1", url=catalogue)
    assert run.status == 0, run.err
    assert run.out.splitlines()[0] == "book(id=1)"
    table = run.table()
    assert table[0] == ["FIELD", "VALUE", "REV", "AUTHOR", "TIMESTAMP (UTC)", "MESSAGE"]
    assert [(r[0], r[1], r[2], r[3], r[5]) for r in table[1:]] == [
        ("id", "1", "r1", "ann", "Add two novels"),
        ("name", "'warandpeace'", "r1", "ann", "Add two novels"),
        ("title", "'War and Peace'", "r2", "bob", "Fix the typo, add the author"),
        ("text", "None", "r1", "ann", "Add two novels"),
        ("license_id", "1", "r1", "ann", "Add two novels"),
        ("publisher_id", "None", "r1", "ann", "Add two novels"),
        ("state", "'active'", "r1", "ann", "Add two novels"),
    ]


def test_blame_takes_composite_keys_and_shows_destroyed_rows(catalogue):
    data = vdm("blame", "edition", "warandpeace,1", "--json", url=catalogue).json()
    assert data["key"] == {"book_name": "warandpeace", "number": 1}
    assert data["destroyed_by"] is None
    assert [(f["field"], f["value"], f["revision"]["id"]) for f in data["fields"]] == [
        ("book_name", "warandpeace", 1), ("number", 1, 1), ("pages", 1225, 2)]
    assert data["fields"][2]["revision"]["author"] == "bob"

    gone = vdm("blame", "author", "1", url=catalogue)
    assert gone.out.splitlines()[0] == "author(id=1): destroyed by r4; its last values"
    assert [r[:3] for r in gone.table()[1:]] == [
        ["id", "1", "r2"], ["name", "'tolstoy'", "r2"], ["book_id", "1", "r2"],
        ["state", "'active'", "r2"]]
    assert vdm("blame", "author", "1", "--json", url=catalogue).json()["destroyed_by"]["id"] == 4


# -- verify -------------------------------------------------------------


def test_verify_is_quiet_on_a_sound_history_and_exits_1_on_violations(catalogue, engine):
    sound = vdm("verify", url=catalogue)
    assert (sound.status, sound.out) == (
        0, "history sound: 4 versioned tables (author, book, edition, license) checked\n")
    assert vdm("verify", "--json", url=catalogue).json() == {
        "sound": True, "tables": ["author", "book", "edition", "license"], "violations": []}

    # An update that bypassed vdm: the live row no longer equals its version.
    with engine.begin() as conn:
        conn.execute(text("UPDATE book SET title = 'War & Peace' WHERE id = 1"))
    broken = vdm("verify", url=catalogue)
    assert broken.status == 1, broken.err
    assert broken.out.splitlines()[0] == (
        "1 violation in 4 versioned tables (author, book, edition, license):")
    assert broken.table()[1] == [
        "book", "id=1", "head-mismatch", "r2",
        "book(id=1) differs from its current version (revision 2)"]
    data = json.loads(vdm("verify", "--json", url=catalogue).out)
    assert data["sound"] is False
    assert data["violations"] == [{
        "kind": "head-mismatch", "table": "book", "key": {"id": 1}, "revision_id": 2,
        "detail": "book(id=1) differs from its current version (revision 2)"}]


# -- errors -------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["show", "99"], "vdm show: error: there is no revision 99 in the database; "
                     "`vdm log` lists the revisions"),
    (["diff", "1", "99"], "vdm diff: error: there is no revision 99 in the database; "
                          "`vdm log` lists the revisions"),
    (["blame", "publisher", "1"], "vdm blame: error: there is no versioned table 'publisher' "
                                  "in the database (versioned tables: author, book, edition, "
                                  "license)"),
    (["blame", "book", "one"], "vdm blame: error: malformed key 'one' for table book: 'one' "
                               "is not a value of column id (INTEGER)"),
    (["blame", "edition", "warandpeace"], "vdm blame: error: malformed key 'warandpeace' for "
                                          "table edition: expected 2 comma-separated value(s), "
                                          "one for each key column (book_name, number)"),
    (["blame", "book", "42"], "vdm blame: error: book(id=42) has no history: no revision "
                              "ever wrote that key"),
], ids=["unknown-revision", "diff-unknown-revision", "unknown-table", "malformed-key",
        "short-composite-key", "unknown-key"])
def test_what_was_asked_is_wrong(catalogue, args, message):
    run = vdm(*args, url=catalogue)
    assert (run.status, run.out, run.err) == (2, "", message + "\n")


@pytest.mark.parametrize(("args", "message"), [
    (["show", "latest"], "vdm show: error: 'latest' is not a revision id; give a number "
                         "such as 3 (or r3), as `vdm log` shows them"),
    (["diff", "1", "r-2"], "vdm diff: error: 'r-2' is not a revision id; give a number "
                           "such as 3 (or r3), as `vdm log` shows them"),
    (["log", "--since", "yesterday"], "vdm log: error: --since 'yesterday' is not a date or "
                                      "time; give one like 2024-05-01, 2024-05-01T12:00 or "
                                      "2024-05-01T14:00+02:00"),
], ids=["malformed-revision", "malformed-diff-revision", "malformed-time"])
def test_malformed_arguments_are_refused_before_opening_the_database(tmp_path, args, message):
    # (No database at all: the arguments are checked first.)
    run = vdm(*args, url="sqlite:///missing.db", cwd=tmp_path)
    assert (run.status, run.out, run.err) == (2, "", message + "\n")


def test_a_database_vdm_never_wrote_to_is_refused(db, engine):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE plain (id INTEGER PRIMARY KEY)"))
    shown = make_url(db.url).render_as_string(hide_password=True)
    run = vdm("log", url=db.url)
    assert (run.status, run.out) == (2, "")
    assert run.err == (f"vdm log: error: {shown} is not a vdm database: it has no "
                       f"revision table, so vdm never wrote to it\n")


def test_a_password_in_the_url_is_never_printed(db):
    if db.name == "sqlite":
        pytest.skip("SQLite URLs have no password")
    url = make_url(db.url).set(password="s3cret-pw")
    run = vdm("verify", url=url.render_as_string(hide_password=False))
    # PostgreSQL trusts local users (the database is empty: not a vdm
    # database); MariaDB refuses the wrong password.  Either way the URL is
    # named, and its password is not.
    assert run.status == 2 and run.out == ""
    assert "s3cret-pw" not in run.err
    assert url.render_as_string(hide_password=True) in run.err and ":***@" in run.err
    assert len(run.err.splitlines()) == 1


def test_an_unreachable_server_is_a_one_line_error_without_the_password():
    url = "postgresql+psycopg://vdm:s3cret-pw@127.0.0.1:1/nowhere"
    run = vdm("log", url=url)
    assert run.status == 2 and run.out == ""
    assert run.err.startswith(
        "vdm log: error: cannot connect to postgresql+psycopg://vdm:***@127.0.0.1:1/nowhere: ")
    assert "s3cret-pw" not in run.err and len(run.err.splitlines()) == 1


@pytest.mark.parametrize(("url", "message"), [
    ("vdm-demo.db", "'vdm-demo.db' is not a database URL; give one like "
                    "sqlite:///vdm-demo.db or postgresql+psycopg://user@host/dbname"),
    ("postgresql://vdm:s3cret-pw@host:port/db",
     "'postgresql://vdm:***@host:port/db' is not a database URL; give one like "
     "sqlite:///vdm-demo.db or postgresql+psycopg://user@host/dbname"),
    ("nosuchdb://vdm:s3cret-pw@host/db",
     "cannot open nosuchdb://vdm:***@host/db: SQLAlchemy knows no database dialect or "
     "driver 'nosuchdb'"),
    ("sqlite:///missing.db", "cannot open sqlite:///missing.db: there is no file missing.db"),
], ids=["not-a-url", "bad-port", "unknown-dialect", "missing-sqlite-file"])
def test_a_bad_url_is_a_one_line_error(tmp_path, url, message):
    run = vdm("log", url=url, cwd=tmp_path)
    assert (run.status, run.out, run.err) == (2, "", f"vdm log: error: {message}\n")
    assert not (tmp_path / "missing.db").exists(), "no empty SQLite file is left behind"


def test_without_url_the_commands_read_the_demo_database(tmp_path):
    missing = vdm("verify", cwd=tmp_path)
    assert (missing.status, missing.err) == (
        2, "vdm verify: error: cannot open sqlite:///vdm-demo.db: there is no file "
           "vdm-demo.db (`vdm demo` writes it)\n")
    assert vdm("demo", cwd=tmp_path).status == 0
    log = vdm("log", "--json", cwd=tmp_path).json()
    assert [r["message"] for r in log["revisions"]] == [
        "Bring Anna Karenina back", "Remove Anna Karenina",
        "Fix the typo, add the author", "Add two novels"]
    assert vdm("verify", cwd=tmp_path).status == 0


def test_help_lists_every_command():
    run = vdm("--help")
    assert run.status == 0
    for command in ("demo", "log", "show", "diff", "blame", "verify"):
        assert f"    {command} " in run.out


def test_python_m_vdm_runs_as_a_user_runs_it(catalogue):
    run = vdm_subprocess("log", "--json", "--limit", "1", url=catalogue)
    assert run.status == 0, run.err
    assert [r["id"] for r in run.json()["revisions"]] == [4]  # type: ignore[index]
    missing = vdm_subprocess("show", "99", url=catalogue)
    assert (missing.status, missing.out) == (2, "")
    assert missing.err == ("vdm show: error: there is no revision 99 in the database; "
                           "`vdm log` lists the revisions\n")
