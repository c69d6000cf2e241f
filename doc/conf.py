"""Sphinx configuration of vdm's documentation.

Build the pages with ``sphinx-build -W -b html doc doc/_build/html``; run
the code of the pages with ``sphinx-build -W -b doctest doc doc/_build/doctest``
(``tests/test_docs.py`` does both).
"""

import doctest
import sys
import warnings
from pathlib import Path

# Document (and run the examples of) this working tree, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import vdm  # noqa: E402 - needs the path above

# Autodoc looks at every attribute of the Revisioned and Stateful mixins;
# SQLAlchemy warns when a declared_attr is read on an unmapped class.  The
# attributes are documented by hand in api.rst, so the warning is noise.
warnings.filterwarnings(
    "ignore", message="Unmanaged access of declarative attribute", module="sphinx"
)

project = "vdm"
author = "the vdm developers"
copyright = "the vdm developers"
version = release = vdm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
]

root_doc = "index"
exclude_patterns = ["_build"]
default_role = "code"
pygments_style = "sphinx"
html_theme = "alabaster"
html_static_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}

# Code blocks of the pages are run by the doctest builder; ellipses let an
# error message or a repr be shown in part.
doctest_default_flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# doc/native.rst runs its example on PostgreSQL; ``:skipif:`` skips it when
# no server is reachable.
doctest_global_setup = '''
def postgresql_unreachable():
    import os
    from sqlalchemy import create_engine
    url = os.environ.get("VDM_TEST_POSTGRESQL_URL",
                         "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return False
    except Exception:
        return True
    finally:
        engine.dispose()
'''
