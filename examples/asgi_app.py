"""The vdm story as an ASGI (Starlette) application: one revision per request.

Run it with an SQLite file to write (it is recreated), or with nothing to
use a temporary file; it drives the app with Starlette's test client and
prints what each request left in history::

    python examples/asgi_app.py [books.db]

Or serve it (``pip install "vdm[asgi,asyncio]" uvicorn``)::

    VDM_ASGI_DB=books.db uvicorn --factory --app-dir examples asgi_app:create_app

Endpoints change books through the request's ``AsyncSession`` and never
commit: vdm.web.asgi.RevisionMiddleware commits each successful request as
one revision (author: the authenticated user; extra: method, path, request
id, remote address) and rolls back a failed one.  FastAPI applications add
the middleware the same way.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import String, create_engine, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from vdm.sqlalchemy import Repository, Revisioned, Stateful
from vdm.web.asgi import RevisionMiddleware, request_revision, request_session


class Base(DeclarativeBase):
    pass


class Book(Revisioned, Stateful, Base):
    __tablename__ = "book"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(String(200))


class BearerNames(AuthenticationBackend):
    """``Authorization: Bearer ann`` is user ann: a stand-in for real tokens."""

    async def authenticate(self, conn: HTTPConnection) -> Any:
        scheme, _, name = conn.headers.get("Authorization", "").partition(" ")
        if scheme == "Bearer" and name:
            return AuthCredentials(["authenticated"]), SimpleUser(name)
        return None


async def book_named(session: AsyncSession, name: str) -> Book | None:
    return (await session.scalars(select(Book).filter_by(name=name))).one_or_none()


async def add_book(request: Request) -> JSONResponse:
    data = await request.json()
    if not data.get("name"):
        return JSONResponse({"error": "a book needs a name"}, status_code=422)  # rolled back
    request_session(request).add(Book(name=data["name"], title=data.get("title")))
    return JSONResponse({"added": data["name"]}, status_code=201)


async def retitle(request: Request) -> JSONResponse:
    name = request.path_params["name"]
    book = await book_named(request_session(request), name)
    if book is None:
        return JSONResponse({"error": f"no book {name}"}, status_code=404)
    book.title = (await request.json())["title"]
    request_revision(request).message = f"retitle {name}"
    return JSONResponse({"title": book.title})


async def delete_book(request: Request) -> JSONResponse:
    book = await book_named(request_session(request), request.path_params["name"])
    if book is None:
        return JSONResponse({"error": "no such book"}, status_code=404)
    book.delete()
    return JSONResponse({"state": "deleted"})


async def history(request: Request) -> JSONResponse:
    session: AsyncSession = request_session(request)
    book = await book_named(session, request.path_params["name"])
    if book is None:
        return JSONResponse({"error": "no such book"}, status_code=404)

    # History reads issue queries: run them with the Session behind the AsyncSession.
    def read(_session: Any) -> list[dict[str, Any]]:
        return [{"revision": v.revision_id, "author": v.revision.author, "title": v.title}
                for v in book.versions]

    return JSONResponse(await session.run_sync(read))


async def revisions(request: Request) -> JSONResponse:
    def read(session: Any) -> list[dict[str, Any]]:
        return [{"id": r.id, "author": r.author, "message": r.message, "extra": r.extra}
                for r in Repository(Base.metadata, session).history()]

    return JSONResponse(await request_session(request).run_sync(read))


def create_app(path: str | None = None) -> Starlette:
    """The app, on the SQLite file ``path`` (default: ``VDM_ASGI_DB``)."""
    file = Path(path or os.environ.get("VDM_ASGI_DB", "vdm-asgi.db")).resolve()
    setup = create_engine(f"sqlite:///{file}")
    Base.metadata.create_all(setup)
    setup.dispose()
    engine = create_async_engine(f"sqlite+aiosqlite:///{file}")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    return Starlette(
        routes=[Route("/books", add_book, methods=["POST"]),
                Route("/books/{name}", retitle, methods=["POST"]),
                Route("/books/{name}", delete_book, methods=["DELETE"]),
                Route("/books/{name}/history", history),
                Route("/revisions", revisions)],
        # Authentication runs first, so the revision's author is the user.
        middleware=[Middleware(AuthenticationMiddleware, backend=BearerNames()),
                    Middleware(RevisionMiddleware, sessionmaker=async_sessionmaker(engine))],
        lifespan=lifespan,
    )


def main(argv: list[str]) -> None:
    path = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp()) / "books.db"
    path.unlink(missing_ok=True)
    with TestClient(create_app(str(path))) as client:

        def send(method: str, url: str, user: str | None = None, **kw: Any) -> None:
            headers = {"Authorization": f"Bearer {user}"} if user else {}
            headers.update(kw.pop("headers", {}))
            response = client.request(method, url, headers=headers, **kw)
            print(f"{method} {url} -> {response.status_code}")

        send("POST", "/books", "ann", json={"name": "warandpeace", "title": "War and Peacee"},
             headers={"X-Request-ID": "req-1"})
        send("POST", "/books", "ann", json={"name": "annakarenina", "title": "Anna Karenina"})
        send("POST", "/books/warandpeace", "bob", json={"title": "War and Peace"})
        send("POST", "/books", "bob", json={"title": "no name"})
        send("DELETE", "/books/annakarenina", "carol")

        print("\nRevisions (one per successful request):")
        for rev in reversed(client.get("/revisions").json()):
            print(f"  r{rev['id']} {rev['author']}: {rev['message']}  {json.dumps(rev['extra'])}")
        print("\nHistory of warandpeace:")
        for version in client.get("/books/warandpeace/history").json():
            print(f"  r{version['revision']} by {version['author']}: {version['title']}")


if __name__ == "__main__":
    main(sys.argv)
