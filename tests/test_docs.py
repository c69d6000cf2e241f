"""The documentation builds without a warning, and its code runs.

``doc/`` is built twice with Sphinx, warnings as errors: as HTML, and with
the doctest builder, which runs every ``testcode`` and ``doctest`` block
of the pages (the tutorial tells its story on SQLite) and the ``>>>``
examples of the docstrings that the API page includes, and fails when
their output differs from what the page shows.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import vdm
import vdm.sqlalchemy
import vdm.sqlobject

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "doc"


def sphinx(builder: str, tmp_path: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder,
         "-d", str(tmp_path / "doctrees"), str(DOC), str(tmp_path / builder)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, (
        f"sphinx-build -b {builder} failed ({result.returncode})\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def doctrees(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("doc")


def test_html_builds_without_warnings(doctrees: Path) -> None:
    sphinx("html", doctrees)
    for page in ("index", "tutorial", "concepts", "schema", "errors", "api"):
        assert (doctrees / "html" / f"{page}.html").exists(), f"no {page}.html"


def test_code_of_the_pages_runs(doctrees: Path) -> None:
    sphinx("doctest", doctrees)
    report = (doctrees / "doctest" / "output.txt").read_text()
    # The tutorial's, the schema page's and the porting guides' examples really ran.
    for page in ("tutorial", "schema", "porting-vdm", "porting-continuum", "asyncio", "web"):
        assert f"Document: {page}" in report, report
    assert " 0 failures in tests" in report, report


@pytest.mark.parametrize("module", [vdm, vdm.sqlalchemy, vdm.sqlobject], ids=lambda m: m.__name__)
def test_api_page_lists_every_public_name(module: ModuleType) -> None:
    api = (DOC / "api.rst").read_text() + (DOC / "errors.rst").read_text()
    # State and Operation are re-exported by vdm.sqlalchemy from vdm.
    missing = [
        name for name in module.__all__
        if f"vdm.{name}" not in api and f"{module.__name__}.{name}" not in api
    ]
    assert not missing, f"doc/api.rst does not document {module.__name__}: {missing}"
