"""The Starlette application of ``vdm serve``: routes, rendering, error pages.

Every route answers GET (and HEAD) only; any other method gets a 405 page,
so nothing can write through the browser.  Each page is HTML for people,
or its data as JSON with ``?format=json``.  Errors get a page of their own
with the right status (400 bad parameter, 404 unknown revision, table or
key, 405 method, 503 database unreachable or not a vdm database), never a
traceback.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from vdm import __version__
from vdm.cli.rendering import json_value
from vdm.errors import (
    MalformedKeyError,
    RevisionNotFoundError,
    UnknownRowError,
    UnknownTableError,
)
from vdm.serve import objects, pages
from vdm.serve.links import model_url, with_query
from vdm.serve.pages import Page
from vdm.serve.source import PageError, Source
from vdm.sqlalchemy.reflection import ReflectedModel

_TEMPLATES = Path(__file__).parent / "templates"

#: HTTP reasons for the error pages.
_REASONS = {400: "Bad request", 404: "Not found", 405: "Method not allowed",
            500: "Internal error", 503: "Database unavailable"}

#: A page: the model and the request in, a page out.
PageFunction = Callable[[ReflectedModel, Request], Page]


def show(value: Any) -> str:
    """A field value as pages print it (``None`` as the word, dates in ISO 8601)."""
    if value is None:
        return "None"
    if isinstance(value, enum.Enum):
        value = value.value
    return str(json_value(value))


def when(iso: str | None) -> str:
    """``2024-05-01 12:00:00 UTC`` from an ISO 8601 UTC timestamp."""
    if not iso:
        return "(no timestamp)"
    return dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")


def _environment() -> Environment:
    environment = Environment(loader=FileSystemLoader(_TEMPLATES),
                              autoescape=select_autoescape(["html"]))
    environment.filters["show"] = show
    environment.filters["when"] = when
    environment.globals["version"] = __version__
    return environment


class Browser:
    """The pages of one database: builds the Starlette app around a :class:`Source`."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.templates = _environment()

    def app(self) -> Starlette:
        """The ASGI application."""
        routes = [
            Route("/", self._page(lambda m, r: pages.log_page(m, r.query_params))),
            Route("/revision/{rev}", self._page(
                lambda m, r: pages.revision_page(m, r.path_params["rev"]))),
            Route("/object/{table}/{key:path}", self._page(
                lambda m, r: objects.object_page(m, r.path_params["table"],
                                                 r.path_params["key"]))),
            Route("/diff/{table}/{key:path}", self._page(
                lambda m, r: objects.diff_page(m, r.path_params["table"],
                                               r.path_params["key"], r.query_params))),
            Route("/model", self._latest_model),
            Route("/model/{rev}", self._page(
                lambda m, r: objects.model_page(m, r.path_params["rev"]))),
            Route("/model/{rev}/{table}", self._page(
                lambda m, r: objects.table_page(m, r.path_params["rev"],
                                                r.path_params["table"], r.query_params))),
            Route("/model/{rev}/{table}/{key:path}", self._page(
                lambda m, r: objects.row_page(m, r.path_params["rev"],
                                              r.path_params["table"], r.path_params["key"]))),
            Route("/verify", self._page(lambda m, r: pages.verify_page(m))),
        ]
        handlers: dict[Any, Any] = {HTTPException: self._http_error,
                                    Exception: self._internal_error}
        return Starlette(routes=routes, exception_handlers=handlers)

    # -- pages ----------------------------------------------------------

    def _page(self, build: PageFunction) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                wants_json = _wants_json(request)
                with self.source.model() as model:
                    page = build(model, request)
            except PageError as exc:
                return self._error(request, exc.status, exc.title, exc.message)
            except (RevisionNotFoundError, UnknownTableError, UnknownRowError) as exc:
                return self._error(request, 404, "Not found", str(exc))
            except MalformedKeyError as exc:
                return self._error(request, 400, "Bad request", str(exc))
            if wants_json:
                return _json(page.data, 200)
            return self._html(request, page.template, page.title, page.data, 200)
        return endpoint

    def _latest_model(self, request: Request) -> Response:
        try:
            _wants_json(request)
            with self.source.model() as model:
                latest = pages.youngest(model)
        except PageError as exc:
            return self._error(request, exc.status, exc.title, exc.message)
        return RedirectResponse(with_query(model_url(latest), request.query_params), 302)

    # -- rendering ------------------------------------------------------

    def _html(self, request: Request, template: str, title: str,
              data: dict[str, Any], status: int) -> Response:
        json_params = {**request.query_params, "format": "json"}
        html = self.templates.get_template(template).render(
            title=title, database=self.source.shown, json_url=with_query(request.url.path,
                                                                         json_params),
            **data)
        return HTMLResponse(html, status)

    def _error(self, request: Request, status: int, title: str, message: str,
               headers: dict[str, str] | None = None) -> Response:
        if request.query_params.get("format") == "json":
            response = _json({"error": {"status": status, "title": title,
                                        "message": message}}, status)
        else:
            response = self._html(request, "error.html", title,
                                  {"status": status, "message": message}, status)
        response.headers.update(headers or {})
        return response

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        if status == 405:
            message = (f"{request.method} is not allowed: vdm serve only shows "
                       f"history (GET); it never writes to the database")
        elif status == 404:
            message = (f"there is no page at {request.url.path}; the revision log "
                       f"at / links to every page")
        else:
            message = str(exc.detail)
        return self._error(request, status, _REASONS.get(status, "Error"), message,
                           dict(exc.headers or {}))

    async def _internal_error(self, request: Request, exc: Exception) -> Response:
        return self._error(request, 500, "Internal error",
                           f"the page could not be made ({type(exc).__name__}); "
                           f"the server's log has the details")


def _wants_json(request: Request) -> bool:
    wanted = request.query_params.get("format", "html")
    if wanted not in ("html", "json"):
        raise PageError(400, "Bad request",
                        f"format={wanted!r} is not a format; give format=json or format=html")
    return wanted == "json"


def _json(data: Any, status: int) -> Response:
    body = json.dumps(data, default=json_value, ensure_ascii=False, indent=2)
    return Response(body + "\n", status, media_type="application/json")


def create_app(url: str) -> Starlette:
    """The read-only history browser over the vdm database at ``url``.

    Raises :class:`vdm.cli.CommandError` when ``url`` is not a usable
    database URL; an unreachable or non-vdm database gets error pages
    (503) until it is fixed.
    """
    source = Source(url)
    app = Browser(source).app()
    app.state.source = source
    return app
