"""A revision block: a ``with`` statement or decorator that commits one revision.

    with revision_scope(session, author="ann", message="fix typo"):
        book.title = "War and Peace"
    # committed as one revision; an exception rolls everything back

    @revision_scope(Session, author="importer", message="nightly import")
    def import_books(rows): ...

Nested blocks join the outer block's revision, and only the outermost one
commits, so helpers that open their own block compose.
"""

from __future__ import annotations

from contextlib import ContextDecorator
from typing import Any

from sqlalchemy.orm import Session, scoped_session

from vdm.sqlalchemy.revision import Revision
from vdm.sqlalchemy.typedsession import set_revision

_DEPTH = "vdm.scope_depth"


# Lower-case because it reads as a function call at the `with` and the `@`.
class revision_scope(ContextDecorator):
    """Commit everything done inside as one revision (or join the outer one)."""

    def __init__(
        self,
        session: Session | scoped_session[Session],
        author: str | None = None,
        message: str | None = None,
        extra: Any = None,
    ) -> None:
        self._session = session
        self._fields = {"author": author, "message": message, "extra": extra}
        self.revision: Revision | None = None

    def _current(self) -> Session:
        s = self._session
        return s() if isinstance(s, scoped_session) else s

    def __enter__(self) -> Revision:
        session = self._current()
        depth = session.info.get(_DEPTH, 0)
        outer: Revision | None = getattr(session, "revision", None)
        if depth and outer is not None:
            revision = outer
        else:
            revision = Revision(**self._fields)
            set_revision(session, revision)
        session.info[_DEPTH] = depth + 1
        self.revision = revision
        return revision

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        session = self._current()
        depth = session.info[_DEPTH] = session.info.get(_DEPTH, 1) - 1
        if depth:
            return
        if exc_type is None:
            session.commit()
        else:
            session.rollback()
