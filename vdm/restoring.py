"""What restoring and undoing mean, once for both backends.

A backend reads what each object must become -- its values as of a
revision, or what undoing a revision gives back (:mod:`vdm.undoplan`) --
into a *plan*: ``{versioning: {key: values}}``, where ``values`` are the
attribute values to write (all of them, or only those an undo sets back)
or None when the object must not exist.  This module decides, over that
plan, what is refused before anything is written:

* :func:`restorable`: what ``restore_object`` may be handed;
* :func:`restore_plan`: what objects (a model's, an object's links) become;
* :func:`check_no_dependants`: an undo may not destroy an object that a row
  it keeps still refers to (read through :mod:`vdm.sql`);

and how a plan is carried out (:func:`carry_out`, :func:`hold`), leaving
the writes themselves to the backend's unit of work so that they are
versioned like any edit.  :func:`check_no_dependants` and :func:`describe`
take keys as tuples of the key columns' values; the other functions take
whatever keys the backend uses.

The public functions, the same objects in both backends' packages, refuse
what both refuse and hand the rest to the backend of the session
(:func:`vdm.backends.backend_of`):

* :func:`restore_object`: an object and its versioned links as of a revision;
* :func:`restore_model`: the whole model as of a revision;
* :func:`undo_revision`: a revision taken back, later revisions kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from vdm.backends import Classes, backend_of
from vdm.changes import undo_dependant_conflict
from vdm.errors import ConflictError, InvalidInputError, NotVersionedError
from vdm.naming import STATE
from vdm.sql import Sql
from vdm.states import State
from vdm.tables import TableRecord, versioning_record
from vdm.versionwrite import CHUNK, chunks, keys_in

Key = tuple[Any, ...]
#: ``{attribute: value}`` an object must hold, or None: it must not exist.
Values = dict[str, Any] | None
#: ``{versioning: {key: values}}``: what each object of each class becomes.
Plan = Mapping[Any, Mapping[Key, Values]]


def restorable(obj: Any) -> Any:
    """The versioning record of ``obj`` (a live object or a version), which
    ``restore_object`` is to bring back.

    Raises :class:`vdm.NotVersionedError` for an object or class that is not
    versioned and :class:`vdm.InvalidInputError` for a versioned class
    (which has no one past to restore), each saying what to pass instead.
    """
    record = versioning_record(obj)
    if record is None:
        raise NotVersionedError.of(obj, "restore objects (or versions) of versioned classes")
    if isinstance(obj, type):
        raise InvalidInputError(
            f"{obj.__name__} is a class; restore one of its objects (or versions)",
            cls=obj)
    return record


def restore_object(session: Any, obj: Any, revision: Any) -> Any:
    """Make ``obj`` and its versioned links look as they did at ``revision``,
    in ``session``'s current revision.

    ``obj`` may be a live object or a version (of an object since
    destroyed).  Stateful links it has now but had not then are marked
    deleted.  Returns the live object (None if it did not exist then).
    """
    restorable(obj)
    return backend_of(session).restore_one(session, obj, revision)


def restore_model(session: Any, revision: Any, classes: Classes = None) -> None:
    """Make every versioned object look as it did at ``revision``, in
    ``session``'s current revision.

    Objects created since are destroyed (their history stays), objects
    destroyed since come back (with their keys), and every field returns
    to its old value.
    """
    backend_of(session).restore_all(session, revision, classes)


def undo_revision(session: Any, revision: Any, classes: Classes = None) -> None:
    """Take back everything ``revision`` changed, keeping later revisions,
    in ``session``'s current revision.

    Raises :class:`vdm.ConflictError` (before changing anything) when a
    later revision changed a field the undo would restore, re-created an
    object it would remove or destroyed one it would change.
    """
    backend_of(session).undo(session, revision, classes)


def restore_plan(current: Iterable[Any], then: Mapping[Any, dict[str, Any]],
                 mark_deleted: bool = False) -> dict[Any, Values]:
    """What each object of a set becomes when the set is restored, by key.

    ``then`` are the values each had as of the revision, ``current`` the
    keys of those that exist now.  Objects made since are destroyed (their
    history stays), or only marked deleted with ``mark_deleted`` (an
    object's stateful links, so that its list shows them deleted); the
    others, including those destroyed since, take their values back.
    """
    plan: dict[Any, Values] = {
        key: {STATE: State.DELETED} if mark_deleted else None
        for key in current if key not in then}
    plan.update(then)
    return plan


def describe(record: TableRecord, key: Key) -> str:
    """``Book(id=1)``: how messages name the object of ``record``'s class with ``key``."""
    pairs = ", ".join(f"{n}={v!r}" for n, v in zip(record.key_columns, key, strict=True))
    return f"{record.name}({pairs})"


@dataclass(frozen=True)
class Reference:
    """A foreign key from one versioned class (``child``) to another (``target``).

    ``child`` and ``target`` are the backends' versioning records;
    ``columns`` are the child's columns holding the target's key, in the
    order of the target's key columns, and ``attrs`` the child's
    attributes of those columns.
    """

    child: Any
    target: Any
    columns: tuple[str, ...]
    attrs: tuple[str, ...]


def doomed(plan: Plan) -> dict[Any, list[Key]]:
    """The objects ``plan`` destroys, by versioning record (classes with none left out)."""
    found = {v: [k for k, values in keys.items() if values is None] for v, keys in plan.items()}
    return {v: keys for v, keys in found.items() if keys}


def check_no_dependants(sql: Sql, revision_id: int, plan: Plan,
                        references: Iterable[Reference]) -> None:
    """Raise :class:`vdm.ConflictError` if a row the undo of ``revision_id``
    keeps refers to an object its ``plan`` destroys.

    ``references`` are the foreign keys to the classes with doomed objects.
    A referring row is no obstacle when the plan destroys it too or sets
    its foreign key to another object.
    """
    destroyed = doomed(plan)
    for ref in references:
        keys = destroyed.get(ref.target)
        if not keys:
            continue
        child = ref.child.tables_record
        undone = plan.get(ref.child, {})
        for child_key, target_key in _referring(sql, child, ref.columns, keys):
            values = undone.get(child_key, {})
            if values is None:
                continue  # the undo destroys the child too
            pointed = tuple(values.get(a, k) for a, k in zip(ref.attrs, target_key, strict=True))
            if pointed != target_key:
                continue  # the undo points the child elsewhere
            raise ConflictError(
                undo_dependant_conflict(describe(ref.target.tables_record, target_key),
                                        revision_id, describe(child, child_key)),
                cls=ref.target.cls, revision=revision_id,
            )


def _referring(sql: Sql, child: TableRecord, columns: tuple[str, ...],
               keys: list[Key]) -> Iterator[tuple[Key, Key]]:
    """(child key, target key) of each row of ``child``'s live table whose
    ``columns`` hold one of ``keys``."""
    width = len(child.key_columns)
    selected = ", ".join([*child.key_columns, *columns])
    order = ", ".join(child.key_columns)
    for batch in chunks(keys, CHUNK):
        matches, params = keys_in(columns, batch)
        for row in sql.rows(f"SELECT {selected} FROM {child.table} WHERE {matches} "
                            f"ORDER BY {order}", params):
            yield tuple(row[:width]), tuple(row[width:])


def hold(live: Any, values: Values, create: Callable[[dict[str, Any]], Any],
         update: Callable[[Any, dict[str, Any]], None],
         destroy: Callable[[Any], None]) -> Any:
    """Make the object ``live`` (None: it does not exist) hold ``values``
    (None: not exist), through the backend's ``create(values)``,
    ``update(live, changed)`` and ``destroy(live)``; return the live object
    (None if destroyed).  Only the values that differ are written, so an
    object that already holds them gets no new version."""
    if values is None:
        if live is not None:
            destroy(live)
        return None
    if live is None:
        return create(values)
    changed = {name: value for name, value in values.items() if getattr(live, name) != value}
    if changed:
        update(live, changed)
    return live


def carry_out(plan: Plan, order: Iterable[Any],
              write: Callable[[Any, Key, Values], Any]) -> None:
    """Call ``write(versioning, key, values)`` for each entry of ``plan``:
    the classes in ``order`` (targets of foreign keys first) for objects
    that stay, then in reverse order for objects destroyed, so that
    foreign keys hold at every statement."""
    order = list(order)
    for v in order:
        for key, values in plan.get(v, {}).items():
            if values is not None:
                write(v, key, values)
    for v in reversed(order):
        for key, values in plan.get(v, {}).items():
            if values is None:
                write(v, key, None)
