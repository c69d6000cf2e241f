"""A revision per ASGI request (vdm.web.asgi) in Starlette and FastAPI apps.

A Starlette app on an ``async_sessionmaker`` (aiosqlite, asyncpg, aiomysql)
and a FastAPI app with synchronous endpoints on a ``sessionmaker``, each
driven by its test client.  Endpoints never commit: the middleware commits
each request's changes as one revision, or rolls them back when the request
fails.  Every assertion reads the database back through a separate engine.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import pytest
from databases import async_url
from fastapi import Depends, FastAPI, HTTPException
from fastapi import Request as FastAPIRequest
from history_helpers import rows
from sqlalchemy import Engine, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from vdm import NoRevisionError
from vdm.sqlalchemy import Revisioned, Stateful
from vdm.sqlalchemy.asyncio import versions
from vdm.web.asgi import RevisionMiddleware, request_revision, request_session


class AsgiBase(DeclarativeBase):
    pass


class Note(Revisioned, Stateful, AsgiBase):
    __tablename__ = "asgi_note"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))


class BearerNames(AuthenticationBackend):
    """``Authorization: Bearer ann`` is user ann (a stand-in for real tokens)."""

    async def authenticate(self, conn: HTTPConnection) -> Any:
        scheme, _, name = conn.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not name:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(name)


async def add_note(request: Request) -> JSONResponse:
    session: AsyncSession = request_session(request)
    note = Note(title=(await request.json())["title"])
    session.add(note)
    await session.flush()
    return JSONResponse({"id": note.id}, status_code=201)


async def rename(request: Request) -> JSONResponse:
    session: AsyncSession = request_session(request)
    note = await session.get(Note, int(request.path_params["note_id"]))
    if note is None:
        return JSONResponse({"error": "no such note"}, status_code=404)
    note.title = (await request.json())["title"]
    request_revision(request).message = f"rename note {note.id}"
    return JSONResponse({"title": note.title})


async def crash(request: Request) -> JSONResponse:
    session: AsyncSession = request_session(request)
    session.add(Note(title="half written"))
    await session.flush()
    raise RuntimeError("disk full")


async def invalid(request: Request) -> JSONResponse:
    session: AsyncSession = request_session(request)
    session.add(Note(title=""))
    await session.flush()
    return JSONResponse({"error": "a note needs a title"}, status_code=422)


async def copy_onto_itself(request: Request) -> JSONResponse:
    session: AsyncSession = request_session(request)
    # Not flushed here: the duplicate key fails at the commit.
    session.add(Note(title="draft"))
    session.add(Note(id=int(request.path_params["note_id"]), title="copy"))
    return JSONResponse({"copied": True})


async def history(request: Request) -> JSONResponse:
    session: AsyncSession = request_session(request)
    note = await session.get(Note, int(request.path_params["note_id"]))
    return JSONResponse([v.title for v in await versions(note)])


def starlette_app(url: str, **options: Any) -> Starlette:
    engine = create_async_engine(url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    return Starlette(
        routes=[Route("/notes", add_note, methods=["POST"]),
                Route("/notes/crash", crash, methods=["POST"]),
                Route("/notes/invalid", invalid, methods=["POST"]),
                Route("/notes/{note_id:int}/title", rename, methods=["POST"]),
                Route("/notes/{note_id:int}/copy", copy_onto_itself, methods=["POST"]),
                Route("/notes/{note_id:int}/history", history)],
        # Authentication runs first (outside), so the revision sees the user.
        middleware=[Middleware(AuthenticationMiddleware, backend=BearerNames()),
                    Middleware(RevisionMiddleware, sessionmaker=async_sessionmaker(engine),
                               **options)],
        lifespan=lifespan,
    )


@pytest.fixture
def notes_engine(engine: Engine) -> Engine:
    AsgiBase.metadata.create_all(engine)
    return engine


@pytest.fixture
def client(notes_engine: Engine) -> Iterator[TestClient]:
    url = async_url(notes_engine.url.render_as_string(hide_password=False))
    with TestClient(starlette_app(url), raise_server_exceptions=False) as test_client:
        yield test_client


def revisions(engine: Engine) -> list[tuple[Any, ...]]:
    return [(i, author, message, json.loads(extra))
            for i, author, message, extra in rows(
                engine, "SELECT id, author, message, extra FROM revision ORDER BY id")]


def test_a_request_commits_one_revision_by_its_user(client: TestClient, engine: Engine) -> None:
    response = client.post("/notes", json={"title": "Groceries"},
                           headers={"Authorization": "Bearer ann", "X-Request-ID": "req-1"})
    assert (response.status_code, response.json()) == (201, {"id": 1})
    assert revisions(engine) == [(1, "ann", "POST /notes", {
        "method": "POST", "path": "/notes", "request_id": "req-1",
        "remote_addr": "testclient"})]
    assert rows(engine, "SELECT id, title, revision_id FROM asgi_note") == [(1, "Groceries", 1)]
    assert rows(engine, "SELECT id, title, revision_id, operation_type "
                        "FROM asgi_note_revision") == [(1, "Groceries", 1, 0)]


def test_each_request_is_its_own_revision(client: TestClient, engine: Engine) -> None:
    client.post("/notes", json={"title": "Groceries"})
    response = client.post("/notes/1/title", json={"title": "Shopping"},
                           headers={"Authorization": "Bearer bob"})
    assert response.json() == {"title": "Shopping"}
    assert [r[:3] for r in revisions(engine)] == [
        (1, "anonymous", "POST /notes"), (2, "bob", "rename note 1")]
    assert rows(engine, "SELECT title, revision_id, expired_id FROM asgi_note_revision "
                        "ORDER BY revision_id") == [("Groceries", 1, 2), ("Shopping", 2, None)]
    # A request that only reads leaves no revision.
    assert client.get("/notes/1/history").json() == ["Groceries", "Shopping"]
    assert len(revisions(engine)) == 2


def test_an_exception_leaves_no_revision_and_no_rows(client: TestClient, engine: Engine) -> None:
    assert client.post("/notes/crash").status_code == 500
    assert rows(engine, "SELECT count(*) FROM revision") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM asgi_note") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM asgi_note_revision") == [(0,)]
    assert client.post("/notes", json={"title": "after"}).status_code == 201
    assert rows(engine, "SELECT title, revision_id FROM asgi_note") == [("after", 1)]


@pytest.mark.parametrize("path", ["/notes/invalid", "/notes/7/title"])
def test_an_error_response_rolls_the_request_back(
    client: TestClient, engine: Engine, path: str
) -> None:
    assert client.post(path, json={"title": "x"}).status_code in (404, 422)
    assert rows(engine, "SELECT count(*) FROM revision") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM asgi_note") == [(0,)]


def test_a_failing_commit_is_an_error_response_and_leaves_nothing(
    client: TestClient, engine: Engine
) -> None:
    client.post("/notes", json={"title": "Groceries"})
    assert client.post("/notes/1/copy").status_code == 500
    assert rows(engine, "SELECT id FROM revision") == [(1,)]
    assert rows(engine, "SELECT title FROM asgi_note") == [("Groceries",)]
    assert rows(engine, "SELECT count(*) FROM asgi_note_revision") == [(1,)]
    assert client.post("/notes", json={"title": "next"}).status_code == 201


def test_author_message_and_extra_are_configurable(notes_engine: Engine) -> None:
    url = async_url(notes_engine.url.render_as_string(hide_password=False))
    app = starlette_app(url, author=lambda conn: conn.headers.get("X-User"),
                        message=lambda conn: f"api {conn.url.path}",
                        extra=lambda conn: {"agent": conn.headers.get("User-Agent")},
                        anonymous="nobody", request_id_header="X-Trace")
    with TestClient(app) as client:
        client.post("/notes", json={"title": "a"},
                    headers={"X-User": "dora", "X-Trace": "t9", "User-Agent": "tests/1"})
        client.post("/notes", json={"title": "b"},
                    headers={"Authorization": "Bearer ann", "User-Agent": "tests/1"})
    assert revisions(notes_engine) == [
        (1, "dora", "api /notes", {"method": "POST", "path": "/notes", "request_id": "t9",
                                   "remote_addr": "testclient", "agent": "tests/1"}),
        # The author callable chooses: no X-User header, so the anonymous name.
        (2, "nobody", "api /notes", {"method": "POST", "path": "/notes", "request_id": None,
                                     "remote_addr": "testclient", "agent": "tests/1"})]


def test_a_request_without_the_middleware_is_told_what_to_do() -> None:
    with pytest.raises(NoRevisionError, match="add RevisionMiddleware"):
        request_session({"type": "http"})


# FastAPI, synchronous endpoints on a sessionmaker (commits run in a worker thread).

def note_session(request: FastAPIRequest) -> Session:
    """The FastAPI dependency giving an endpoint its request's session."""
    session: Session = request_session(request)
    return session


NoteSession = Annotated[Session, Depends(note_session)]


def fastapi_app(engine: Engine) -> FastAPI:
    app = FastAPI()
    app.add_middleware(RevisionMiddleware, sessionmaker=sessionmaker(engine))

    @app.post("/notes", status_code=201)
    def create(body: dict[str, str], session: NoteSession) -> dict[str, int]:
        note = Note(title=body["title"])
        session.add(note)
        session.flush()
        return {"id": note.id}

    @app.delete("/notes/{note_id}")
    def retire(note_id: int, session: NoteSession) -> dict[str, str]:
        note = session.get(Note, note_id)
        if note is None:
            raise HTTPException(404, "no such note")
        note.delete()
        session.flush()
        if note.title == "keep":
            raise HTTPException(409, "this note is kept")
        return {"state": note.state.value}

    @app.post("/notes/boom")
    def boom(session: NoteSession) -> None:
        session.add(Note(title="half written"))
        session.flush()
        raise RuntimeError("disk full")

    @app.get("/notes")
    def titles(session: NoteSession) -> list[str]:
        return [n.title for n in session.scalars(select(Note).order_by(Note.id))]

    return app


def test_fastapi_sync_endpoints_get_a_revision_per_request(notes_engine: Engine) -> None:
    with TestClient(fastapi_app(notes_engine), raise_server_exceptions=False) as client:
        assert client.post("/notes", json={"title": "keep"},
                           headers={"X-Request-ID": "r1"}).json() == {"id": 1}
        assert client.post("/notes", json={"title": "drop"}).json() == {"id": 2}
        assert client.delete("/notes/2").json() == {"state": "deleted"}
        assert client.delete("/notes/1").status_code == 409
        assert client.delete("/notes/9").status_code == 404
        assert client.post("/notes/boom").status_code == 500
        assert client.get("/notes").json() == ["keep", "drop"]
    assert [r[:3] for r in revisions(notes_engine)] == [
        (1, "anonymous", "POST /notes"), (2, "anonymous", "POST /notes"),
        (3, "anonymous", "DELETE /notes/2")]
    assert revisions(notes_engine)[0][3]["request_id"] == "r1"
    assert rows(notes_engine, "SELECT id, state, revision_id FROM asgi_note ORDER BY id") == [
        (1, "active", 1), (2, "deleted", 3)]
