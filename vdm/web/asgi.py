"""A revision per request for ASGI applications (Starlette, FastAPI).

Add the middleware with a session factory; each HTTP request gets a new
session holding a revision of its own, committed with everything the
endpoint changed when the response's status is below 400, rolled back
otherwise (an error response or an exception)::

    from starlette.applications import Starlette
    from vdm.web.asgi import RevisionMiddleware, request_session

    async def add_page(request):
        session = request_session(request)       # an AsyncSession here
        session.add(Page(slug=(await request.json())["slug"]))
        return JSONResponse({"added": True}, status_code=201)

    app = Starlette(routes=[Route("/pages", add_page, methods=["POST"])])
    app.add_middleware(RevisionMiddleware, sessionmaker=async_sessionmaker(engine))

A FastAPI application takes the session as a dependency::

    def page_session(request: Request) -> AsyncSession:
        return request_session(request)

The factory may make ``AsyncSession``\\ s (``async_sessionmaker``) or plain
``Session``\\ s (``sessionmaker``, for synchronous endpoints; their commit
runs in a worker thread).  The session is committed when the response
*starts*, before its status line is sent, so a failed commit (e.g.
:class:`vdm.ConflictError`) becomes an error response; a streaming body
must not change the model.

The author is the user of Starlette's ``AuthenticationMiddleware``
(``scope["user"]``, when authenticated: its ``display_name``), else
``"anonymous"``; pass ``author=lambda connection: ...`` (given a
``starlette.requests.HTTPConnection``) to choose.  Authentication must
run first: list ``AuthenticationMiddleware`` before ``RevisionMiddleware``
in ``middleware=[...]`` (with ``add_middleware``, add it after).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vdm.errors import NoRevisionError
from vdm.sqlalchemy.revision import Revision
from vdm.sqlalchemy.scope import revision_scope
from vdm.web import (
    RequestInfo,
    RevisionFieldOptions,
    RevisionFields,
    succeeded,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["RevisionMiddleware", "request_revision", "request_session"]

#: Keys of the ASGI scope under which the request's session and revision live.
SESSION_KEY = "vdm.session"
REVISION_KEY = "vdm.revision"


class RevisionMiddleware:
    """ASGI middleware: each HTTP request's changes are one revision.

    ``sessionmaker`` makes the request's session (``async_sessionmaker``,
    ``sessionmaker`` or any callable).  ``author``, ``message`` and
    ``extra`` are called with the request's ``HTTPConnection`` (see
    :class:`vdm.web.RevisionFields`).  Other scopes (websockets, lifespan)
    pass through untouched.
    """

    def __init__(
        self,
        app: ASGIApp,
        sessionmaker: Callable[[], Any],
        **options: Unpack[RevisionFieldOptions[HTTPConnection]],
    ) -> None:
        self.app = app
        self.sessionmaker = sessionmaker
        self.fields: RevisionFields[HTTPConnection] = RevisionFields(**options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        client = scope.get("client")
        info = RequestInfo(
            method=scope["method"], path=scope["path"],
            request_id=connection.headers.get(self.fields.request_id_header),
            remote_addr=client[0] if client else None,
        )
        session = self.sessionmaker()
        block = revision_scope(session, **self.fields.for_request(
            connection, info, _authenticated_user(scope)))
        scope[SESSION_KEY] = session
        scope[REVISION_KEY] = block.enter(session)
        request = _Request(block, session)

        async def send_after_commit(message: Message) -> None:
            if message["type"] == "http.response.start":
                await request.finish(succeeded(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_after_commit)
        finally:
            # Without a response (an exception, or none sent) nothing is kept.
            try:
                await request.finish(False)
            finally:
                await _call(session.close)


class _Request:
    """The revision block of one request, finished once."""

    def __init__(self, block: revision_scope, session: Any) -> None:
        self.block = block
        self.session = session
        self.open = True

    async def finish(self, keep: bool) -> None:
        if not self.open:
            return
        self.open = False
        if not self.block.leave(self.session):
            return
        if not keep:
            await _call(self.session.rollback)
            return
        try:
            await _call(self.session.commit)
        except BaseException:
            await _call(self.session.rollback)
            raise


async def _call(method: Callable[[], Any]) -> None:
    """Await an ``AsyncSession`` method; run a ``Session``'s in a worker thread."""
    if inspect.iscoroutinefunction(method):
        await method()
    else:
        await anyio.to_thread.run_sync(method)


def _authenticated_user(scope: Scope) -> str | None:
    user = scope.get("user")
    if user is None or not getattr(user, "is_authenticated", True):
        return None
    if isinstance(user, str):
        return user or None
    name = getattr(user, "display_name", None) or getattr(user, "username", None)
    return str(name) if name else None


def _scope_of(request: HTTPConnection | Scope) -> Scope:
    return request.scope if isinstance(request, HTTPConnection) else request


def request_session(request: HTTPConnection | Scope) -> Any:
    """The session of ``request`` (a Starlette/FastAPI request or an ASGI scope)."""
    try:
        return _scope_of(request)[SESSION_KEY]
    except KeyError:
        raise NoRevisionError(
            "this request has no vdm session; add RevisionMiddleware "
            "(vdm.web.asgi) to the application"
        ) from None


def request_revision(request: HTTPConnection | Scope) -> Revision:
    """The revision of ``request`` (its message or extra may be changed)."""
    request_session(request)
    revision: Revision = _scope_of(request)[REVISION_KEY]
    return revision
