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
from collections.abc import Callable, Mapping
from typing import Any

from vdm.operations import Operation


def as_text(value: Any) -> str:
    """Render a field value the way diffs show it: ``str(value)``, so ``None`` is ``'None'``.

    That is vdm 0.15's text: a field missing on one side (the object did
    not exist yet) reads ``None``.
    """
    return str(value)


def diff_text(old: Any, new: Any) -> str | None:
    """Return the Differ-format diff of two values, or ``None`` if equal.

    Lines are split on ``\\n`` exactly as vdm 0.15 did, so an empty
    value is one empty line and a missing one the line ``None``:

        >>> print(diff_text(None, "XYZ"))
        - None
        + XYZ
    """
    if old == new:
        return None
    old_text, new_text = as_text(old), as_text(new)
    if old_text == new_text:
        return None
    lines = difflib.Differ().compare(old_text.split("\n"), new_text.split("\n"))
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


def version_changeset(
    operation: Operation,
    values: Mapping[str, Any],
    previous: Callable[[], tuple[Operation, Mapping[str, Any]] | None],
    fields: list[str],
) -> dict[str, list[Any]]:
    """``{field: [old, new]}``: what one version changed (both backends' ``changeset``).

    ``previous`` returns the operation and values of the version before
    (or None); it is only called when needed.  A delete version lists every
    field that had a value as ``[value, None]``; a version following a
    delete counts as a creation.

        >>> version_changeset(Operation.UPDATE, {"title": "B"},
        ...                   lambda: (Operation.INSERT, {"title": "A"}), ["title"])
        {'title': ['A', 'B']}
    """
    if operation == Operation.DELETE:
        return {f: [value, None] for f, value in values.items() if value is not None}
    before = previous()
    old = None if before is None or before[0] == Operation.DELETE else before[1]
    return changed_fields(old, values, fields)
