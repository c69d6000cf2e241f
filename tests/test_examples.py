"""Every example runs, and so does the demo (``vdm demo``, ``python -m vdm demo``).

Each ``examples/*.py`` is run as a program with a fresh SQLite file as its
argument; it must exit 0 and print its key lines.  The demo runs in an empty
directory, as a person would run it.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vdm.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

#: Lines (substrings) each example must print; every example tells the story.
KEY_LINES: dict[str, list[str]] = {
    "story.py": [
        "Title as of revision 1: War and Peacee",
        "Title now: War and Peace",
        "- War and Peacee",
        "+ War and Peace",
        "State of annakarenina now: active",
        "History problems found: 0",
    ],
    "classic_vdm.py": [
        "title as of revision 1: War and Peacee",
        "title when created: '- None\\n+ War and Peacee'",
        "r2 editor: fix typo, retag, delete anna {'Package': 2, 'License': 0, 'PackageTag': 2}",
        "verify: history is sound",
    ],
    "typed_app.py": [
        "Title as of revision 1: War and Peacee",
        "Operations: INSERT, UPDATE",
        "As of revision 1: 'War and Peacee', 0 authors",
        "State now: deleted",
        "History problems found: 0",
    ],
    # A revision per request; the rejected request (422) leaves none.
    "flask_app.py": [
        "POST /books -> 422",
        "  r1 ann: POST /books  {\"method\": \"POST\", \"path\": \"/books\", \"remote_addr\": \"127.0.0.1\", \"request_id\": \"req-1\"}",
        "  r3 bob: retitle warandpeace",
        "  r4 carol: DELETE /books/annakarenina",
        "  r1 by ann: War and Peacee",
        "  r3 by bob: War and Peace",
    ],
    "asgi_app.py": [
        "POST /books -> 422",
        "  r1 ann: POST /books  {\"method\": \"POST\", \"path\": \"/books\", \"remote_addr\": \"testclient\", \"request_id\": \"req-1\"}",
        "  r3 bob: retitle warandpeace",
        "  r4 carol: DELETE /books/annakarenina",
        "  r1 by ann: War and Peacee",
        "  r3 by bob: War and Peace",
    ],
}
#: What an example not listed above must print at least.
DEFAULT_KEY_LINES = ["War and Peace"]

#: What the demo must show: the story, the typo fix, the as-of read, the diff.
DEMO_LINES = [
    "r4  ",
    "Book warandpeace: title 'War and Peacee' -> 'War and Peace'",
    "Book annakarenina: state 'active' -> 'deleted'",
    "Book annakarenina: state 'deleted' -> 'active'",
    "title as of revision 1: 'War and Peacee'",
    "title now:              'War and Peace'",
    "    - War and Peacee",
    "    + War and Peace",
    "History check (Repository.verify()): sound",
    "Browse this story in a web browser: vdm serve --url sqlite:///",
]


def _env() -> dict[str, str]:
    # Run this working tree's vdm even where another one is installed.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result


def _assert_lines(output: str, expected: list[str]) -> None:
    missing = [line for line in expected if line not in output]
    assert not missing, f"missing from the output: {missing}\n--- output\n{output}"


def test_examples_exist() -> None:
    assert ROOT.joinpath("examples", "story.py") in EXAMPLES


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(example: Path, tmp_path: Path) -> None:
    db = tmp_path / "example.db"
    result = _run([sys.executable, str(example), str(db)], cwd=tmp_path)
    _assert_lines(result.stdout, KEY_LINES.get(example.name, DEFAULT_KEY_LINES))
    assert db.exists(), f"{example.name} did not write the SQLite file it was given"


def _vdm_script() -> str:
    # The console script installed beside this interpreter (a venv), else on PATH.
    beside = Path(sys.executable).parent / "vdm"
    found = str(beside) if beside.exists() else shutil.which("vdm")
    if found is None:
        pytest.fail("the vdm command is not installed; run: python3 -m pip install -e .")
    return found


def test_vdm_demo_command(tmp_path: Path) -> None:
    result = _run([_vdm_script(), "demo"], cwd=tmp_path)
    _assert_lines(result.stdout, DEMO_LINES)
    assert (tmp_path / "vdm-demo.db").exists()
    assert result.stdout.splitlines()[-1].startswith(
        "Browse this story in a web browser: vdm serve --url sqlite:///vdm-demo.db ")


def test_python_m_vdm_demo(tmp_path: Path) -> None:
    result = _run([sys.executable, "-m", "vdm", "demo", "--db", "story.db"], cwd=tmp_path)
    _assert_lines(result.stdout, DEMO_LINES)
    assert (tmp_path / "story.db").exists()
    assert not (tmp_path / "vdm-demo.db").exists()


def test_demo_recreates_its_database(tmp_path: Path) -> None:
    db = str(tmp_path / "again.db")
    for _ in range(2):
        out = io.StringIO()
        assert main(["demo", "--db", db], out=out) == 0
    # A second run starts afresh: still four revisions, not eight.
    assert "r4  " in out.getvalue()
    assert "r5  " not in out.getvalue()


def test_vdm_without_command_shows_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "usage: vdm" in capsys.readouterr().err
