"""A revision block: a ``with`` statement or decorator that commits one revision.

    with revision_scope(session, author="ann", message="fix typo"):
        book.title = "War and Peace"
    # committed as one revision; an exception rolls everything back

    @revision_scope(Session, author="importer", message="nightly import")
    def import_books(rows): ...

With an ``AsyncSession`` (or ``async_scoped_session``) the block is an
``async with`` statement, and decorates coroutine functions::

    async with revision_scope(async_session, author="ann", message="fix typo"):
        book.title = "War and Peace"

Nested blocks join the outer block's revision, and only the outermost one
commits, so helpers that open their own block compose.  (What a block
means is :class:`vdm.scope.RevisionScope`'s, the same on both backends.)
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

from sqlalchemy.orm import scoped_session

from vdm.scope import RevisionScope
from vdm.sqlalchemy.revision import Revision

_F = TypeVar("_F", bound=Callable[..., Any])


# Lower-case because it reads as a function call at the `with` and the `@`.
class revision_scope(RevisionScope):
    """Commit everything done inside as one revision (or join the outer one).

    ``session`` is a ``Session`` or ``scoped_session`` (``with``), or an
    ``AsyncSession`` or ``async_scoped_session`` (``async with``).  The web
    integrations (:mod:`vdm.web`) call :meth:`enter` and :meth:`leave`
    themselves, around a request.
    """

    revision_class = Revision

    def current_session(self) -> Any:
        """The session given, or a scoped session's current one."""
        s: Any = self._session
        if isinstance(s, scoped_session) or _is_async_scoped(s):
            return s()
        return s

    def depth_store(self, session: Any) -> MutableMapping[str, Any]:
        """The session's ``info``: the open blocks are counted there."""
        info: MutableMapping[str, Any] = session.info
        return info

    def __call__(self, func: _F) -> _F:
        """Decorate ``func``: each call runs in a block (``async with`` for coroutines)."""
        if not inspect.iscoroutinefunction(func):
            return super().__call__(func)

        @functools.wraps(func)
        async def in_block(*args: Any, **kwargs: Any) -> Any:
            async with self:
                return await func(*args, **kwargs)

        return in_block  # type: ignore[return-value]

    async def __aenter__(self) -> Revision:
        revision: Revision = self.enter(self.current_session())
        return revision

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        session = self.current_session()
        if self.leave(session):
            # A plain Session works here too (its methods return None).
            done = session.commit() if exc_type is None else session.rollback()
            if inspect.isawaitable(done):
                await done


def _is_async_scoped(session: Any) -> bool:
    # The asyncio extension is only imported by applications that use it.
    extension = sys.modules.get("sqlalchemy.ext.asyncio")
    return extension is not None and isinstance(session, extension.async_scoped_session)
