"""Where each system's data lives: one database (or schema) per use.

Every system gets two stores of its own on each database: ``w`` (writes:
emptied before every write sample) and ``r`` (reads: the history built once
per run).  On SQLite a store is a file in the run's temporary directory; on
PostgreSQL a schema ``bench_<system>_<use>`` in the test database, reached
through ``search_path``, so the model modules need no schema names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, text

URLS = {
    "postgresql": os.environ.get(
        "VDM_BENCH_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
}
DATABASES = ("sqlite", "postgresql")


class Store:
    """One system's database for one use; :meth:`reset` empties it."""

    def __init__(self, db: str, system: str, use: str, workdir: Path,
                 metadata: MetaData, fast_commits: bool = False) -> None:
        self.db = db
        self.metadata = metadata
        self.fast_commits = fast_commits
        self.schema = f"bench_{system}_{use}"
        self.path = workdir / f"{system}_{use}.sqlite"
        self.engine = self._make_engine()

    def _make_engine(self) -> Engine:
        if self.db == "sqlite":
            engine = create_engine(f"sqlite:///{self.path}")
            if self.fast_commits:
                # The read store is only built, then read: durability of its
                # many setup commits does not matter, and reads are unaffected.
                @event.listens_for(engine, "connect")
                def _pragma(dbapi_conn: Any, record: Any) -> None:
                    dbapi_conn.execute("PRAGMA synchronous=OFF")
            return engine
        options = f"-csearch_path={self.schema}"
        if self.fast_commits:
            options += " -csynchronous_commit=off"
        return create_engine(URLS[self.db], connect_args={"options": options})

    def reset(self) -> None:
        """Drop everything and create the model's tables again."""
        self.engine.dispose()
        if self.db == "sqlite":
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        else:
            admin = create_engine(URLS[self.db])
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            admin.dispose()
        self.metadata.create_all(self.engine)

    def analyze(self) -> None:
        """Give PostgreSQL's planner statistics (autovacuum would, later)."""
        if self.db == "postgresql":
            with self.engine.begin() as conn:
                for table in self.metadata.sorted_tables:
                    conn.execute(text(f'ANALYZE "{table.name}"'))

    def drop(self) -> None:
        """Remove the store at the end of the run."""
        self.engine.dispose()
        if self.db == "postgresql":
            admin = create_engine(URLS[self.db])
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            admin.dispose()


def unreachable(db: str) -> str | None:
    """None if database ``db`` can be used, else why not."""
    if db == "sqlite":
        return None
    engine = create_engine(URLS[db])
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None
