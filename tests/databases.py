"""The database matrix of the test suite: which servers, at which URLs.

``VDM_TEST_DATABASES`` (or ``pytest --db``) names the databases to run on,
comma-separated from ``sqlite``, ``postgresql`` and ``mariadb``.  When it is
given, an unreachable server is an error (CI sets it); when it is not, every
database is tried and the unreachable ones are skipped with a reason shown
at the end of the run.

Each run works in a database of its own on each server (created at the
start, dropped at the end), and each test starts from an empty one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, MetaData, create_engine, inspect, make_url, text

ALL = ("sqlite", "postgresql", "mariadb")

DEFAULT_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4",
}


@dataclass(frozen=True)
class Database:
    """One database of the matrix."""

    name: str
    url: str


def sqlite_url(directory: Path) -> str:
    """A fresh SQLite file in ``directory`` (files, not :memory:, so that
    several connections see one database)."""
    return f"sqlite:///{directory / 'vdm-test.db'}"


def server_url(name: str) -> str:
    """The URL of server database ``name`` (environment overrides defaults)."""
    return os.environ.get(f"VDM_TEST_{name.upper()}_URL", DEFAULT_URLS[name])


def run_database_name() -> str:
    """A database of this test run's own, so that concurrent runs (two
    developers, or a run beside CI) never drop each other's tables."""
    return f"vdm_test_{os.getpid()}"


def create_run_database(name: str) -> str:
    """Create this run's database on server ``name``; return its URL."""
    admin = make_url(server_url(name))
    run_db = run_database_name()
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            quote = engine.dialect.identifier_preparer.quote
            conn.execute(text(f"DROP DATABASE IF EXISTS {quote(run_db)}"))
            conn.execute(text(f"CREATE DATABASE {quote(run_db)}"))
    finally:
        engine.dispose()
    return admin.set(database=run_db).render_as_string(hide_password=False)


def drop_run_database(name: str) -> None:
    """Drop this run's database on server ``name``."""
    admin = make_url(server_url(name))
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            quote = engine.dialect.identifier_preparer.quote
            if engine.dialect.name == "postgresql":
                conn.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ), {"db": run_database_name()})
            conn.execute(text(f"DROP DATABASE IF EXISTS {quote(run_database_name())}"))
    finally:
        engine.dispose()


def reachable(url: str) -> str | None:
    """None if a connection can be made, else the reason why not."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


def reset(engine: Engine) -> None:
    """Drop every table in the database, whatever created it."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        return
    engine.dispose()
    with engine.begin() as conn:
        if engine.dialect.name in ("mysql", "mariadb"):
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for name in inspect(conn).get_table_names():
                conn.execute(text(f"DROP TABLE `{name}`"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
        else:
            meta = MetaData()
            meta.reflect(conn)
            meta.drop_all(conn)


#: The asyncio driver of each database (the extra ``asyncio`` installs them).
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
                 "mysql": "mysql+aiomysql", "mariadb": "mysql+aiomysql"}


def async_url(url: str) -> str:
    """The same database as ``url``, through its asyncio driver."""
    parsed = make_url(url)
    return parsed.set(drivername=ASYNC_DRIVERS[parsed.get_backend_name()]).render_as_string(
        hide_password=False)
