"""A revision block, for both backends: a ``with`` statement or decorator
that commits one revision.

    with revision_scope(session, author="ann", message="fix typo"):
        book.title = "War and Peace"
    # committed as one revision; an exception rolls everything back

Nested blocks on one session join the outer block's revision, and only the
outermost one commits (or rolls back), so helpers that open their own block
compose.  On an async session the block is an ``async with`` statement and
decorates coroutine functions.  Each backend names its session and revision classes; what a block
means is written here once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, MutableMapping
from contextlib import ContextDecorator
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from vdm.errors import InvalidInputError

_F = TypeVar("_F", bound=Callable[..., Any])

#: Key of the count of open blocks in a session's depth store.
DEPTH = "vdm.scope_depth"

#: Depth stores of sessions that keep none themselves.
_stores: WeakKeyDictionary[Any, dict[str, Any]] = WeakKeyDictionary()


class RevisionScope(ContextDecorator):
    """Commit everything done inside as one revision (or join the outer one).

    A backend subclass names its revision class (:attr:`revision_class`)
    and may say which session a block works on (:meth:`current_session`)
    and where it counts the open blocks (:meth:`depth_store`); the session
    has a ``revision`` attribute, ``commit()`` and ``rollback()``.
    """

    #: The backend's revision class, made with ``author``, ``message`` and ``extra``.
    revision_class: Any = None

    def __init__(self, session: Any, author: str | None = None,
                 message: str | None = None, extra: Any = None) -> None:
        self._session = session
        self._fields = {"author": author, "message": message, "extra": extra}
        self.revision: Any = None

    def new_revision(self, session: Any) -> Any:
        """Start a new revision with the block's ``author``, ``message`` and
        ``extra`` on ``session`` and return it; the session's commit writes it.

        This is what ``new_revision`` means everywhere in vdm (the
        repositories' and :meth:`vdm.sqlobject.Session.new_revision` too).
        """
        revision = self.revision_class(**self._fields)
        session.revision = revision
        return revision

    def current_session(self) -> Any:
        """The session the block works on (the one it was given, by default)."""
        return self._session

    def depth_store(self, session: Any) -> MutableMapping[str, Any]:
        """Where the open blocks on ``session`` are counted (under :data:`DEPTH`)."""
        return _stores.setdefault(session, {})

    def enter(self, session: Any) -> Any:
        """Open the block on ``session``: give it a new revision or, inside an
        open block, keep the outer block's.  Returns the revision."""
        store = self.depth_store(session)
        depth = store.get(DEPTH, 0)
        outer = getattr(session, "revision", None)
        revision = outer if depth and outer is not None else self.new_revision(session)
        store[DEPTH] = depth + 1
        self.revision = revision
        return revision

    def leave(self, session: Any) -> bool:
        """Close the block on ``session``; True if it was the outermost one.

        The caller of the outermost block then commits or rolls back.
        """
        store = self.depth_store(session)
        depth: int = store.get(DEPTH, 1) - 1
        store[DEPTH] = depth
        return depth == 0

    def __enter__(self) -> Any:
        session = self.current_session()
        if inspect.iscoroutinefunction(session.commit):
            # Its commit would never run: an un-awaited coroutine.
            raise InvalidInputError(
                f"revision_scope on {type(session).__name__} is an async block: "
                f"write `async with revision_scope(...)`, or decorate a coroutine "
                f"function"
            )
        return self.enter(session)

    def finish(self, session: Any, failed: bool) -> Any:
        """Close the block on ``session``; the outermost one commits, or
        rolls back if ``failed``.  Returns what that call returned (to be
        awaited on an async session)."""
        if not self.leave(session):
            return None
        return session.rollback() if failed else session.commit()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.finish(self.current_session(), exc_type is not None)

    async def __aenter__(self) -> Any:
        return self.enter(self.current_session())

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        done = self.finish(self.current_session(), exc_type is not None)
        # A plain session works here too (its commit returns None).
        if inspect.isawaitable(done):
            await done

    def __call__(self, func: _F) -> _F:
        """Decorate ``func``: each call runs in a block (``async with`` for
        coroutine functions)."""
        if not inspect.iscoroutinefunction(func):
            return super().__call__(func)

        @functools.wraps(func)
        async def in_block(*args: Any, **kwargs: Any) -> Any:
            async with self:
                return await func(*args, **kwargs)

        return in_block  # type: ignore[return-value]
