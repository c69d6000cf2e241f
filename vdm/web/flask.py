"""A revision per Flask request, for Flask-SQLAlchemy applications.

Install it on the application; each request then runs in a revision of its
own, committed with everything the view changed when the response's
status is below 400, rolled back otherwise (an error response or an
exception)::

    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy
    from vdm.web.flask import RevisionPerRequest, request_revision

    db = SQLAlchemy(model_class=Base)
    app = Flask(__name__)
    db.init_app(app)
    RevisionPerRequest(app, db.session)

    @app.post("/pages")
    def add_page():
        db.session.add(Page(slug=request.form["slug"]))
        request_revision().message = "new page"   # optional
        return {"added": True}, 201               # commits the revision

The author is ``request.remote_user`` (the user the WSGI server
authenticated), else ``"anonymous"``; pass ``author=lambda request: ...``
to take it from the application's login instead.  The view does not
commit: the extension does, after the view and before the response is
sent, so a failed commit (e.g. :class:`vdm.ConflictError`) is an error
response.  Blocks of :func:`vdm.sqlalchemy.revision_scope` inside a view
join the request's revision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask, Request, Response, g, request
from sqlalchemy.orm import Session, scoped_session

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

__all__ = ["RevisionPerRequest", "request_revision"]

_OPEN = "_vdm_request_revision"


class RevisionPerRequest:
    """Flask extension: each request's changes are one revision.

    ``session`` is the application's session: Flask-SQLAlchemy's
    ``db.session`` (a ``scoped_session``), another ``scoped_session``, or
    a callable returning the request's ``Session``; by default the
    Flask-SQLAlchemy extension's session of the app.  ``author``,
    ``message`` and ``extra`` are called with the request (see
    :class:`vdm.web.RevisionFields`).
    """

    def __init__(
        self,
        app: Flask | None = None,
        session: scoped_session[Session] | Callable[[], Session] | None = None,
        **options: Unpack[RevisionFieldOptions[Request]],
    ) -> None:
        self.session = session
        self.fields: RevisionFields[Request] = RevisionFields(**options)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Open, commit and roll back the revisions of ``app``'s requests."""
        if self.session is None:
            self.session = app.extensions["sqlalchemy"].session
        app.extensions["vdm"] = self
        app.before_request(self._open)
        app.after_request(self._close)
        app.teardown_request(self._teardown)

    def _open(self) -> None:
        assert self.session is not None
        session = self.session()
        info = RequestInfo(
            method=request.method, path=request.path,
            request_id=request.headers.get(self.fields.request_id_header),
            remote_addr=request.remote_addr,
        )
        block = revision_scope(session, **self.fields.for_request(request, info,
                                                                  request.remote_user))
        block.enter(session)
        setattr(g, _OPEN, (block, session))

    def _close(self, response: Response) -> Response:
        _finish(succeeded(response.status_code))
        return response

    def _teardown(self, exc: BaseException | None) -> None:
        # Reached with the block still open when the view raised and Flask
        # propagates the exception (testing, debug): nothing is kept.
        _finish(False)


def _finish(keep: bool) -> None:
    opened: tuple[revision_scope, Session] | None = g.pop(_OPEN, None)
    if opened is None:
        return
    block, session = opened
    if not block.leave(session):
        return
    if not keep:
        session.rollback()
        return
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise


def request_revision() -> Revision:
    """The revision of the current request (its message or extra may be changed)."""
    opened = g.get(_OPEN)
    if opened is None or opened[0].revision is None:
        raise NoRevisionError(
            "this request has no revision; install RevisionPerRequest on the "
            "Flask app (vdm.web.flask) and call request_revision() in a view"
        )
    revision: Revision = opened[0].revision
    return revision
