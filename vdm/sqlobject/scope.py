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

from vdm.scope import RevisionScope
from vdm.sqlobject.revision import Revision


# Lower-case because it reads as a function call at the `with` and the `@`.
class revision_scope(RevisionScope):
    """Commit everything done inside as one revision (or join the outer one),
    on the :class:`vdm.sqlobject.Session` given."""

    revision_class = Revision
