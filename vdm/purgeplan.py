"""Planning ``purge_revision``: plain data, no SQL.

Purging a revision rewrites history as if it never happened.  Each
backend reads the full history of every key the revision touched and asks
:func:`plan_purge` what to change; the plan is plain data, which the
backend then writes with a few statements per table:

* ``drop``: versions to delete (the purged revision's, and deletes of
  objects that, without it, no longer existed);
* ``relink``: versions whose ``expired_id`` or ``operation_type`` change so
  that the chain of validity intervals stays contiguous;
* ``restore`` / ``recreate``: live rows that fall back to an older version
  (updated in place, or inserted again after a purged hard delete);
* ``remove_live``: live rows that, without the revision, never existed.

    >>> history = [
    ...     {"id": 1, "title": "A", "revision_id": 1, "expired_id": 2, "operation_type": 0},
    ...     {"id": 1, "title": "A2", "revision_id": 2, "expired_id": None, "operation_type": 1},
    ... ]
    >>> plan = plan_purge({(1,): history}, 2, ["id", "title", "revision_id"])
    >>> plan.drop
    [VersionRef(key=(1,), revision_id=2)]
    >>> plan.relink
    [Relink(key=(1,), revision_id=1, expired_id=None, operation=<Operation.INSERT: 0>)]
    >>> plan.restore
    [{'id': 1, 'title': 'A', 'revision_id': 1}]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID
from vdm.operations import Operation

#: An object's key as the backend spells it (a tuple, or an SQLObject id).
Key = Any


@dataclass(frozen=True)
class VersionRef:
    """One version row: the object's key and the revision that wrote it."""

    key: Key
    revision_id: int


@dataclass(frozen=True)
class Relink:
    """A version row whose interval end or operation changes."""

    key: Key
    revision_id: int
    expired_id: int | None
    operation: Operation


@dataclass(frozen=True)
class Vanished:
    """Revisions ``[start, end)`` (``end`` None: until now) in which the object
    existed before the purge and no longer exists after it.

    Rows that refer to it in that span would point at nothing: the
    backend refuses the purge (:func:`purge_dependant_error`).
    """

    key: Key
    start: int
    end: int | None


@dataclass
class PurgePlan:
    """What to change in one table to purge one revision."""

    drop: list[VersionRef] = field(default_factory=list)
    relink: list[Relink] = field(default_factory=list)
    #: Live values (column -> value) of rows updated back to an older version.
    restore: list[dict[str, Any]] = field(default_factory=list)
    #: Live values of rows inserted again (the purged revision deleted them).
    recreate: list[dict[str, Any]] = field(default_factory=list)
    #: Keys of live rows to delete (the purged revision created them).
    remove_live: list[Key] = field(default_factory=list)
    #: Spans in which objects stop existing (see :class:`Vanished`).
    vanished: list[Vanished] = field(default_factory=list)


def plan_purge(
    histories: Mapping[Key, Sequence[Mapping[str, Any]]],
    revision_id: int,
    live_columns: Sequence[str],
) -> PurgePlan:
    """Plan purging ``revision_id`` from one table.

    ``histories`` maps each key the revision wrote to all its version rows,
    oldest first, as ``{column: value}`` (the bookkeeping columns
    included); ``live_columns`` names the columns of the live table.
    """
    plan = PurgePlan()
    for key, history in histories.items():
        _plan_key(key, history, revision_id, live_columns, plan)
    return plan


def _minus(before: list[tuple[int, int | None]],
           after: list[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    """The spans covered by ``before`` and not by ``after`` (``[start, end)``)."""
    bounds = sorted({b for start, end in before + after for b in (start, end)
                     if b is not None})

    def covered(spans: list[tuple[int, int | None]], at: int) -> bool:
        return any(start <= at and (end is None or at < end) for start, end in spans)

    found: list[tuple[int, int | None]] = []
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else None
        if covered(before, start) and not covered(after, start):
            if found and found[-1][1] == start:
                found[-1] = (found[-1][0], end)
            else:
                found.append((start, end))
    return found


def purge_dependant_error(revision_id: int, what: str, dependant: str,
                          dependant_revision: int) -> str:
    """Why purging ``revision_id`` is refused: ``dependant`` refers to ``what``."""
    return (f"cannot purge revision {revision_id}: it created {what}, which "
            f"{dependant} refers to in revision {dependant_revision}; purge that "
            f"revision first")


def _plan_key(key: Key, history: Sequence[Mapping[str, Any]], revision_id: int,
              live_columns: Sequence[str], plan: PurgePlan) -> None:
    kept: list[tuple[Mapping[str, Any], Operation]] = []
    for row in history:
        if row[REVISION_ID] == revision_id:
            plan.drop.append(VersionRef(key, int(row[REVISION_ID])))
            continue
        alive_before = bool(kept) and kept[-1][1] != Operation.DELETE
        if row[OPERATION_TYPE] == Operation.DELETE and not alive_before:
            # It deletes an object that, without the revision, no longer exists.
            plan.drop.append(VersionRef(key, int(row[REVISION_ID])))
            continue
        op = Operation(int(row[OPERATION_TYPE]))
        if op != Operation.DELETE:
            op = Operation.UPDATE if alive_before else Operation.INSERT
        kept.append((row, op))
    after: list[tuple[int, int | None]] = []
    for i, (row, op) in enumerate(kept):
        expired = kept[i + 1][0][REVISION_ID] if i + 1 < len(kept) else None
        if expired != row[EXPIRED_ID] or op != row[OPERATION_TYPE]:
            plan.relink.append(Relink(key, int(row[REVISION_ID]), expired, op))
        if op != Operation.DELETE:
            after.append((int(row[REVISION_ID]), expired))
    before = [(int(row[REVISION_ID]), row[EXPIRED_ID]) for row in history
              if row[OPERATION_TYPE] != Operation.DELETE]
    plan.vanished.extend(Vanished(key, start, end) for start, end in _minus(before, after))
    old_head = history[-1]
    new_head = kept[-1][0] if kept else None
    was_live = old_head[OPERATION_TYPE] != Operation.DELETE
    now_live = new_head is not None and new_head[OPERATION_TYPE] != Operation.DELETE
    if new_head is not None and new_head[REVISION_ID] == old_head[REVISION_ID]:
        return
    if now_live and new_head is not None:
        values = {c: new_head[c] for c in live_columns}
        (plan.restore if was_live else plan.recreate).append(values)
    elif was_live:
        plan.remove_live.append(key)


def still_referenced_message(described: str, table: str, count: int,
                             referrers: Sequence[str]) -> str:
    """Why ``Repository.purge`` refuses: rows of ``table`` (not links) refer to the object.

    ``referrers`` names the first few referring rows (``Author(id=1)``).
    """
    shown = ", ".join(referrers)
    if count > len(referrers):
        shown += f" and {count - len(referrers)} more"
    return (
        f"cannot purge {described}: {count} row(s) of {table!r} still refer "
        f"to it ({shown}); purge or change those first"
    )
