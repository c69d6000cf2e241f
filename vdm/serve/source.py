"""The database a ``vdm serve`` process reads, and the errors pages show.

The schema is reflected once, on the first request that reaches the
database (:class:`~vdm.sqlalchemy.reflection.ReflectedModel`, as the
command line reads it); each request then borrows a connection from the
pool and reads through a copy of that model bound to it, so a page costs
only its own queries.  Nothing is ever committed: the connection is
returned with its transaction rolled back.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from vdm.cli.opening import first_line, make_engine, missing_sqlite_file
from vdm.errors import NotVdmDatabaseError
from vdm.sqlalchemy.reflection import ReflectedModel


class PageError(Exception):
    """A request that gets an error page: its HTTP status, a title and a sentence."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


def unavailable(message: str) -> PageError:
    """The database cannot serve pages now (503)."""
    return PageError(503, "Database unavailable", message)


class Source:
    """One vdm database, opened from its URL (``CommandError`` if the URL is bad)."""

    def __init__(self, url_text: str) -> None:
        engine, shown, password = make_engine(url_text)
        #: The engine every page reads through.
        self.engine: Engine = engine
        #: The URL as pages show it (password hidden).
        self.shown = shown
        self._password = password
        self._reflected: ReflectedModel | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the pool's connections."""
        self.engine.dispose()

    @contextmanager
    def model(self) -> Iterator[ReflectedModel]:
        """The reflected model on a connection of its own, for one request.

        Raises :class:`PageError` (503) when the database cannot be reached,
        is not a vdm database, or fails while it is read.
        """
        missing = missing_sqlite_file(self.engine.url)
        if missing is not None:
            # Connecting would create an empty file: a read-only viewer must not.
            raise unavailable(f"cannot open {self.shown}: there is no file {missing}")
        try:
            connection = self.engine.connect()
        except DBAPIError as exc:
            raise unavailable(f"cannot connect to {self.shown}: "
                              f"{first_line(exc.orig, self._password)}") from None
        with connection:
            try:
                model = copy.copy(self._reflect(connection))
                model.connection = connection
                yield model
            except DBAPIError as exc:
                # The schema may have changed under us: reflect it again next time.
                self._reflected = None
                raise unavailable(f"reading {self.shown} failed: "
                                  f"{first_line(exc.orig, self._password)}") from None
            finally:
                connection.rollback()

    def _reflect(self, connection: Connection) -> ReflectedModel:
        with self._lock:
            if self._reflected is None:
                try:
                    self._reflected = ReflectedModel(connection)
                except NotVdmDatabaseError as exc:
                    raise unavailable(f"{self.shown} is not a vdm database: {exc}") from None
            return self._reflected
