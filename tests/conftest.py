"""Test fixtures: every behaviour test runs on each database of the matrix.

See :mod:`databases` for how the matrix is chosen.  ``db`` gives a
:class:`databases.Database` whose database is empty at the start of the
test and emptied again after it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

sys.path.insert(0, str(Path(__file__).parent))

from databases import (
    ALL,
    Database,
    create_run_database,
    drop_run_database,
    reachable,
    reset,
    server_url,
    sqlite_url,
)

_skipped: dict[str, str] = {}
_run_urls: dict[str, str] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db", default=None,
        help="comma-separated databases to require (sqlite,postgresql,mariadb); "
             "default: VDM_TEST_DATABASES, else try all and skip unreachable ones",
    )


def _requested(config: pytest.Config) -> tuple[list[str], bool]:
    raw = config.getoption("--db") or os.environ.get("VDM_TEST_DATABASES")
    if not raw:
        return list(ALL), False
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL]
    if unknown:
        raise pytest.UsageError(f"unknown database(s) {unknown}; choose from {ALL}")
    return names, True


def pytest_configure(config: pytest.Config) -> None:
    names, strict = _requested(config)
    config._vdm_databases = names  # type: ignore[attr-defined]
    for name in names:
        if name == "sqlite":
            continue
        reason = reachable(server_url(name))
        if reason is not None:
            if strict:
                raise pytest.UsageError(
                    f"{name} was asked for but is unreachable at "
                    f"{server_url(name)!r}: {reason}"
                )
            _skipped[name] = reason
        else:
            _run_urls[name] = create_run_database(name)


def pytest_unconfigure(config: pytest.Config) -> None:
    for name in list(_run_urls):
        drop_run_database(name)
        del _run_urls[name]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_name" in metafunc.fixturenames:
        names = metafunc.config._vdm_databases  # type: ignore[attr-defined]
        metafunc.parametrize("database_name", names, scope="module")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    names = terminalreporter.config._vdm_databases  # type: ignore[attr-defined]
    ran = [n for n in names if n not in _skipped]
    terminalreporter.write_line(f"vdm databases tested: {', '.join(ran) or 'none'}")
    for name, reason in _skipped.items():
        terminalreporter.write_line(f"vdm database SKIPPED: {name} ({reason})", yellow=True)


@pytest.fixture(scope="module")
def database(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> Database:
    """The database of this parametrisation (skipped if unreachable)."""
    if database_name in _skipped:
        pytest.skip(f"{database_name} unreachable: {_skipped[database_name]}")
    if database_name == "sqlite":
        return Database("sqlite", sqlite_url(tmp_path_factory.mktemp("sqlite")))
    return Database(database_name, _run_urls[database_name])


@pytest.fixture(scope="module")
def module_engine(database: Database) -> Iterator[Engine]:
    engine = create_engine(database.url)
    reset(engine)
    yield engine
    reset(engine)
    engine.dispose()


@pytest.fixture
def db(database: Database, module_engine: Engine) -> Iterator[Database]:
    """An empty database for one test (the module's teardown empties it)."""
    reset(module_engine)
    yield database


@pytest.fixture
def engine(db: Database, module_engine: Engine) -> Engine:
    """An engine on the test's empty database."""
    return module_engine


@pytest.fixture
def story_engine(engine: Engine) -> Engine:
    """The engine with the tables of :mod:`models` created."""
    from models import Base

    Base.metadata.create_all(engine)
    return engine


@pytest.fixture
def make_session(story_engine: Engine) -> Iterator[object]:
    """A factory of sessions on the story model; closes them afterwards."""
    from sqlalchemy.orm import Session

    sessions: list[Session] = []

    def factory(**kw: object) -> Session:
        session = Session(story_engine, **kw)
        sessions.append(session)
        return session

    yield factory
    for session in sessions:
        session.close()


@pytest.fixture
def session(make_session):  # type: ignore[no-untyped-def]
    """A session on the story model."""
    return make_session()
