"""A revision per web request: what the framework integrations share.

Every request of a web application gets its own revision, opened when the
request starts and committed with the request's changes when it succeeds:

* :mod:`vdm.web.flask`: Flask with Flask-SQLAlchemy (the ``flask`` extra);
* :mod:`vdm.web.asgi`: ASGI applications, Starlette and FastAPI (the
  ``asgi`` extra).

The revision's author is the request's user (a callable chooses it; each
integration has a default that reads the user the server or the
framework authenticated, else :data:`ANONYMOUS`); its message is
``"POST /pages"`` unless a callable gives another; its ``extra`` holds the
request's method, path, request id (the ``X-Request-ID`` header by
default) and remote address.  A request *succeeds* when its response has a
status below 400; a 4xx or 5xx response, or an exception, rolls back
everything the request did, as django-reversion's middleware does.  A
request that changed nothing versioned leaves no revision.

This package imports no web framework; ``import vdm`` does not import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar

#: The author of requests that have no user.
ANONYMOUS = "anonymous"
#: The header whose value is stored as the request id.
REQUEST_ID_HEADER = "X-Request-ID"

_R = TypeVar("_R")


@dataclass(frozen=True)
class RequestInfo:
    """The request metadata a revision records in its ``extra``."""

    method: str
    path: str
    request_id: str | None
    remote_addr: str | None

    def as_extra(self) -> dict[str, Any]:
        """``{"method", "path", "request_id", "remote_addr"}``, as stored."""
        return {"method": self.method, "path": self.path,
                "request_id": self.request_id, "remote_addr": self.remote_addr}


def succeeded(status: int) -> bool:
    """True for a response whose request's revision is committed (below 400)."""
    return status < 400


class RevisionFieldOptions(TypedDict, Generic[_R], total=False):
    """The keyword arguments of :class:`RevisionFields`, which each web
    integration takes as its own and hands on."""

    #: The revision's author for a request (None: the default author).
    author: Callable[[_R], str | None] | None
    #: The revision's message for a request (None: ``METHOD /path``).
    message: Callable[[_R], str | None] | None
    #: More request metadata for the revision's ``extra``.
    extra: Callable[[_R], Mapping[str, Any] | None] | None
    #: The author when there is none.
    anonymous: str
    #: The header a request id is read from.
    request_id_header: str


class RevisionFields(Generic[_R]):
    """How a request's revision gets its author, message and extra.

    ``author``, ``message`` and ``extra`` are callables given the framework's
    request object; an author callable returning None, or none given, falls
    back to ``default_author`` and then to ``anonymous``.  What ``extra``
    returns is added to the request metadata.
    """

    def __init__(
        self,
        author: Callable[[_R], str | None] | None = None,
        message: Callable[[_R], str | None] | None = None,
        extra: Callable[[_R], Mapping[str, Any] | None] | None = None,
        anonymous: str = ANONYMOUS,
        request_id_header: str = REQUEST_ID_HEADER,
    ) -> None:
        self.author = author
        self.message = message
        self.extra = extra
        self.anonymous = anonymous
        self.request_id_header = request_id_header

    def for_request(
        self, request: _R, info: RequestInfo, default_author: str | None
    ) -> dict[str, Any]:
        """The ``Revision`` keyword arguments for ``request``."""
        author = self.author(request) if self.author is not None else default_author
        message = self.message(request) if self.message is not None else None
        extra = info.as_extra()
        if self.extra is not None:
            extra.update(self.extra(request) or {})
        return {"author": author or self.anonymous,
                "message": message or f"{info.method} {info.path}",
                "extra": extra}
