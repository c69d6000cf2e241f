"""Restoring and undoing, each written as a new revision.

    session.revision = Revision(author="me", message="back to r3")
    restore_object(session, book, 3)      # the book (and its links) as of r3
    restore_model(session, 3)             # the whole model as of r3
    undo_revision(session, 5)             # take back r5, keep later revisions
    session.commit()

They change live objects through the vdm session like any edit (creating
with the old id, ``set()``, ``destroySelf()``), so the history records them
as ordinary versions of the session's current revision.  Objects are
written parents first and destroyed children first, so foreign keys hold
at every statement.  :func:`undo_revision` raises
:class:`vdm.ConflictError` naming the object and the fields when a later
revision changed what it would undo, and then changes nothing.

The three functions are the core's (:mod:`vdm.restoring`); this module
lends them how a vdm SQLObject session reads and writes the objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlobject.classregistry import findClass

from vdm.naming import REVISION_ID, STATE
from vdm.restoring import (
    Reference,
    Values,
    carry_out,
    check_no_dependants,
    hold,
    restorable,
    restore_plan,
)
from vdm.sharednames import restore_model, restore_object, undo_revision  # noqa: F401 - importable here too
from vdm.sql import sql_of
from vdm.sqlobject._compat import sqlobject
from vdm.sqlobject.dialect import literal
from vdm.sqlobject.inspection import Classes, versionings, written_by
from vdm.sqlobject.registry import Versioning, versioning_of
from vdm.sqlobject.session import Session
from vdm.sqlobject.timetravel import ModelAsOf
from vdm.sqlobject.versions import RevisionRef, Version, resolve_revision
from vdm.states import State
from vdm.undoplan import plan_undo_step


def _column_values(v: Versioning, values: dict[str, Any]) -> dict[str, Any]:
    """The values a live object takes: its columns but the id and ``revision_id``.

    A version's ``state`` is a :class:`State`; SQLObject writes only its text.
    """
    return {a: values[a].value if isinstance(values[a], State) else values[a]
            for a, c in v.columns if c != REVISION_ID and a in values}


def _compared(v: Versioning) -> list[str]:
    """The fields a live object of ``v``'s class has (``state`` only if stateful)."""
    return [f for f in v.fields if v.stateful or f != STATE]


def _live(session: Session, v: Versioning, key: Any) -> Any:
    try:
        return session.get(v.cls, key)
    except sqlobject.SQLObjectNotFound:
        return None


def _write_one(session: Session, v: Versioning, key: Any, values: Values, live: Any) -> Any:
    """Make the object ``key`` (``live``, or None) hold ``values`` (None: not exist)."""
    return hold(live, None if values is None else _column_values(v, values),
                lambda wanted: v.cls(id=key, connection=session.transaction, **wanted),
                lambda obj, changed: obj.set(**changed), lambda obj: obj.destroySelf())


def dependency_order(classes: Iterable[Versioning]) -> list[Versioning]:
    """``classes`` with the targets of each class's foreign keys before it.

    Targets are matched by table, so a class of another SQLObject registry
    mapped to the same table stands for the declared target.
    """
    pending = list(classes)
    by_table = {v.table: v for v in pending}
    ordered: list[Versioning] = []
    visiting: set[str] = set()

    def visit(v: Versioning) -> None:
        if v in ordered or v.table in visiting:
            return  # done, or a cycle: its order is as good as any
        visiting.add(v.table)
        registry = v.cls.sqlmeta.registry
        for fk in v.foreign_keys.values():
            target = findClass(fk.target, registry)
            found = by_table.get(target.sqlmeta.table)
            if found is not None:
                visit(found)
        ordered.append(v)

    for v in pending:
        visit(v)
    return ordered


def _write(session: Session, plan: dict[Versioning, dict[Any, Values]],
           live: dict[Versioning, dict[Any, Any]]) -> None:
    """Carry out ``plan``: writes parents first, destroys children first."""
    carry_out(plan, dependency_order(plan),
              lambda v, key, values: _write_one(session, v, key, values, live[v].get(key)))


def _load(session: Session, v: Versioning, where: str | None = None) -> dict[Any, Any]:
    """Live objects of ``v``'s class (matching SQL ``where``) by id: one query."""
    found = v.cls.select(where, connection=session.transaction)
    return {obj.id: obj for obj in found}


def _links_of(v: Versioning) -> list[tuple[Versioning, str]]:
    """(link class, column naming the owner) of each versioned link view of ``v``."""
    found: list[tuple[Versioning, str]] = []
    for spec in v.links.values():
        link = getattr(spec, "link", None)
        if link is not None and not isinstance(link, Versioning):
            link = versioning_of(link)
        if link is None:
            continue
        owner_fk = getattr(spec, "owner_fk", None)
        columns = [owner_fk.column] if owner_fk is not None else [
            fk.column for fk in link.foreign_keys.values() if fk.target == v.name]
        found.extend((link, c) for c in columns if (link, c) not in found)
    return found


def restore_through(session: Session, obj: Any, revision: RevisionRef) -> Any:
    """:func:`restore_object` through a vdm SQLObject session."""
    v = restorable(obj)
    key = obj.object_key[0] if isinstance(obj, Version) else obj.id
    view = ModelAsOf(session, revision)
    then = view.get(v.cls, key)
    # The caller's instance, when it is in this session, is the one to
    # change: it then holds the restored values.
    live = obj if not isinstance(obj, Version) and obj._connection is session.transaction \
        else _live(session, v, key)
    restored = _write_one(session, v, key, then.values if then is not None else None, live)
    conn = session.transaction
    for link, column in _links_of(v):
        owner = f"{link.table}.{column} = {literal(conn, key)}"
        links_then = {x.object_key[0]: x.values for x in view.select(link.cls, owner)}
        current = _load(session, link, owner)
        for link_key, values in restore_plan(current, links_then, link.stateful).items():
            _write_one(session, link, link_key, values, current.get(link_key))
    return restored


def restore_model_through(session: Session, revision: RevisionRef,
                          classes: Classes = None) -> None:
    """:func:`restore_model` through a vdm SQLObject session: two queries
    per class, then one write per changed object."""
    view = ModelAsOf(session, revision)
    plan: dict[Versioning, dict[Any, Values]] = {}
    live: dict[Versioning, dict[Any, Any]] = {}
    for v in versionings(session.transaction, classes):
        live[v] = _load(session, v)
        plan[v] = restore_plan(live[v], {x.object_key[0]: x.values for x in view.all(v.cls)})
    _write(session, plan, live)


def undo_through(session: Session, revision: RevisionRef, classes: Classes = None) -> None:
    """:func:`undo_revision` through a vdm SQLObject session."""
    conn = session.transaction
    revision_id = resolve_revision(conn, revision)
    plan: dict[Versioning, dict[Any, Values]] = {}
    live: dict[Versioning, dict[Any, Any]] = {}
    for v in versionings(conn, classes):
        for version, before in written_by(conn, v, revision_id):
            key = version.object_key[0]
            obj = _live(session, v, key)
            step = plan_undo_step(version, before, obj, _compared(v), v.describe(key), v.cls)
            live.setdefault(v, {})[key] = obj
            plan.setdefault(v, {})[key] = step.values
    # The core's keys are tuples.  Classes are matched by table, like
    # dependency_order: a class of another registry on a planned table
    # stands for the planned one.
    keyed = {v: {(key,): values for key, values in keys.items()} for v, keys in plan.items()}
    by_table = {v.table: v for v in keyed}
    references = [
        Reference(by_table.get(child.table, child), target, (fk.column,), (fk.attr,))
        for child in versionings(conn, None) for fk in child.foreign_keys.values()
        if (target := by_table.get(findClass(fk.target, child.cls.sqlmeta.registry)
                                   .sqlmeta.table)) is not None]
    check_no_dependants(sql_of(conn), revision_id, keyed, references)
    _write(session, plan, live)


__all__ = ["dependency_order", "restore_model_through",
           "restore_through", "undo_through"]
