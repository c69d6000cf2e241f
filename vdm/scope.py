"""A revision block, for both backends: a ``with`` statement or decorator
that commits one revision.

    with revision_scope(session, author="ann", message="fix typo"):
        book.title = "War and Peace"
    # committed as one revision; an exception rolls everything back

Nested blocks on one session join the outer block's revision, and only the
outermost one commits (or rolls back), so helpers that open their own block
compose.  Each backend names its session and revision classes; what a block
means is written here once.
"""

from __future__ import annotations

from contextlib import ContextDecorator
from typing import Any
from weakref import WeakKeyDictionary

#: How many blocks are open on each session (outermost first).
_depths: WeakKeyDictionary[Any, int] = WeakKeyDictionary()


class RevisionScope(ContextDecorator):
    """Commit everything done inside as one revision (or join the outer one).

    A backend subclass says how to make a revision (:meth:`new_revision`)
    and which session a block works on (:meth:`current_session`); the
    session has a ``revision`` attribute, ``commit()`` and ``rollback()``.
    """

    def __init__(self, session: Any, author: str | None = None,
                 message: str | None = None, extra: Any = None) -> None:
        self._session = session
        self._fields = {"author": author, "message": message, "extra": extra}
        self.revision: Any = None

    def new_revision(self, **fields: Any) -> Any:
        """A new revision of the backend with ``author``, ``message`` and ``extra``."""
        raise NotImplementedError

    def current_session(self) -> Any:
        """The session the block works on (the one it was given, by default)."""
        return self._session

    def __enter__(self) -> Any:
        session = self.current_session()
        depth = _depths.get(session, 0)
        outer = getattr(session, "revision", None)
        if depth and outer is not None:
            revision = outer
        else:
            revision = self.new_revision(**self._fields)
            session.revision = revision
        _depths[session] = depth + 1
        self.revision = revision
        return revision

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        session = self.current_session()
        depth = _depths[session] = _depths.get(session, 1) - 1
        if depth:
            return
        del _depths[session]
        if exc_type is None:
            session.commit()
        else:
            session.rollback()
