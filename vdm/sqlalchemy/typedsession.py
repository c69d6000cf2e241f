"""A Session class that type checkers know has a ``revision``.

vdm works with every SQLAlchemy session: ``session.revision = Revision(...)``
sets an attribute SQLAlchemy's :class:`~sqlalchemy.orm.Session` does not
declare, so ``mypy --strict`` refuses the line on a plain Session.  Make
sessions of :class:`VersionedSession` instead, and the line type-checks::

    Session = sessionmaker(engine, class_=VersionedSession)

    with Session() as session:
        session.revision = Revision(author="me", message="first")

Code that receives a plain ``Session`` typed as such can call
:func:`set_revision` to the same effect.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from vdm.sqlalchemy.revision import Revision


class VersionedSession(Session):
    """A :class:`~sqlalchemy.orm.Session` with a typed ``revision`` attribute.

    It behaves exactly like a Session (vdm's hooks serve every Session);
    only type checkers see the difference.  Use it as ``sessionmaker(...,
    class_=VersionedSession)``, ``VersionedSession(engine)`` or a base
    class of your own session class.
    """

    #: The revision the next versioned changes are written in; None
    #: between transactions (commit and rollback clear it).
    revision: Revision | None = None


def set_revision(session: Session, revision: Revision | None) -> None:
    """``session.revision = revision`` for a session typed as a plain Session."""
    # setattr, spelled so that type checkers accept it for any Session.
    object.__setattr__(session, "revision", revision)
