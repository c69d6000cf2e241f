"""Concurrent writers, revisions per second: vdm against plain SQLAlchemy.

Each of ``--writers`` threads loops for ``--seconds``: load its own book,
change its title, flush, wait ``--wait-ms`` (the application's work between
its first write and its commit), commit.  Prints revisions/s per system and
the ratio to plain, per database, for vdm taking revision ids at the first
flush (the default) and at commit (``DEFERRED_REVISION_IDS``)::

    python3 -m benchmarks.concurrency_probe --db postgresql,mariadb --writers 8 --wait-ms 10
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from typing import Any

from sqlalchemy import String, create_engine, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from benchmarks.databases import URLS
from vdm.sqlalchemy import DEFERRED_REVISION_IDS, Revision, Revisioned


class PlainBase(DeclarativeBase):
    pass


class PlainBook(PlainBase):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))


class VdmBase(DeclarativeBase):
    pass


class VdmBook(Revisioned, VdmBase):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))


def _scratch_engine(db: str, name: str) -> Engine:
    """A fresh database ``name`` on server ``db``."""
    url = make_url(URLS[db])
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return create_engine(url.set(database=name), pool_size=32)


def run(db: str, system: str, writers: int, wait: float, seconds: float) -> float:
    """Revisions (commits) per second of ``writers`` threads for ``system``."""
    name = f"vdm_probe_{os.getpid()}"
    engine = _scratch_engine(db, name)
    versioned = system != "plain"
    base: Any = VdmBase if versioned else PlainBase
    book: Any = VdmBook if versioned else PlainBook
    info = {DEFERRED_REVISION_IDS: system == "vdm-at-commit"}
    base.metadata.create_all(engine)
    with Session(engine) as s:
        if versioned:
            s.revision = Revision(author="setup")  # type: ignore[attr-defined]
        s.add_all(book(id=i + 1, title="0") for i in range(writers))
        s.commit()
    counts = [0] * writers
    errors: list[BaseException] = []
    deadline = time.perf_counter() + seconds

    def write(n: int) -> None:
        try:
            while time.perf_counter() < deadline:
                with Session(engine, info=info) as s:
                    if versioned:
                        s.revision = Revision(author=f"w{n}")  # type: ignore[attr-defined]
                    row = s.scalars(select(book).filter_by(id=n + 1)).one()
                    row.title = str(counts[n] + 1)
                    s.flush()
                    time.sleep(wait)
                    s.commit()
                counts[n] += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    start = time.perf_counter()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    engine.dispose()
    admin = create_engine(URLS[db], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()
    if errors:
        raise RuntimeError(f"{system} on {db}: {errors[0]!r}") from errors[0]
    return sum(counts) / elapsed


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run both systems on each database, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="postgresql,mariadb")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--wait-ms", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    for db in args.db.split(","):
        rates = {system: run(db, system, args.writers, args.wait_ms / 1000, args.seconds)
                 for system in ("plain", "vdm", "vdm-at-commit")}
        print(f"{db}: {args.writers} writers x {args.wait_ms:g} ms: plain "
              f"{rates['plain']:.0f}/s; " + ", ".join(
                  f"{system} {rates[system]:.0f}/s ({rates[system] / rates['plain']:.2f}x)"
                  for system in ("vdm", "vdm-at-commit")))


if __name__ == "__main__":
    main()
