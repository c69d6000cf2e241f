"""The benchmark suite runs end to end (tiny sizes, not timed).

The table on SQLite; the concurrent writers on each server database the
test run reaches (they are measured on server databases only).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout, done.stdout
    return done.stdout


def test_benchmarks_smoke() -> None:
    out = run("--db", "sqlite")
    assert "scenario (median)" in out
    for label in ("plain", "vdm", "continuum", "history", "vdm/plain", "hist/plain"):
        assert label in out
    assert "one book as of R by key" in out and "authors of a book as of R" in out
    assert "Geometric mean of the ratios to plain" in out
    assert "Targets (issue 14" in out
    assert "Statements per revision" in out
    # Both peers read the authors as of the book's own last version, which
    # link-only revisions never write: the check catches it.
    assert "continuum / authors_as_of: wrong answer" in out
    assert "history / authors_as_of: wrong answer" in out


@pytest.mark.parametrize("server", ["postgresql", "mariadb"])
def test_concurrent_writers_smoke(server: str, request: pytest.FixtureRequest) -> None:
    # The test matrix decides (--db or VDM_TEST_DATABASES), as for every test.
    if server not in request.config._vdm_databases:  # type: ignore[attr-defined]
        pytest.skip(f"{server} not in the databases tested (--db or VDM_TEST_DATABASES)")
    from benchmarks.databases import unreachable

    reason = unreachable(server)
    if reason is not None:
        pytest.skip(f"{server} unreachable: {reason}")
    out = run("--db", server, "--only", "writers")
    assert "Concurrent writers, each on its own book" in out
    lines = [line for line in out.splitlines() if line.strip().startswith(("1 x", "2 x"))]
    assert len(lines) == 4, out
    for line in lines:
        plain, vdm = line.split()[4:6]
        assert float(plain) > 0 and float(vdm) > 0, line
