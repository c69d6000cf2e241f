"""Where each system's data lives: one database (or schema) per use.

Every system gets two stores of its own on each database: ``w`` (writes:
emptied before every write sample) and ``r`` (reads: the history built once
per run).  On SQLite a store is a file in the run's temporary directory; on
PostgreSQL a schema ``bench_<system>_<use>_<run>`` in the test database,
reached through ``search_path``; on MariaDB a database of that name.  The
model modules need no schema names, and runs in parallel never meet.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, make_url, text

URLS = {
    "postgresql": os.environ.get(
        "VDM_BENCH_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get(
        "VDM_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
    ),
}
DATABASES = ("sqlite", "postgresql", "mariadb")


class Store:
    """One system's database for one use; :meth:`reset` empties it."""

    def __init__(self, db: str, system: str, use: str, workdir: Path,
                 metadata: MetaData, fast_commits: bool = False) -> None:
        self.db = db
        self.metadata = metadata
        self.fast_commits = fast_commits
        # The run's temporary directory names the run (vdm-bench-<random>).
        run = "".join(ch for ch in workdir.name.rsplit("-", 1)[-1].lower() if ch.isalnum())
        self.schema = f"bench_{system}_{use}_{run}"
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
        if self.db == "mariadb":
            # A MariaDB engine names its database, which must exist to connect.
            admin = create_engine(URLS[self.db])
            with admin.begin() as conn:
                conn.execute(text(f"CREATE DATABASE IF NOT EXISTS {self.schema}"))
            admin.dispose()
            return create_engine(make_url(URLS[self.db]).set(database=self.schema))
        options = f"-csearch_path={self.schema}"
        if self.fast_commits:
            options += " -csynchronous_commit=off"
        return create_engine(URLS[self.db], connect_args={"options": options})

    def _recreate(self, create: bool) -> None:
        admin = create_engine(URLS[self.db])
        kind = "DATABASE" if self.db == "mariadb" else "SCHEMA"
        drop = "" if self.db == "mariadb" else " CASCADE"
        with admin.begin() as conn:
            conn.execute(text(f"DROP {kind} IF EXISTS {self.schema}{drop}"))
            if create:
                conn.execute(text(f"CREATE {kind} {self.schema}"))
        admin.dispose()

    def reset(self) -> None:
        """Drop everything and create the model's tables again."""
        self.engine.dispose()
        if self.db == "sqlite":
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        else:
            self._recreate(create=True)
        self.metadata.create_all(self.engine)

    def analyze(self) -> None:
        """Give the planner statistics (autovacuum would, later)."""
        if self.db != "sqlite":
            with self.engine.begin() as conn:
                for table in self.metadata.sorted_tables:
                    keyword = "ANALYZE TABLE" if self.db == "mariadb" else "ANALYZE"
                    name = conn.dialect.identifier_preparer.quote(table.name)
                    conn.execute(text(f"{keyword} {name}"))

    def drop(self) -> None:
        """Remove the store at the end of the run."""
        self.engine.dispose()
        if self.db != "sqlite":
            self._recreate(create=False)


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
