"""What undoing one revision does to one object: planned once for both backends.

A backend finds the versions a revision wrote (and the ones they
replaced) and the live objects; :func:`plan_undo_step` decides, for each,
what to write back, or refuses with :class:`vdm.ConflictError` when a later
revision changed what the undo would restore.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vdm.changes import undo_conflict
from vdm.errors import ConflictError
from vdm.operations import Operation


@dataclass(frozen=True)
class UndoStep:
    """What undoing a revision does to one object.

    ``whole``: ``values`` are all the object's values to bring back, or
    None to destroy it.  Otherwise ``values`` are only the fields the
    revision changed, to set back on the live object.
    """

    values: dict[str, Any] | None
    whole: bool


def _values(version: Any) -> dict[str, Any] | None:
    if version is None or version.operation_type == Operation.DELETE:
        return None
    values: dict[str, Any] = version.field_values
    return values


def plan_undo_step(version: Any, before: Any, live: Any, fields: Iterable[str],
                   described: str, cls: type) -> UndoStep:
    """Undo what ``version`` (written by the revision) did to its object.

    ``before`` is the version it replaced (None: the revision created the
    object), ``live`` the object now (None: it does not exist), ``fields``
    the fields a live object of the class has, ``described`` how messages
    name it (``Book(id=1)``).  Raises :class:`vdm.ConflictError` when a later
    revision changed a field the undo would restore, re-created an object it
    would remove or destroyed one it would change.
    """
    fields = list(fields)
    old, new = _values(before), _values(version)
    now = None if live is None else {f: getattr(live, f) for f in fields}
    revision_id = version.revision_id
    conflict = undo_conflict(described, revision_id, old, new, now)
    if conflict is not None:
        message, conflicting = conflict
        raise ConflictError(message, obj=live, cls=cls, revision=revision_id,
                            fields=conflicting)
    if old is None or new is None or live is None:
        return UndoStep(old, whole=True)
    return UndoStep({f: old[f] for f in fields if old[f] != new[f]}, whole=False)
