"""Planning the version rows of one flush: plain data, no SQL.

Both backends record which keys of a versioned table a flush inserted,
updated and deleted, then ask :func:`plan_versions` what to write.  The
plan keeps one version per object per revision: a later flush replaces the
row this revision wrote earlier and keeps its operation (an object created
in this revision stays an insert), an object created and destroyed in the
same revision leaves nothing, and one destroyed and re-created is an update.

    >>> plan = plan_versions(inserted={(1,)}, updated=set(), deleted=set(), written={})
    >>> plan.copy_live
    {<Operation.INSERT: 0>: {(1,)}, <Operation.UPDATE: 1>: set()}
    >>> plan.written
    {(1,): <Operation.INSERT: 0>}

Each backend then runs the steps in the order of the fields below.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from vdm.operations import Operation

Key = tuple[Hashable, ...]


@dataclass
class WritePlan:
    """What to write for one table in one flush, step by step."""

    #: Delete the rows this revision already wrote for these keys.
    drop_own: set[Key] = field(default_factory=set)
    #: Versions this revision expired become current again (undo of a create).
    unexpire: set[Key] = field(default_factory=set)
    #: This revision's row for these keys now records a delete.
    mark_deleted: set[Key] = field(default_factory=set)
    #: Copy the current version as a delete version (a hard delete).
    copy_current_as_delete: set[Key] = field(default_factory=set)
    #: Copy the live rows as versions with this operation.
    copy_live: dict[Operation, set[Key]] = field(default_factory=dict)
    #: Close the interval of the previous current version.
    expire_previous: set[Key] = field(default_factory=set)
    #: The keys this revision has versioned, and how, after the plan.
    written: dict[Key, Operation] = field(default_factory=dict)


def plan_versions(
    inserted: set[Key],
    updated: set[Key],
    deleted: set[Key],
    written: dict[Key, Operation],
) -> WritePlan:
    """Plan the versions of one flush given what this revision wrote before."""
    recreated = deleted & inserted
    deleted = deleted - recreated
    changed = inserted | updated
    copies: dict[Operation, set[Key]] = {Operation.INSERT: set(), Operation.UPDATE: set()}
    for key in changed:
        earlier = written.get(key)
        if earlier is Operation.INSERT:
            copies[Operation.INSERT].add(key)
        elif earlier is not None or key in recreated or key in updated:
            copies[Operation.UPDATE].add(key)
        else:
            copies[Operation.INSERT].add(key)
    vanish = {k for k in deleted if written.get(k) is Operation.INSERT}
    now_deleted = {k for k in deleted if written.get(k) is Operation.UPDATE}
    first_delete = deleted - vanish - now_deleted
    after = dict(written)
    for key in vanish:
        del after[key]
    for key in now_deleted | first_delete:
        after[key] = Operation.DELETE
    for op, keys in copies.items():
        for key in keys:
            after[key] = op
    return WritePlan(
        drop_own={k for k in changed if k in written} | vanish,
        unexpire=vanish,
        mark_deleted=now_deleted,
        copy_current_as_delete=first_delete,
        copy_live=copies,
        expire_previous=(changed | first_delete) - set(written),
        written=after,
    )


def plan_association_versions(
    added: set[Key],
    removed: set[Key],
    written: dict[Key, Operation],
    rows_have_values: bool = False,
) -> WritePlan:
    """Plan the versions of one flush of a plain association table.

    An association row is there or not: ``added`` are rows now live without
    a current version, ``removed`` current versions whose row is gone.
    A row removed and added back in one revision (or added and removed)
    leaves nothing, unless ``rows_have_values`` (the table has columns
    besides its key), when a row added back is an update.

        >>> plan = plan_association_versions({(1, 2)}, set(), {(1, 2): Operation.DELETE})
        >>> plan.drop_own, plan.unexpire, plan.written
        ({(1, 2)}, {(1, 2)}, {})
    """
    plan = WritePlan(copy_live={Operation.INSERT: set(), Operation.UPDATE: set()})
    after = dict(written)
    for key in added:
        if written.get(key) is Operation.DELETE:
            plan.drop_own.add(key)
            if rows_have_values:
                plan.copy_live[Operation.UPDATE].add(key)
                after[key] = Operation.UPDATE
            else:
                plan.unexpire.add(key)
                del after[key]
        else:
            plan.copy_live[Operation.INSERT].add(key)
            plan.expire_previous.add(key)
            after[key] = Operation.INSERT
    for key in removed:
        earlier = written.get(key)
        if earlier is Operation.INSERT:
            plan.drop_own.add(key)
            plan.unexpire.add(key)
            del after[key]
        elif earlier is Operation.UPDATE:
            plan.mark_deleted.add(key)
            after[key] = Operation.DELETE
        else:
            plan.copy_current_as_delete.add(key)
            plan.expire_previous.add(key)
            after[key] = Operation.DELETE
    plan.written = after
    return plan
