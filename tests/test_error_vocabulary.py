"""vdm's errors form one documented family, and vdm never raises the root itself."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import vdm
import vdm.errors

ROOT = Path(vdm.__file__).parent
ERROR_CLASSES = [
    obj for _, obj in inspect.getmembers(vdm.errors, inspect.isclass)
    if issubclass(obj, vdm.VdmError)
]


def test_every_error_is_exported_from_vdm() -> None:
    assert {c.__name__ for c in ERROR_CLASSES} <= set(vdm.__all__)


def test_every_error_but_the_root_also_subclasses_a_builtin() -> None:
    for cls in ERROR_CLASSES:
        if cls is vdm.VdmError:
            continue
        builtins = [b for b in cls.__mro__ if b.__module__ == "builtins"
                    and b not in (Exception, BaseException, object)]
        assert builtins, f"{cls.__name__} subclasses no fitting builtin"


def test_every_error_is_documented() -> None:
    text = (ROOT.parent / "doc" / "errors.rst").read_text()
    missing = [c.__name__ for c in ERROR_CLASSES
               if f".. autoexception:: vdm.{c.__name__}" not in text]
    assert missing == []


def test_no_code_raises_the_bare_root_error() -> None:
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                if isinstance(func, ast.Name) and func.id == "VdmError":
                    offenders.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert offenders == [], "raise a named subclass of VdmError instead"


def test_errors_carry_their_data_as_attributes() -> None:
    error = vdm.UnknownFieldError("Book has no versioned field 'x'", cls=int, field="x",
                                  table="book", key=(1,), revision=3)
    assert (error.cls, error.field, error.table, error.key, error.revision) == (
        int, "x", "book", (1,), 3)
    assert isinstance(error, LookupError)


#: Errors about a table or a row of it: every raise names the table.
ABOUT_A_TABLE = {"UnknownTableError", "UnknownRowError", "MalformedKeyError"}


def test_errors_about_a_table_carry_the_table() -> None:
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            func = node.exc.func
            if isinstance(func, ast.Name) and func.id in ABOUT_A_TABLE and "table" not in {
                    k.arg for k in node.exc.keywords}:
                offenders.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert offenders == [], "pass table=... (and key=... for a row)"


def test_a_link_collection_clash_names_the_class_and_the_field() -> None:
    from vdm.linkviews import check_link_names_free

    class Package:
        tags: list[str] = []

    with pytest.raises(vdm.ConfigurationError) as caught:
        check_link_names_free(Package, {}, "tags")
    assert isinstance(caught.value, TypeError)
    assert (caught.value.cls, caught.value.field) == (Package, "tags")
    assert str(caught.value) == ("Package.tags is already defined; choose another name "
                                 "for the versioned link collection")
