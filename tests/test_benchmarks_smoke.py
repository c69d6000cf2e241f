"""The benchmark suite runs end to end (tiny sizes, SQLite, not timed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmarks_smoke() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--db", "sqlite"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "scenario (median)" in out
    for label in ("plain", "vdm", "continuum", "vdm/plain"):
        assert label in out
    assert "as-of one book" in out and "link list as of" in out
    assert "SPEC section 6 targets" in out
    assert "Statements per revision" in out
    assert "FAIL" not in out
