"""``import vdm`` imports neither ORM (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHECK = """
import sys
import vdm
import vdm.cli
loaded = sorted(m for m in sys.modules
                if m.split(".")[0] in ("sqlalchemy", "sqlobject", "formencode"))
print(",".join(loaded))
"""


def test_import_vdm_loads_no_orm() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=True,
    )
    assert result.stdout.strip() == "", (
        f"import vdm loaded ORM modules: {result.stdout.strip()}"
    )


def test_vdm_names_need_no_orm() -> None:
    result = subprocess.run(
        [sys.executable, "-c",
         "import vdm; print(vdm.__version__, vdm.State.ACTIVE, vdm.Operation.DELETE.value)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )
    assert result.stdout.split()[1:] == ["active", "2"]


def test_optional_integrations_load_only_when_imported() -> None:
    # The web frameworks and SQLAlchemy's asyncio extension are optional
    # extras: neither vdm nor vdm.sqlalchemy imports them.
    check = (
        "import sys, vdm, vdm.sqlalchemy\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'flask_sqlalchemy', 'starlette', 'fastapi') "
        "or m.startswith(('sqlalchemy.ext.asyncio', 'vdm.web', 'vdm.sqlalchemy.asyncio')))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=True,
    )
    assert result.stdout.strip() == ""
