"""User code typed with vdm passes ``mypy --strict`` (doc/typing.rst).

examples/typed_app.py declares versioned classes, sets revisions on a
:class:`vdm.sqlalchemy.VersionedSession`, reads versions and uses the
whole-model view; mypy checks it, and vdm's modules it imports, under
``--strict``.  A plain Session is refused the same assignment, so the
check is real.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mypy_strict(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    # An application's own configuration (none), not vdm's mypy.ini.
    config = cache.parent / "mypy.ini"
    config.write_text("[mypy]\n")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         "--config-file", str(config), "--cache-dir", str(cache), str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )


def test_the_typed_example_passes_mypy_strict(tmp_path: Path) -> None:
    result = mypy_strict(ROOT / "examples" / "typed_app.py", tmp_path / "cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_a_plain_session_is_refused_the_revision(tmp_path: Path) -> None:
    user = tmp_path / "plain_session.py"
    user.write_text(
        "from sqlalchemy.orm import Session\n"
        "from vdm.sqlalchemy import Revision, VersionedSession, set_revision\n\n\n"
        "def start(session: Session, typed: VersionedSession) -> None:\n"
        "    typed.revision = Revision(author='me')\n"
        "    set_revision(session, Revision(author='me'))\n"
        "    session.revision = Revision(author='me')\n"
    )
    result = mypy_strict(user, tmp_path / "cache")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f'{user}:8: error: "Session" has no attribute "revision"  [attr-defined]']
