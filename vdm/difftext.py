"""Diffs of field values as text, in vdm's ``difflib.Differ`` line format.

    >>> print(diff_text("War and Peacee", "War and Peace"))
    - War and Peacee
    ?              -
    + War and Peace
    >>> diff_text("same", "same") is None
    True
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any


def as_text(value: Any) -> str:
    """Render a field value the way diffs show it (``None`` as empty)."""
    return "" if value is None else str(value)


def diff_text(old: Any, new: Any) -> str | None:
    """Return the Differ-format diff of two values, or ``None`` if equal."""
    if old == new:
        return None
    lines = difflib.Differ().compare(
        as_text(old).splitlines(), as_text(new).splitlines()
    )
    return "\n".join(line.rstrip("\n") for line in lines)


def diff_values(
    old: Mapping[str, Any], new: Mapping[str, Any], fields: list[str]
) -> dict[str, str]:
    """Return ``{field: diff text}`` for each of ``fields`` that differs."""
    result: dict[str, str] = {}
    for field in fields:
        text = diff_text(old.get(field), new.get(field))
        if text is not None:
            result[field] = text
    return result


def changed_fields(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], fields: list[str]
) -> dict[str, list[Any]]:
    """Return ``{field: [old, new]}`` for each of ``fields`` that differs.

    With no ``old`` (a creation) every field that is not ``None`` counts.
    """
    before: Mapping[str, Any] = old or {}
    return {
        f: [before.get(f), new.get(f)]
        for f in fields
        if before.get(f) != new.get(f)
    }
