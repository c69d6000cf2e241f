"""Fixtures of the acceptance suite: one harness per backend x database.

Every test asks for ``story`` (books, authors, licenses) or ``links``
(packages, tags, extras) and runs once per backend (``sqlalchemy``,
``sqlobject``) on each database of the matrix (see ``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .harness import Harness, SQLAlchemyHarness, SQLObjectHarness

#: ``sqlalchemy-native``: the SQLAlchemy backend with native versioning
#: (database triggers write the versions; PostgreSQL only).
BACKENDS = ("sqlalchemy", "sqlobject", "sqlalchemy-native")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test."""
    return str(request.param)


def _open(backend: str, db: Any, engine: Any, model: str) -> Harness:
    if backend == "sqlalchemy":
        return SQLAlchemyHarness(engine, model)
    if backend == "sqlalchemy-native":
        if engine.dialect.name != "postgresql":
            pytest.skip("native versioning needs PostgreSQL triggers (see doc/native.rst)")
        return SQLAlchemyHarness(engine, model, native=True)
    from sqlobject_models import sqlobject_uri

    return SQLObjectHarness(engine, model, uri=sqlobject_uri(db))


@pytest.fixture
def opened() -> Iterator[list[Harness]]:
    harnesses: list[Harness] = []
    yield harnesses
    for harness in reversed(harnesses):
        harness.close()


@pytest.fixture
def story(backend: str, db: Any, engine: Any, opened: list[Harness]) -> Harness:
    """A harness on the story model (books, authors, licenses)."""
    harness = _open(backend, db, engine, "story")
    opened.append(harness)
    return harness


@pytest.fixture
def links(backend: str, db: Any, engine: Any, opened: list[Harness]) -> Harness:
    """A harness on the link model (packages, tags, extras)."""
    harness = _open(backend, db, engine, "links")
    opened.append(harness)
    return harness
