"""What every system's adapter offers the scenarios, and the shared data.

A scenario (:mod:`benchmarks.scenarios`) only talks to an :class:`Adapter`:
its model classes, how a change is grouped into a revision, and how the
system reads history.  Plain SQLAlchemy keeps no history, so its history
reads raise :class:`NotAvailable` and the table shows "n/a".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

#: The body of every book: long enough that copying rows costs something.
TEXT = ("It was the best of times, it was the worst of times. " * 8).strip()


class NotAvailable(Exception):
    """The system has no way to do this (plain SQLAlchemy keeps no history)."""


class WrongAnswer(Exception):
    """A peer library answered, but not what the history holds.

    The table shows "wrong answer" for it; from vdm or plain SQLAlchemy it
    fails the run like any error.
    """


class Adapter:
    """One system under test.  Subclasses set the model classes."""

    name = "?"
    Base: Any
    Author: Any
    Book: Any
    BookAuthor: Any
    #: The system's own bookkeeping tables: regex alternatives matched as
    #: whole words against each SQL statement (None: it has none).
    own_tables: str | None = None

    def session(self, engine: Engine) -> Session:
        """A fresh session; one per sample so identity maps start empty."""
        return Session(engine)

    def begin(self, session: Session, message: str) -> Any:
        """Start grouping the following changes into one revision.

        Returns a token that :meth:`revision_id` understands.
        """
        return None

    def revision_id(self, session: Session, token: Any) -> int:
        """Id of the revision begun with ``token``, once committed (setups)."""
        raise NotAvailable("plain SQLAlchemy keeps no revisions")

    def as_of_title(self, session: Session, book_id: int, revision_id: int) -> str | None:
        """Title of the book with key ``book_id`` as of ``revision_id``.

        Through the library's own API, by key: no live object is loaded
        first unless the library needs one.
        """
        raise NotAvailable("plain SQLAlchemy keeps no history")

    def authors_as_of(self, session: Session, book_id: int, revision_id: int) -> list[str]:
        """Names of the active authors of book ``book_id`` as of ``revision_id``."""
        raise NotAvailable("plain SQLAlchemy keeps no history")

    def all_as_of(self, session: Session, revision_id: int) -> list[Any]:
        """Every book as of ``revision_id``, as version objects."""
        raise NotAvailable("plain SQLAlchemy keeps no history")

    def version_titles(self, session: Session, book: Any) -> list[str]:
        """Every version of ``book``, oldest first: their titles."""
        raise NotAvailable("plain SQLAlchemy keeps no history")

    def version_count(self, session: Session, cls: Any) -> int | None:
        """How many versions of class ``cls`` are stored (None: no history)."""
        return None

    def set_state(self, link: Any, active: bool) -> None:
        """Soft-delete (``active=False``) or undelete a link."""
        link.state = "active" if active else "deleted"

    # Live reads are the same for every system.

    def live_title(self, session: Session, book_id: int) -> str | None:
        """Title of the live book ``book_id``: a read by primary key."""
        book = session.get(self.Book, book_id)
        return None if book is None else book.title

    def live_authors(self, session: Session, book_id: int) -> list[str]:
        """Names of the active authors of live book ``book_id``."""
        book = session.get(self.Book, book_id)
        return [author.name for author in book.authors]

    def count(self, session: Session, cls: Any) -> int:
        """Number of live rows of ``cls``."""
        return int(session.execute(select(func.count()).select_from(cls)).scalar_one())


class Sizes:
    """How much work each scenario does; see :data:`MODES`."""

    def __init__(self, **values: Any) -> None:
        #: Books created in one revision (each with 2 links).
        self.create: int = values["create"]
        #: Revisions of the update scenario, each updating 10 books.
        self.update_revisions: int = values["update_revisions"]
        self.update_pool: int = values["update_pool"]
        #: History depths of the one-object as-of reads (versions per object).
        self.depths: tuple[int, ...] = values["depths"]
        #: Books of "all as of", and their versions each.
        self.mass: int = values["mass"]
        self.mass_versions: int = values["mass_versions"]
        #: Links of the link-list book, and the revisions changing them.
        self.links: int = values["links"]
        self.link_steps: int = values["link_steps"]
        #: Samples of each measurement (medians are taken over them).
        self.write_repeats: int = values["write_repeats"]
        self.read_repeats: int = values["read_repeats"]
        #: One-object reads timed per sample (their mean is the sample).
        self.inner: int = values["inner"]
        #: Object counts of the statements-per-revision table.
        self.statement_counts: tuple[int, ...] = values["statement_counts"]
        #: Concurrent writers: thread counts, milliseconds of work between
        #: the first flush and the commit, seconds each sample runs.
        self.writers: tuple[int, ...] = values["writers"]
        self.waits: tuple[int, ...] = values["waits"]
        self.writer_seconds: float = values["writer_seconds"]
        self.writer_repeats: int = values["writer_repeats"]

    @property
    def versions_depth(self) -> int:
        """The depth whose object's versions are listed (1,000 in full mode)."""
        return self.depths[len(self.depths) // 2]


MODES = {
    "full": Sizes(create=1000, update_revisions=200, update_pool=100,
                  depths=(10, 1000, 10000), mass=1000, mass_versions=10,
                  links=20, link_steps=20, write_repeats=5, read_repeats=7,
                  inner=20, statement_counts=(1, 10, 100),
                  writers=(1, 4, 8), waits=(0, 10), writer_seconds=2.0,
                  writer_repeats=3),
    "quick": Sizes(create=300, update_revisions=30, update_pool=100,
                   depths=(10, 100, 400), mass=300, mass_versions=10,
                   links=20, link_steps=20, write_repeats=3, read_repeats=3,
                   inner=5, statement_counts=(1, 10, 100),
                   writers=(1, 4, 8), waits=(0, 10), writer_seconds=1.0,
                   writer_repeats=1),
    "smoke": Sizes(create=20, update_revisions=4, update_pool=20,
                   depths=(4, 8, 16), mass=20, mass_versions=4,
                   links=4, link_steps=4, write_repeats=1, read_repeats=1,
                   inner=1, statement_counts=(1, 10),
                   writers=(1, 2), waits=(0, 10), writer_seconds=0.2,
                   writer_repeats=1),
}
