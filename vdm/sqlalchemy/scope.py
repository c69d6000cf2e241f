"""A revision block: a ``with`` statement or decorator that commits one revision.

    with revision_scope(session, author="ann", message="fix typo"):
        book.title = "War and Peace"
    # committed as one revision; an exception rolls everything back

    @revision_scope(Session, author="importer", message="nightly import")
    def import_books(rows): ...

Nested blocks join the outer block's revision, and only the outermost one
commits, so helpers that open their own block compose.  (What a block
means is :class:`vdm.scope.RevisionScope`'s, the same on both backends.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, scoped_session

from vdm.scope import RevisionScope
from vdm.sqlalchemy.revision import Revision


# Lower-case because it reads as a function call at the `with` and the `@`.
class revision_scope(RevisionScope):
    """Commit everything done inside as one revision (or join the outer one).

    ``session`` is a ``Session`` or a ``scoped_session`` (the block then
    works on the session current when it opens).
    """

    def __init__(self, session: Session | scoped_session[Session], author: str | None = None,
                 message: str | None = None, extra: Any = None) -> None:
        super().__init__(session, author=author, message=message, extra=extra)
        self.revision: Revision | None = None

    def new_revision(self, **fields: Any) -> Revision:
        """A new :class:`vdm.sqlalchemy.Revision`."""
        return Revision(**fields)

    def current_session(self) -> Session:
        """The session given, or a scoped session's current one."""
        s: Session | scoped_session[Session] = self._session
        return s() if isinstance(s, scoped_session) else s

    def __enter__(self) -> Revision:
        revision: Revision = super().__enter__()
        return revision
