"""A revision per Flask request (vdm.web.flask) in a Flask-SQLAlchemy app.

The app is shaped like a small wiki: views add and rename notes through
``db.session`` and never commit; the extension commits each request's
changes as one revision, or rolls them back when the request fails.  Every
assertion reads the database back through a separate engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, abort, request
from flask_sqlalchemy import SQLAlchemy
from history_helpers import rows
from sqlalchemy import Engine, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vdm import NoRevisionError
from vdm.sqlalchemy import Revisioned, revision_scope
from vdm.web.flask import RevisionPerRequest, request_revision


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Note(Revisioned, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "flask_note"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str | None] = mapped_column(String(400))


def make_app(url: str, **options: Any) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)
    RevisionPerRequest(app, db.session, **options)

    @app.post("/notes")
    def add_note() -> Any:
        note = Note(title=request.json["title"], body=request.json.get("body"))
        db.session.add(note)
        db.session.flush()
        return {"id": note.id}, 201

    @app.post("/notes/<int:note_id>/title")
    def rename(note_id: int) -> Any:
        note = db.get_or_404(Note, note_id)
        note.title = request.json["title"]
        request_revision().message = f"rename note {note_id}"
        return {"title": note.title}

    @app.post("/notes/batch")
    def add_batch() -> Any:
        for title in request.json["titles"]:
            # A helper's own block joins the request's revision.
            with revision_scope(db.session, author="helper", message="one note"):
                db.session.add(Note(title=title))
        return {"added": len(request.json["titles"])}

    @app.post("/notes/crash")
    def crash() -> Any:
        db.session.add(Note(title="half written"))
        db.session.flush()
        raise RuntimeError("disk full")

    @app.post("/notes/invalid")
    def invalid() -> Any:
        db.session.add(Note(title=""))
        db.session.flush()
        return {"error": "a note needs a title"}, 422

    @app.post("/notes/conflict")
    def conflict() -> Any:
        db.session.add(Note(title="dup"))
        db.session.flush()
        abort(409)

    @app.post("/notes/<int:note_id>/copy")
    def copy_onto_itself(note_id: int) -> Any:
        # Not flushed here: the duplicate key fails at the commit.
        db.session.add(Note(title="draft"))
        db.session.add(Note(id=note_id, title="copy"))
        return {"copied": note_id}

    @app.get("/notes/<int:note_id>/history")
    def history(note_id: int) -> Any:
        note = db.get_or_404(Note, note_id)
        return [{"title": v.title, "author": v.revision.author} for v in note.versions]

    return app


@pytest.fixture
def wiki(engine: Engine) -> Iterator[Any]:
    """Make apps on the test's database; dispose of their engines after."""
    apps: list[Flask] = []

    def factory(**options: Any) -> Flask:
        app = make_app(engine.url.render_as_string(hide_password=False), **options)
        with app.app_context():
            db.create_all()
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def revisions(engine: Engine) -> list[tuple[Any, ...]]:
    return [(i, author, message, json.loads(extra))
            for i, author, message, extra in rows(
                engine, "SELECT id, author, message, extra FROM revision ORDER BY id")]


def test_a_request_commits_one_revision_by_its_user(wiki: Any, engine: Engine) -> None:
    client = wiki().test_client()
    response = client.post("/notes", json={"title": "Groceries", "body": "eggs"},
                           headers={"X-Request-ID": "req-1"},
                           environ_base={"REMOTE_USER": "ann"})
    assert (response.status_code, response.json) == (201, {"id": 1})
    assert revisions(engine) == [(1, "ann", "POST /notes", {
        "method": "POST", "path": "/notes", "request_id": "req-1",
        "remote_addr": "127.0.0.1"})]
    assert rows(engine, "SELECT id, title, revision_id FROM flask_note") == [(1, "Groceries", 1)]
    assert rows(engine, "SELECT id, title, revision_id, operation_type "
                        "FROM flask_note_revision") == [(1, "Groceries", 1, 0)]


def test_each_request_is_its_own_revision(wiki: Any, engine: Engine) -> None:
    client = wiki().test_client()
    client.post("/notes", json={"title": "Groceries"})
    response = client.post("/notes/1/title", json={"title": "Shopping"},
                           environ_base={"REMOTE_USER": "bob"})
    assert response.json == {"title": "Shopping"}
    assert [r[:3] for r in revisions(engine)] == [
        (1, "anonymous", "POST /notes"), (2, "bob", "rename note 1")]
    assert revisions(engine)[0][3]["request_id"] is None
    assert rows(engine, "SELECT title, revision_id, expired_id FROM flask_note_revision "
                        "ORDER BY revision_id") == [("Groceries", 1, 2), ("Shopping", 2, None)]
    # A request that only reads leaves no revision.
    history = client.get("/notes/1/history", environ_base={"REMOTE_USER": "carol"})
    assert history.json == [{"title": "Groceries", "author": "anonymous"},
                            {"title": "Shopping", "author": "bob"}]
    assert len(revisions(engine)) == 2


def test_author_message_and_extra_are_configurable(wiki: Any, engine: Engine) -> None:
    client = wiki(author=lambda req: req.headers.get("X-User"),
                  message=lambda req: f"wiki edit via {req.endpoint}",
                  extra=lambda req: {"agent": req.headers.get("User-Agent")},
                  anonymous="nobody", request_id_header="X-Trace").test_client()
    client.post("/notes", json={"title": "a"}, headers={"X-User": "dora", "X-Trace": "t9",
                                                         "User-Agent": "tests/1"})
    client.post("/notes", json={"title": "b"}, headers={"User-Agent": "tests/1"})
    assert revisions(engine) == [
        (1, "dora", "wiki edit via add_note", {"method": "POST", "path": "/notes",
                                               "request_id": "t9", "remote_addr": "127.0.0.1",
                                               "agent": "tests/1"}),
        (2, "nobody", "wiki edit via add_note", {"method": "POST", "path": "/notes",
                                                 "request_id": None,
                                                 "remote_addr": "127.0.0.1",
                                                 "agent": "tests/1"})]


def test_blocks_inside_a_view_join_the_request_revision(wiki: Any, engine: Engine) -> None:
    client = wiki().test_client()
    assert client.post("/notes/batch", json={"titles": ["a", "b", "c"]},
                       environ_base={"REMOTE_USER": "ann"}).json == {"added": 3}
    assert [r[:3] for r in revisions(engine)] == [(1, "ann", "POST /notes/batch")]
    assert rows(engine, "SELECT title, revision_id FROM flask_note ORDER BY id") == [
        ("a", 1), ("b", 1), ("c", 1)]


@pytest.mark.parametrize("testing", [True, False], ids=["propagating", "handled"])
def test_an_exception_leaves_no_revision_and_no_rows(
    wiki: Any, engine: Engine, testing: bool
) -> None:
    app = wiki()
    app.testing = testing
    client = app.test_client()
    if testing:  # Flask re-raises the view's exception to the test client
        with pytest.raises(RuntimeError, match="disk full"):
            client.post("/notes/crash")
    else:
        assert client.post("/notes/crash").status_code == 500
    assert rows(engine, "SELECT count(*) FROM revision") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM flask_note") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM flask_note_revision") == [(0,)]
    # The next request starts clean.
    assert client.post("/notes", json={"title": "after"}).status_code == 201
    assert rows(engine, "SELECT title, revision_id FROM flask_note") == [("after", 1)]
    assert [r[0] for r in revisions(engine)] == [1]


@pytest.mark.parametrize("path", ["/notes/invalid", "/notes/conflict"])
def test_an_error_response_rolls_the_request_back(wiki: Any, engine: Engine, path: str) -> None:
    client = wiki().test_client()
    assert client.post(path).status_code in (409, 422)
    assert rows(engine, "SELECT count(*) FROM revision") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM flask_note") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM flask_note_revision") == [(0,)]


def test_a_failing_commit_is_an_error_response_and_leaves_nothing(
    wiki: Any, engine: Engine
) -> None:
    client = wiki().test_client()
    client.post("/notes", json={"title": "Groceries"})
    assert client.post("/notes/1/copy").status_code == 500
    assert rows(engine, "SELECT id FROM revision") == [(1,)]
    assert rows(engine, "SELECT title FROM flask_note") == [("Groceries",)]
    assert rows(engine, "SELECT count(*) FROM flask_note_revision") == [(1,)]
    assert client.post("/notes", json={"title": "next"}).status_code == 201


def test_request_revision_outside_a_request_says_what_to_do(wiki: Any) -> None:
    app = Flask("bare")
    with app.test_request_context("/"):
        with pytest.raises(NoRevisionError, match="install RevisionPerRequest"):
            request_revision()


def test_the_session_defaults_to_flask_sqlalchemy_s(engine: Engine) -> None:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = engine.url.render_as_string(hide_password=False)
    db.init_app(app)
    RevisionPerRequest(app)

    @app.post("/n")
    def add() -> Any:
        db.session.add(Note(title="x"))
        return "", 204

    try:
        with app.app_context():
            db.create_all()
        assert app.test_client().post("/n").status_code == 204
        assert rows(engine, "SELECT title, revision_id FROM flask_note") == [("x", 1)]
    finally:
        with app.app_context():
            db.engine.dispose()
