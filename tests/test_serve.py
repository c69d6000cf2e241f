"""``vdm serve`` over HTTP: a wiki's history browsed on every database.

An editor's wiki (:mod:`serve_helpers`) is written through the SQLAlchemy
backend; the browser then reads it by reflection, served by a real uvicorn
server on a loopback port.  Each page is checked as JSON (the data) and as
HTML (what people see), and every kind of bad request gets its page.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from serve_helpers import Served, write_wiki
from sqlalchemy import create_engine
from sqlobject_models import connection, new_session, so_connection  # noqa: F401 - fixtures
from test_cli import catalogue  # noqa: F401 - the command line's catalogue, a fixture
from test_sqlobject_cross_backend import write_with_sqlobject

from vdm.cli import CommandError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def wiki(db, engine):
    """The wiki's six revisions, served; the :class:`Served` server."""
    write_wiki(engine)
    with Served(db.url) as served:
        yield served


def ids(log):
    return [r["id"] for r in log["revisions"]]


def test_the_log_lists_revisions_with_their_changes_and_filters_them(wiki):
    log = wiki.json("/")
    assert [(r["id"], r["author"], r["message"], r["changes"]) for r in log["revisions"]] == [
        (6, "bob", "Tag the page as news", 2),
        (5, "ann", "Bring the page back", 1),
        (4, "cat", "Remove the page", 1),
        (3, "ann", "Publish the welcome page", 2),
        (2, "bob", "Fix the typo", 1),
        (1, "ann", "Create the welcome page", 5),
    ]
    assert log["revisions"][0]["url"] == "/revision/6"
    assert log["next_url"] is None and log["tables"] == ["wiki_page", "wiki_page_tag", "wiki_tag"]
    assert ids(wiki.json("/?author=ann")) == [5, 3, 1]
    assert ids(wiki.json("/?table=wiki_page_tag")) == [6, 3, 1]
    assert ids(wiki.json("/?author=ann&table=wiki_tag")) == [1]
    third = log["revisions"][3]["timestamp"]
    assert 3 in ids(wiki.json(f"/?since={third.removesuffix('+00:00')}"))
    assert ids(wiki.json("/?until=2000-01-01")) == []

    # Pages follow each other by revision id (the next page is a permalink).
    first = wiki.json("/?limit=2&author=ann")
    assert ids(first) == [5, 3]
    assert first["next_url"] == "/?author=ann&limit=2&before=3"
    second = wiki.json(first["next_url"])
    assert ids(second) == [1] and second["next_url"] is None
    assert second["first_url"] == "/?author=ann&limit=2"

    html = wiki.get("/?author=ann")
    assert html.status == 200 and html.content_type.startswith("text/html")
    assert '<a href="/revision/3">r3</a>' in html.body
    assert "Publish the welcome page" in html.body and "Fix the typo" not in html.body


def test_a_revision_page_shows_every_change_field_by_field(wiki):
    r1 = wiki.json("/revision/1")
    assert r1["revision"]["author"] == "ann" and r1["counts"] == {"created": 5}
    page = r1["changes"][0]
    assert (page["table"], page["key"], page["kind"], page["url"]) == (
        "wiki_page", {"id": 1}, "created", "/object/wiki_page/1")
    assert page["fields"] == [
        {"name": "slug", "old": None, "new": "welcome"},
        {"name": "title", "old": None, "new": "Welcome"},
        {"name": "body", "old": None, "new": "Hello wrold, this is the wiki."},
        {"name": "state", "old": None, "new": "active"},
    ]
    r3 = wiki.json("/revision/r3")
    assert [(c["table"], c["key"], c["kind"], c["fields"]) for c in r3["changes"]] == [
        ("wiki_page", {"id": 1}, "updated",
         [{"name": "title", "old": "Welcome", "new": "Welcome!"}]),
        ("wiki_page_tag", {"id": 2}, "deleted",
         [{"name": "state", "old": "active", "new": "deleted"}]),
    ]
    assert (r3["previous_url"], r3["next_url"], r3["model_url"]) == (
        "/revision/2", "/revision/4", "/model/3")
    assert [c["kind"] for c in wiki.json("/revision/4")["changes"]] == ["deleted"]
    assert [c["kind"] for c in wiki.json("/revision/5")["changes"]] == ["undeleted"]
    html = wiki.get("/revision/2").body
    assert "Hello wrold, this is the wiki." in html and "Hello world, this is our wiki." in html
    assert 'class="kind kind-updated"' in html


def test_an_object_page_has_its_timeline_blame_and_links_as_of_each_revision(wiki):
    page = wiki.json("/object/wiki_page/1")
    assert (page["exists"], page["state"], page["values"]["title"]) == (True, "active", "Welcome!")
    timeline = page["timeline"]
    assert page["versions"] == 5
    assert [(v["revision"]["id"], v["kind"]) for v in timeline[1:]] == [
        (5, "undeleted"), (4, "deleted"), (3, "updated"), (2, "updated"), (1, "created")]
    # r6 linked a new tag to the page without changing the page itself.
    assert (timeline[0]["revision"]["id"], timeline[0]["kind"], timeline[0]["fields"]) == (
        6, "links changed", [])
    timeline = timeline[1:]
    assert timeline[3]["fields"] == [{"name": "body", "old": "Hello wrold, this is the wiki.",
                                      "new": "Hello world, this is our wiki."}]
    assert timeline[3]["diff_url"] == "/diff/wiki_page/1?from=1&to=2"
    assert timeline[4]["diff_url"] is None
    blame = {b["field"]: (b["value"], b["revision"]["id"]) for b in page["blame"]}
    assert blame == {"id": (1, 1), "slug": ("welcome", 1), "title": ("Welcome!", 3),
                     "body": ("Hello world, this is our wiki.", 2), "state": ("active", 5)}

    def links(entry):
        return [(link["table"], link["key_text"], link["deleted"],
                 {c: t["key_text"] for c, t in link["targets"].items()})
                for link in entry["links"]]
    assert links(timeline[4]) == [("wiki_page_tag", "1", False, {"tag_id": "1"}),
                                  ("wiki_page_tag", "2", False, {"tag_id": "2"})]
    assert links(timeline[2]) == [("wiki_page_tag", "1", False, {"tag_id": "1"}),
                                  ("wiki_page_tag", "2", True, {"tag_id": "2"})]
    assert links(page["timeline"][0]) == [("wiki_page_tag", "1", False, {"tag_id": "1"}),
                                          ("wiki_page_tag", "2", True, {"tag_id": "2"}),
                                          ("wiki_page_tag", "3", False, {"tag_id": "3"})]
    assert timeline[4]["links"][1]["targets"]["tag_id"]["url"] == "/model/1/wiki_tag/2"

    # The draft tag never changed, but the link to it was removed in r3.
    tag = wiki.json("/object/wiki_tag/2")
    assert [(v["revision"]["id"], v["kind"]) for v in tag["timeline"]] == [
        (3, "links changed"), (1, "created")]
    assert [(link["table"], link["key_text"], link["deleted"])
            for link in tag["timeline"][0]["links"]] == [("wiki_page_tag", "2", True)]
    html = wiki.get("/object/wiki_page/1").body
    assert 'href="/diff/wiki_page/1?from=1&amp;to=2"' in html
    assert 'class="deleted-link"' in html


def test_the_diff_page_compares_any_two_versions_word_by_word(wiki):
    diff = wiki.json("/diff/wiki_page/1?from=1&to=3")
    assert (diff["from"]["id"], diff["to"]["id"]) == (1, 3)
    fields = {f["name"]: f for f in diff["fields"]}
    assert not fields["slug"]["changed"] and fields["title"]["changed"]
    assert fields["body"]["old_words"] == [
        {"text": "Hello ", "changed": False}, {"text": "wrold", "changed": True},
        {"text": ", this is ", "changed": False}, {"text": "the", "changed": True},
        {"text": " wiki.", "changed": False}]
    assert [s["text"] for s in fields["body"]["new_words"] if s["changed"]] == ["world", "our"]
    assert [v["id"] for v in diff["versions"]] == [5, 4, 3, 2, 1]
    # Without parameters: the latest version against the one before it.
    latest = wiki.json("/diff/wiki_page/1")
    assert (latest["from"]["id"], latest["to"]["id"]) == (4, 5)
    assert [f["name"] for f in latest["fields"] if f["changed"]] == ["state"]
    html = wiki.get("/diff/wiki_page/1?from=1&to=2").body
    assert '<span class="removed">wrold</span>' in html
    assert '<span class="added">world</span>' in html


def test_the_model_as_of_a_revision_follows_keys_and_links(wiki):
    model = wiki.json("/model/1")
    assert [t["name"] for t in model["tables"]] == ["wiki_page", "wiki_page_tag", "wiki_tag"]
    assert wiki.get("/model").status == 200  # redirected to the latest revision
    assert wiki.json("/model")["revision"]["id"] == 6
    links = wiki.json("/model/3/wiki_page_tag")
    assert [(r["key_text"], r["values"]["state"], r["field_links"]) for r in links["rows"]] == [
        ("1", "active", {"page_id": "/model/3/wiki_page/1", "tag_id": "/model/3/wiki_tag/1"}),
        ("2", "deleted", {"page_id": "/model/3/wiki_page/1", "tag_id": "/model/3/wiki_tag/2"}),
    ]
    row = wiki.json("/model/1/wiki_page/1")
    assert row["values"]["body"] == "Hello wrold, this is the wiki."
    assert row["written_by"] == "/revision/1"
    assert [(link["key_text"], link["deleted"], link["targets"]["tag_id"]["url"])
            for link in row["links"]] == [("1", False, "/model/1/wiki_tag/1"),
                                          ("2", False, "/model/1/wiki_tag/2")]
    assert wiki.json("/model/2/wiki_page/1")["values"]["body"] == "Hello world, this is our wiki."
    assert wiki.json("/model/2/wiki_tag/2")["values"]["name"] == "draft"
    html = wiki.get("/model/3/wiki_page_tag").body
    assert '<a href="/model/3/wiki_tag/2">' in html


def test_verify_reports_a_sound_history_then_the_damage_done_behind_its_back(wiki, engine):
    assert wiki.json("/verify") == {"sound": True, "violations": [],
                                    "tables": ["wiki_page", "wiki_page_tag", "wiki_tag"]}
    assert "History sound" in wiki.get("/verify").body
    with engine.begin() as connection:  # a program that bypassed vdm
        connection.exec_driver_sql("UPDATE wiki_tag SET name = 'oops' WHERE id = 1")
    found = wiki.json("/verify")
    assert found["sound"] is False
    assert [(v["table"], v["key"], v["kind"], v["url"]) for v in found["violations"]] == [
        ("wiki_tag", {"id": 1}, "head-mismatch", "/object/wiki_tag/1")]


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/revision/99", 404, "there is no revision 99"),
    ("/revision/latest", 400, "'latest' is not a revision id"),
    ("/object/nope/1", 404, "there is no versioned table 'nope'"),
    ("/object/wiki_page/7", 404, "wiki_page(id=7) has no history"),
    ("/object/wiki_page/x", 400, "malformed key 'x' for table wiki_page"),
    ("/object/wiki_page/1,2", 400, "expected 1 comma-separated value(s)"),
    ("/diff/wiki_page/1?from=42", 404, "there is no revision 42"),
    ("/model/99", 404, "there is no revision 99"),
    ("/model/1/nope", 404, "there is no versioned table 'nope'"),
    ("/model/1/wiki_tag/9", 404, "wiki_tag(id=9) did not exist as of revision 1"),
    ("/?since=yesterday", 400, "since 'yesterday' is not a date or time"),
    ("/?limit=0", 400, "limit=0 is out of range; give from 1 to 500"),
    ("/?table=nope", 404, "there is no versioned table 'nope'"),
    ("/?format=xml", 400, "format='xml' is not a format"),
    ("/no/such/page", 404, "there is no page at /no/such/page"),
])
def test_bad_requests_get_a_clear_page_with_their_status(wiki, path, status, says):
    html = wiki.get(path)
    assert html.status == status and html.content_type.startswith("text/html")
    assert says in html.body.replace("&#39;", "'")
    assert "Traceback" not in html.body
    if "format=" in path:
        return
    sep = "&" if "?" in path else "?"
    data = wiki.get(f"{path}{sep}format=json")
    assert data.status == status
    assert says in data.json()["error"]["message"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_no_page_writes(wiki, method, engine):
    for path in ("/", "/revision/1", "/object/wiki_page/1", "/model/1", "/verify"):
        answer = wiki.get(path, method=method)
        assert answer.status == 405, (method, path)
        assert f"{method} is not allowed: vdm serve only shows history" in answer.body
    assert wiki.get("/revision/1", method="HEAD").status == 200
    assert wiki.json("/")["revisions"][0]["id"] == 6


def test_a_database_vdm_never_wrote_gets_a_503_page(db, engine):
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    with Served(db.url) as served:
        for path in ("/", "/revision/1", "/verify"):
            answer = served.get(path)
            assert answer.status == 503
            assert "is not a vdm database: it has no revision table" in answer.body
        assert served.get("/?format=json").json()["error"]["status"] == 503
        # Once vdm has written to it, the same server shows its history.
        write_wiki(engine)
        assert ids(served.json("/")) == [6, 5, 4, 3, 2, 1]


def test_an_unreachable_database_gets_a_503_page_without_its_password(database_name):
    if database_name == "sqlite":
        pytest.skip("an SQLite file cannot be unreachable; see the missing-file test")
    url = {"postgresql": "postgresql+psycopg://ed:s3cret@127.0.0.1:1/wiki",
           "mariadb": "mysql+pymysql://ed:s3cret@127.0.0.1:1/wiki"}[database_name]
    with Served(url) as served:
        answer = served.get("/object/wiki_page/1")
        assert answer.status == 503 and "cannot connect to" in answer.body
        assert "s3cret" not in answer.body and "***" in answer.body


def test_a_missing_sqlite_file_is_refused_and_never_created(tmp_path):
    missing = tmp_path / "wiki.db"
    with pytest.raises(CommandError, match=r"there is no file .*wiki\.db"):
        Served(f"sqlite:///{missing}")
    assert not missing.exists()


def test_a_sqlite_file_removed_while_serving_gets_a_503_page(tmp_path):
    path = tmp_path / "wiki.db"
    engine = create_engine(f"sqlite:///{path}")
    write_wiki(engine)
    engine.dispose()
    with Served(f"sqlite:///{path}") as served:
        assert served.get("/").status == 200
        served.app.state.source.engine.dispose()
        path.unlink()
        answer = served.get("/")
        assert answer.status == 503 and re.search(r"there is no file \S*wiki\.db", answer.body)
        assert not path.exists()


def test_the_readme_story_vdm_demo_then_vdm_serve(tmp_path):
    """README.txt: `vdm demo`, then `vdm serve --url sqlite:///vdm-demo.db`, as a user runs them."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    demo = subprocess.run([sys.executable, "-m", "vdm", "demo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert demo.returncode == 0, demo.stderr
    last = demo.stdout.splitlines()[-1]
    assert last.startswith("Browse this story in a web browser: "
                           "vdm serve --url sqlite:///vdm-demo.db ")
    server = subprocess.Popen(
        [sys.executable, "-m", "vdm", "serve", "--url", "sqlite:///vdm-demo.db", "--port", "0"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first == ("vdm serve: browsing sqlite:///vdm-demo.db (read-only); "
                         "press Ctrl-C to stop\n")
        address = server.stdout.readline().strip()
        assert re.fullmatch(r"vdm serve: open http://127\.0\.0\.1:\d+/", address), address
        base = address.removeprefix("vdm serve: open ").rstrip("/")
        with urllib.request.urlopen(base + "/?format=json", timeout=60) as answer:
            log = json.loads(answer.read())
        assert [(r["id"], r["author"]) for r in log["revisions"]] == [
            (4, "editor"), (3, "editor"), (2, "proofreader"), (1, "editor")]
        with urllib.request.urlopen(base + "/diff/book/1", timeout=60) as answer:
            page = answer.read().decode()
        assert '<span class="removed">Peacee</span>' in page
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        finally:
            server.kill()
            server.communicate()
    assert server.returncode == 0


def test_vdm_serve_refuses_a_bad_url_before_serving(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "vdm", "serve", "--url", "sqlite:///none.db"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert run.returncode == 2
    assert run.stderr == ("vdm serve: error: cannot open sqlite:///none.db: "
                          "there is no file none.db\n")
    assert not (tmp_path / "none.db").exists()


def test_composite_keys_foreign_keys_and_a_destroyed_object(catalogue):
    with Served(catalogue) as served:
        r2 = served.json("/revision/2")
        edition = next(c for c in r2["changes"] if c["table"] == "edition")
        assert (edition["key_text"], edition["url"]) == (
            "warandpeace,1", "/object/edition/warandpeace,1")
        page = served.json(edition["url"])
        assert page["key"] == {"book_name": "warandpeace", "number": 1}
        assert [(v["revision"]["id"], v["kind"]) for v in page["timeline"]] == [
            (2, "updated"), (1, "created")]
        assert served.json("/model/1/edition/warandpeace,1")["values"]["pages"] == 1200
        assert served.json("/diff/edition/warandpeace,1")["fields"][2] == {
            "name": "pages", "old": 1200, "new": 1225, "changed": True}

        author = served.json("/object/author/1")  # erased by cat in r4
        assert (author["exists"], author["destroyed_by"]["author"]) == (False, "cat")
        assert [v["kind"] for v in author["timeline"]] == ["destroyed", "created"]
        assert served.get("/model/4/author/1").status == 404
        assert served.json("/model/3/author/1")["field_links"] == {"book_id": "/model/3/book/1"}

        book = served.json("/model/2/book/1")
        assert book["field_links"] == {"license_id": "/model/2/license/1"}
        assert [(link["table"], link["key_text"]) for link in book["links"]] == [("author", "1")]
        assert served.json("/model/4/book/1")["links"] == []
        assert served.json("/?table=edition")["revisions"][0]["id"] == 2


def test_a_history_written_by_sqlobject_is_browsed_the_same(db, connection, new_session):
    write_with_sqlobject(new_session)
    with Served(db.url) as served:
        log = served.json("/")
        assert [(r["author"], r["message"]) for r in log["revisions"]] == [
            ("so", "delete anna"), ("so", "fix typo, relicense"), ("so", "first")]
        second = log["revisions"][1]
        changes = served.json(second["url"])["changes"]
        book = next(c for c in changes if c["table"] == "book")
        assert book["kind"] == "updated"
        diff = served.json(book["url"].replace("/object/", "/diff/", 1))
        title = next(f for f in diff["fields"] if f["name"] == "title")
        assert [s["text"] for s in title["new_words"] if s["changed"]] == ["Peace"]
        third = served.json(log["revisions"][0]["url"])["changes"]
        assert [(c["table"], c["kind"]) for c in third] == [("book", "deleted")]
        assert served.json("/verify")["sound"] is True
