"""Opening the database a ``vdm`` command reads, from its URL.

Every problem with the URL, the connection or what was asked of the
database becomes a :class:`CommandError`: one line naming the URL with its
password hidden, exit status 2.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import URL, Engine

    from vdm.sqlalchemy.reflection import ReflectedModel

DEFAULT_DEMO_DB = "vdm-demo.db"
#: The database the reading commands open without ``--url``.
DEFAULT_URL = f"sqlite:///{DEFAULT_DEMO_DB}"


class CommandError(Exception):
    """What the command was asked cannot be done: one line, exit status 2."""


@contextmanager
def open_model(url_text: str) -> Iterator[ReflectedModel]:
    """The vdm database at ``url_text``, reflected, on one open connection.

    Every problem with the URL, the connection or what was asked of the
    database becomes a :class:`CommandError` naming the URL with its
    password hidden.
    """
    from sqlalchemy.exc import DBAPIError

    from vdm.errors import (
        MalformedKeyError,
        NotVdmDatabaseError,
        RevisionNotFoundError,
        UnknownRowError,
        UnknownTableError,
    )
    from vdm.sqlalchemy.reflection import ReflectedModel

    engine, shown, password = make_engine(url_text)
    try:
        try:
            connection = engine.connect()
        except DBAPIError as exc:
            raise CommandError(f"cannot connect to {shown}: "
                               f"{first_line(exc.orig, password)}") from None
        with connection:
            try:
                model = ReflectedModel(connection)
            except NotVdmDatabaseError as exc:
                raise CommandError(f"{shown} is not a vdm database: {exc}") from None
            try:
                yield model
            except (RevisionNotFoundError, UnknownTableError, UnknownRowError,
                    MalformedKeyError) as exc:
                raise CommandError(str(exc)) from None
    except DBAPIError as exc:
        raise CommandError(f"reading {shown} failed: "
                           f"{first_line(exc.orig, password)}") from None
    finally:
        engine.dispose()


def make_engine(url_text: str) -> tuple[Engine, str, str | None]:
    """An engine on ``url_text``, the URL as messages show it, and its password.

    Raises :class:`CommandError` for a URL that is not one, a dialect or
    driver that is missing, and an SQLite file that does not exist (SQLite
    would create an empty one).  ``vdm serve`` opens its database with it too.
    """
    from sqlalchemy import create_engine, make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(url_text)
    except (ArgumentError, ValueError):
        raise CommandError(
            f"{hide_password(url_text)!r} is not a database URL; give one like "
            f"{DEFAULT_URL} or postgresql+psycopg://user@host/dbname"
        ) from None
    shown = url.render_as_string(hide_password=True)
    password = url.password if isinstance(url.password, str) else None
    missing = missing_sqlite_file(url)
    if missing is not None:
        hint = " (`vdm demo` writes it)" if url_text == DEFAULT_URL else ""
        raise CommandError(f"cannot open {shown}: there is no file {missing}{hint}")
    try:
        engine = create_engine(url)
    except NoSuchModuleError:
        raise CommandError(f"cannot open {shown}: SQLAlchemy knows no database "
                           f"dialect or driver {url.drivername!r}") from None
    except ImportError as exc:
        raise CommandError(f"cannot open {shown}: the driver {url.drivername!r} "
                           f"is not installed ({exc})") from None
    except (ArgumentError, TypeError, ValueError) as exc:
        raise CommandError(f"cannot open {shown}: {first_line(exc, password)}") from None
    return engine, shown, password


def missing_sqlite_file(url: URL) -> str | None:
    """The file an SQLite ``url`` names if it does not exist (connecting would create it)."""
    database = url.database or ""
    if (url.get_backend_name() == "sqlite" and database not in ("", ":memory:")
            and not database.startswith("file:") and not Path(database).is_file()):
        return database
    return None


def hide_password(url_text: str) -> str:
    """``url_text`` with the password of ``scheme://user:password@host`` as ``***``."""
    return re.sub(r"(://[^/@:]*:)[^/]*@", r"\1***@", url_text)


def first_line(exc: BaseException | None, password: str | None) -> str:
    """The first line of ``exc``'s message, ``password`` hidden (for one-line errors)."""
    text = str(exc).strip() if exc is not None else ""
    line = next((part.strip() for part in text.splitlines() if part.strip()),
                type(exc).__name__)
    if password:
        line = line.replace(password, "***")
    return line


