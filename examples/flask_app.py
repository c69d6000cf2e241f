"""The vdm story as a Flask application: one revision per request.

Run it with an SQLite file to write (it is recreated), or with nothing to
use a temporary file; it drives the app with Flask's test client and
prints what each request left in history::

    python examples/flask_app.py [books.db]

Or serve it (``pip install "vdm[flask]"``) and send it requests::

    VDM_FLASK_DB=books.db flask --app examples/flask_app.py run

Views change books through Flask-SQLAlchemy's ``db.session`` and never
commit: vdm.web.flask.RevisionPerRequest commits each successful request
as one revision (author: the authenticated user; extra: method, path,
request id, remote address) and rolls back a failed one.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vdm.sqlalchemy import Repository, Revisioned, Stateful
from vdm.web.flask import RevisionPerRequest, request_revision


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Book(Revisioned, Stateful, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "book"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(String(200))


def book_named(name: str) -> Book:
    book: Book = db.one_or_404(select(Book).filter_by(name=name))
    return book


def create_app(url: str | None = None) -> Flask:
    """The app, on ``url`` (default: the SQLite file named by ``VDM_FLASK_DB``)."""
    app = Flask("flask_app")
    app.config["SQLALCHEMY_DATABASE_URI"] = url or (
        f"sqlite:///{Path(os.environ.get('VDM_FLASK_DB', 'vdm-flask.db')).resolve()}")
    db.init_app(app)
    # Behind a login, pass author=lambda request: <the logged-in user's name>.
    RevisionPerRequest(app, db.session)
    with app.app_context():
        db.create_all()

    @app.post("/books")
    def add_book() -> Any:
        data = request.get_json()
        if not data.get("name"):
            return {"error": "a book needs a name"}, 422     # rolled back
        db.session.add(Book(name=data["name"], title=data.get("title")))
        return {"added": data["name"]}, 201

    @app.post("/books/<name>")
    def retitle(name: str) -> Any:
        book = book_named(name)
        book.title = request.get_json()["title"]
        request_revision().message = f"retitle {name}"
        return {"title": book.title}

    @app.delete("/books/<name>")
    def delete_book(name: str) -> Any:
        book_named(name).delete()
        return {"state": "deleted"}

    @app.get("/books/<name>/history")
    def history(name: str) -> Any:
        return [{"revision": v.revision_id, "author": v.revision.author,
                 "title": v.title, "state": v.state.value}
                for v in book_named(name).versions]

    @app.get("/revisions")
    def revisions() -> Any:
        return [{"id": r.id, "author": r.author, "message": r.message, "extra": r.extra}
                for r in Repository(db.metadata, db.session()).history()]

    return app


def main(argv: list[str]) -> None:
    path = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp()) / "books.db"
    path.unlink(missing_ok=True)
    app = create_app(f"sqlite:///{path.resolve()}")
    client = app.test_client()

    def send(method: str, url: str, user: str | None = None, **kw: Any) -> None:
        environ = {"REMOTE_USER": user} if user else {}
        response = client.open(url, method=method, environ_base=environ, **kw)
        print(f"{method} {url} -> {response.status_code}")

    send("POST", "/books", "ann", json={"name": "warandpeace", "title": "War and Peacee"},
         headers={"X-Request-ID": "req-1"})
    send("POST", "/books", "ann", json={"name": "annakarenina", "title": "Anna Karenina"})
    send("POST", "/books/warandpeace", "bob", json={"title": "War and Peace"})
    send("POST", "/books", "bob", json={"title": "no name"})
    send("DELETE", "/books/annakarenina", "carol")

    print("\nRevisions (one per successful request):")
    for rev in reversed(client.get("/revisions").get_json()):
        print(f"  r{rev['id']} {rev['author']}: {rev['message']}  {json.dumps(rev['extra'])}")
    print("\nHistory of warandpeace:")
    for version in client.get("/books/warandpeace/history").get_json():
        print(f"  r{version['revision']} by {version['author']}: {version['title']}")
    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main(sys.argv)
