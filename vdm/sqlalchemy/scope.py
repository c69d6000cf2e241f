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

import sys
from collections.abc import MutableMapping
from typing import Any

from sqlalchemy.orm import scoped_session

from vdm.scope import RevisionScope
from vdm.sqlalchemy.revision import Revision


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


def _is_async_scoped(session: Any) -> bool:
    # The asyncio extension is only imported by applications that use it.
    extension = sys.modules.get("sqlalchemy.ext.asyncio")
    return extension is not None and isinstance(session, extension.async_scoped_session)
