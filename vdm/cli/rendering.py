"""Output of the ``vdm`` commands: aligned tables for people, JSON for programs."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from vdm.operations import Operation

if TYPE_CHECKING:
    from vdm.sqlalchemy import Repository


class RevisionLike(Protocol):
    """What :func:`describe_revision` reads of a revision."""

    @property
    def id(self) -> int | None:
        """The revision id."""

    @property
    def timestamp(self) -> dt.datetime | None:
        """When it was committed (UTC, naive)."""

    @property
    def author(self) -> str | None:
        """Who made it."""

    @property
    def message(self) -> str | None:
        """Why."""


def write_table(out: TextIO, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` under ``headers`` in aligned columns."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for row in [list(headers), *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        print("  ".join(cells).rstrip(), file=out)


def write_json(out: TextIO, data: Any) -> None:
    """Print ``data`` as indented JSON (dates in ISO 8601, decimals as text)."""
    print(json.dumps(data, indent=2, default=json_value, ensure_ascii=False), file=out)


def json_value(value: Any) -> Any:
    """A value JSON cannot hold, as text (ISO 8601 dates, decimals as text, hex bytes)."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, enum.Enum):
        return value.value
    return str(value)


def group_rows(label: list[str], fields: list[list[str]]) -> list[list[str]]:
    """One row per field, the label on the first only."""
    if not fields:
        return [label + ["", "", ""]]
    blank = [""] * len(label)
    return [(label if i == 0 else blank) + f for i, f in enumerate(fields)]


def key_text(names: Sequence[str], key: Sequence[Any]) -> str:
    """``id=1`` or ``name='x',n=2``: a primary key with its column names."""
    return ",".join(f"{n}={value_text(v)}" for n, v in zip(names, key, strict=False))


def value_text(value: Any) -> str:
    """One field value for a table cell (enums by value, dates in ISO 8601)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return repr(value)


def timestamp_text(when: dt.datetime | None) -> str:
    """A revision timestamp for a table cell."""
    return f"{when:%Y-%m-%d %H:%M:%S}" if when is not None else "(no timestamp)"


def one_line(message: str | None) -> str:
    """A revision message folded onto one line."""
    return " ".join(message.split()) if message else "(no message)"


def plural(count: int, noun: str) -> str:
    """``1 row`` or ``3 rows``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


# -- output shared by the commands --------------------------------------


def write_history(repo: Repository, out: TextIO, limit: int | None = None) -> None:
    """Print each revision (newest first) and what it changed."""
    for revision in repo.history(limit=limit):
        print(f"  {describe_revision(revision)}", file=out)
        for cls, versions in repo.list_changes(revision).items():
            for version in versions:
                print(f"      {describe_change(cls, version)}", file=out)


def describe_revision(revision: RevisionLike) -> str:
    """``r2  2024-05-01 12:00:00 UTC  proofreader  "Fix the typo"``."""
    when = (f"{revision.timestamp:%Y-%m-%d %H:%M:%S} UTC"
            if revision.timestamp is not None else "(no timestamp)")
    message = f'"{one_line(revision.message)}"' if revision.message else "(no message)"
    return f"r{revision.id}  {when}  {revision.author or '(anonymous)'}  {message}"


def describe_change(cls: type, version: Any) -> str:
    """One line for one version: what the revision did to that object."""
    label = _label(cls, version)
    operation = Operation(version.operation_type)
    if operation == Operation.DELETE:
        return f"{label}: erased (hard delete)"
    changes = version.changeset
    if operation == Operation.INSERT:
        fields = ", ".join(f"{f}={_show(new)}" for f, (_, new) in changes.items()
                           if new is not None)
        return f"{label}: created ({fields})"
    fields = "; ".join(f"{f} {_show(old)} -> {_show(new)}"
                       for f, (old, new) in changes.items())
    return f"{label}: {fields or 'unchanged'}"


def _label(cls: type, version: Any) -> str:
    # Objects with a name are named by it; others by their primary key.
    name = version.field_values.get("name")
    if isinstance(name, str):
        return f"{cls.__name__} {name}"
    key = ", ".join(str(part) for part in version.object_key)
    return f"{cls.__name__} #{key}"


def _show(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return repr(value.value)
    return repr(value)


