"""A revision block on a vdm.sqlobject session: ``with`` or decorator.

    with revision_scope(session, author="ann", message="fix typo"):
        book.title = "War and Peace"
    # committed as one revision; an exception rolls everything back

    @revision_scope(session, author="importer", message="nightly import")
    def import_books(rows): ...

Nested blocks on one session join the outer block's revision, and only the
outermost one commits, exactly as :func:`vdm.sqlalchemy.revision_scope`
does (both are :class:`vdm.scope.RevisionScope`).
"""

from __future__ import annotations

from typing import Any

from vdm.scope import RevisionScope
from vdm.sqlobject.revision import Revision
from vdm.sqlobject.session import Session


# Lower-case because it reads as a function call at the `with` and the `@`.
class revision_scope(RevisionScope):
    """Commit everything done inside as one revision (or join the outer one)."""

    def current_session(self) -> Session:
        """The :class:`vdm.sqlobject.Session` the block was given."""
        session: Session = self._session
        return session

    def new_revision(self, **fields: Any) -> Revision:
        """A new :class:`vdm.sqlobject.Revision`."""
        return Revision(**fields)

    def __enter__(self) -> Revision:
        revision: Revision = super().__enter__()
        return revision
