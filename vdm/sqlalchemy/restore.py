"""Restoring and undoing, each written as a new revision.

    session.revision = Revision(author="me", message="back to r3")
    restore_object(session, book, 3)      # the book and its links as of r3
    restore_model(session, 3)             # the whole model as of r3
    undo_revision(session, 5)             # take back r5, keep later revisions
    session.commit()

They change live objects through the session like any edit, so the
history records them as ordinary versions.  :func:`undo_revision` raises
:class:`vdm.ConflictError` naming the object and fields when a later
revision changed what it would undo, and then changes nothing.

The three functions are the core's (:mod:`vdm.restoring`); this module
lends them how a SQLAlchemy session reads and writes the objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from vdm.naming import EXPIRED_ID, REVISION_ID, STATE
from vdm.restoring import (
    Reference,
    Values,
    check_no_dependants,
    doomed,
    hold,
    restorable,
    restore_plan,
)
from vdm.sharednames import restore_model, restore_object, undo_revision  # noqa: F401 - importable here too
from vdm.sql import sql_of
from vdm.sqlalchemy.asof import RevisionRef, current_as_of, resolve_revision
from vdm.sqlalchemy.associations import (
    Association,
    association_rows,
    associations,
    associations_for,
    expire_collections,
    plan_link_undo,
    side_filter,
    write_association_versions,
)
from vdm.sqlalchemy.registry import (
    Key,
    Versioning,
    hierarchy_bases,
    versionings_in,
)
from vdm.sqlalchemy.session import ensure_revision, transaction_state
from vdm.sqlalchemy.writer import chunks
from vdm.undoplan import plan_undo_step


def _settable(v: Versioning, values: dict[str, Any]) -> dict[str, Any]:
    computed = v.computed_fields
    return {k: val for k, val in values.items()
            if (v.stateful or k != STATE) and k not in computed}


def _hold(session: Session, v: Versioning, key: Key, values: Values) -> Any:
    """Make the live object with ``key`` hold ``values`` (None: not exist)."""

    def create(values: dict[str, Any]) -> Any:
        live = v.mapper.class_manager.new_instance()
        _set(live, values)
        session.add(live)
        return live

    return hold(session.get(v.cls, key), None if values is None else _settable(v, values),
                create, _set, session.delete)


def _set(live: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(live, name, value)


def restore_in_session(session: Session, obj: Any, revision: RevisionRef) -> Any:
    """:func:`restore_object` in a SQLAlchemy session."""
    # One flush at the end lets the ORM order the writes by dependency.
    with session.no_autoflush:
        return _restore_object(session, obj, revision)


def _restore_object(session: Session, obj: Any, revision: RevisionRef) -> Any:
    v = restorable(obj)
    key = obj.object_key if isinstance(obj, v.version_class) else v.key_of(obj)
    revision_id = resolve_revision(session, revision)
    then = _versions_as_of(session, v, revision_id, v.version_key_clause([key]))
    live = _hold(session, v, key, then[0].field_values if then else None)
    for spec in v.all_links.values():
        links_then = {link.object_key: link.field_values for link in _versions_as_of(
            session, spec.link, revision_id, *_owner_filter(spec.link.version_table, spec, key))}
        current = session.scalars(select(spec.link.cls).where(
            *_owner_filter(spec.link.table, spec, key)))
        links_now = [spec.link.key_of(link) for link in current]
        for link_key, values in restore_plan(links_now, links_then, spec.link.stateful).items():
            _hold(session, spec.link, link_key, values)
    owner_values = dict(zip(v.key_names, key, strict=True))
    for association in associations.values():
        if association.sides_of(v.table):
            restore_links(session, association, revision_id, v.table, owner_values)
    return live


def _versions_as_of(session: Session, v: Versioning, revision_id: int,
                    *where: Any) -> list[Any]:
    """The versions of ``v``'s class (and subclasses) current as of
    ``revision_id`` that match ``where``, by primary key."""
    return list(session.scalars(
        select(v.version_class)
        .where(current_as_of(v.version_table, revision_id), *where)
        .order_by(*(v.version_table.c[n] for n in v.key_names))))


def _owner_filter(table: Table, spec: Any, key: Key) -> list[Any]:
    """Rows of ``table`` (the link's live or version table) of the owner with ``key``."""
    owner_values = dict(zip(spec.owner.key_names, key, strict=True))
    return [table.c[link_col] == owner_values[owner_col]
            for owner_col, link_col in spec.owner_pairs]


def restore_model_in_session(session: Session, revision: RevisionRef,
                             classes: Iterable[Versioning] | None = None) -> None:
    """:func:`restore_model` in a SQLAlchemy session."""
    with session.no_autoflush:
        _restore_model(session, revision, classes)


def _restore_model(session: Session, revision: RevisionRef,
                   classes: Iterable[Versioning] | None) -> None:
    revision_id = resolve_revision(session, revision)
    classes = versionings_in(session, classes)
    for v in hierarchy_bases(classes):
        # Each version is of its own (sub)class, which _hold re-creates.
        versions = _versions_as_of(session, v, revision_id)
        kinds = {x.object_key: type(x).__versioning__ for x in versions}
        found: Iterable[Any] = session.scalars(select(v.cls))
        then = {x.object_key: x.field_values for x in versions}
        for key, values in restore_plan([v.key_of(live) for live in found], then).items():
            _hold(session, kinds.get(key, v), key, values)
    for association in associations_for(classes):
        restore_links(session, association, revision_id)


def undo_in_session(session: Session, revision: RevisionRef,
                    classes: Iterable[Versioning] | None = None) -> None:
    """:func:`undo_revision` in a SQLAlchemy session."""
    revision_id = resolve_revision(session, revision)
    classes = list(classes) if classes is not None else None
    plan: dict[Versioning, dict[Key, Values]] = {}
    with session.no_autoflush:
        classes = versionings_in(session, classes)
        link_plans = [(a, plan_link_undo(session, a, revision_id))
                      for a in associations_for(classes)]
        for base in hierarchy_bases(classes):
            cls = base.version_class
            written = list(session.scalars(select(cls).where(
                base.version_table.c[REVISION_ID] == revision_id)))
            if not written:
                continue
            before = {b.object_key: b for b in session.scalars(select(cls).where(
                base.version_table.c[EXPIRED_ID] == revision_id))}
            for version in written:
                v = type(version).__versioning__
                key = version.object_key
                step = plan_undo_step(version, before.get(key), session.get(v.cls, key),
                                      _settable(v, dict.fromkeys(v.fields)),
                                      v.describe(key), v.cls)
                plan.setdefault(v, {})[key] = step.values
        check_no_dependants(sql_of(session), revision_id, plan,
                            _references(session, doomed(plan)))
        # Plain many-to-many links it added go first (their objects may go
        # too), the ones it removed come back last (their objects may come
        # back too).
        for association, link_plan in link_plans:
            apply_link_undo(session, association,
                            {k: v for k, v in link_plan.items() if v is None})
        # One flush at the end lets the unit of work order the writes by
        # dependency (a link's delete before its tag's); values an undo
        # sets back on a live object are some of its fields, and _hold
        # writes only those.
        for v, keys in plan.items():
            for key, values in keys.items():
                _hold(session, v, key, values)
        for association, link_plan in link_plans:
            apply_link_undo(session, association,
                            {k: v for k, v in link_plan.items() if v is not None})


def _references(session: Session, targets: Iterable[Versioning]) -> Iterator[Reference]:
    """The foreign keys of versioned classes to the primary key of ``targets``."""
    targets = list(targets)
    children = versionings_in(session) if targets else []
    for target in targets:
        for child in children:
            attrs = {col: key for key, col in child.mapper.columns.items()}
            for fk in child.table.foreign_key_constraints:
                pairs = {el.column.key: el.parent for el in fk.elements}
                if fk.referred_table is target.table and sorted(pairs) == sorted(target.key_names):
                    columns = [pairs[name] for name in target.key_names]
                    yield Reference(child, target, tuple(c.name for c in columns),
                                    tuple(attrs.get(c, c.key) for c in columns))


# -- plain many-to-many links (association tables) ---------------------------


def _set_links(session: Session, association: Association,
               wanted: dict[Key, dict[str, Any]], live: dict[Key, dict[str, Any]]) -> None:
    """Make the live rows ``live`` become ``wanted`` and version the change."""
    add = {k: v for k, v in wanted.items() if live.get(k) != v}
    remove = [k for k in live if k not in wanted or k in add]
    if not add and not remove:
        return
    # Objects the links refer to may be pending (re-created by a restore).
    session.flush()
    connection = session.connection()
    revision_id = ensure_revision(session, connection)
    for batch in chunks(remove):
        connection.execute(association.table.delete().where(association.live_key_clause(batch)))
    if add:
        connection.execute(association.table.insert(), list(add.values()))
    side = association.sides[0]
    values = {tuple((add.get(key) or live[key])[c] for c in side.columns)
              for key in [*add, *remove]}
    written = transaction_state(session).written[association]  # type: ignore[index]
    write_association_versions(connection, association, {side.columns: values},
                               revision_id, written)
    expire_collections(session, association)


def restore_links(session: Session, association: Association, revision_id: int,
                  table: Table | None = None, values: dict[str, Any] | None = None) -> None:
    """Make the association's rows (those of the object of ``table`` whose
    columns hold ``values``, if given) what they were as of ``revision_id``,
    as a versioned change."""
    connection = session.connection()
    sides = association.sides if table is None else association.sides_of(table)
    sides = [s for s in sides if values is None or all(r in values for r, _ in s.pairs)]
    for side in sides if values is not None else sides[:1]:
        live_where = [] if values is None else side_filter(association.table, side, values)
        then_where = ([] if values is None
                      else side_filter(association.version_table, side, values))
        vt = association.version_table
        then = association_rows(connection, vt, association,
                     [current_as_of(vt, revision_id), *then_where])
        _set_links(session, association, then,
                   association_rows(connection, association.table, association, live_where))


def apply_link_undo(session: Session, association: Association,
                    plan: dict[Key, dict[str, Any] | None]) -> None:
    """Carry out :func:`plan_link_undo`'s plan as a versioned change."""
    if not plan:
        return
    connection = session.connection()
    live = association_rows(connection, association.table, association,
                 [association.live_key_clause(list(plan))])
    wanted = {k: v for k, v in live.items() if k not in plan}
    wanted.update({k: v for k, v in plan.items() if v is not None})
    _set_links(session, association, wanted, live)


__all__ = ["apply_link_undo", "restore_in_session", "restore_links",
           "restore_model_in_session", "undo_in_session"]
