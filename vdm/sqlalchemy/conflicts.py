"""Stale writes become :class:`vdm.ConflictError`, never a lost update.

Writers take the revision id only in the final step of the commit
(:mod:`vdm.sqlalchemy.commit`), so two of them may change versioned rows at
once.  vdm checks that what this session read is still true:

* a changed or deleted object still has the ``revision_id`` it was read at.
  This costs no statement of its own: the flush's own ``UPDATE`` or
  ``DELETE`` of the live row carries the condition (``revision_id`` is
  still the value read) and its row count is checked, the way SQLAlchemy's
  ``version_id_col`` works, but keeping the flush's ``executemany``
  batches (:func:`expect_unchanged`).  The statement locks the row until
  commit, so a second writer of the same row waits, then finds it changed.

With locking reads (``SELECT ... FOR UPDATE``) that see the latest
committed data on every database and keep the rows locked until commit —
one statement per table, never one per object — vdm checks that:

* an object that new rows will refer to (the owner of a new link, the
  target of a new many-to-one) still exists;
* an object being destroyed has gained no rows referring to it meanwhile;
* after the flush, no owner has two links to the same target (or key),
  which two writers adding the same link at once would create.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BinaryExpression,
    BindParameter,
    Column,
    Connection,
    Delete,
    Engine,
    Update,
    bindparam,
    event,
    func,
    select,
)
from sqlalchemy.orm import RelationshipDirection, Session
from sqlalchemy.orm import attributes as orm_attributes
from sqlalchemy.orm import base as orm_base
from sqlalchemy.sql import operators, visitors

from vdm.errors import ConflictError
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID
from vdm.operations import Operation
from vdm.sqlalchemy.registry import Key, Versioning, key_in, versioned_mappers, versioning_of
from vdm.sqlalchemy.writer import CHUNK, chunks
from vdm.stalewrites import (
    UNKNOWN,
    changed_meanwhile,
    check_unchanged,
    deleted_meanwhile,
    locked_revisions,
)

_UNKNOWN = UNKNOWN
#: How a SQLAlchemy session reads a changed object again.
_ADVICE = "refresh it (session.refresh(obj))"


def _read_revisions(objs: list[Any]) -> dict[Versioning, dict[Key, tuple[Any, Any]]]:
    """Per base versioning, ``{key: (obj, revision_id read)}`` of persistent
    ``objs`` (``_UNKNOWN`` where ``revision_id`` was never loaded)."""
    by_table: dict[Versioning, dict[Key, tuple[Any, Any]]] = defaultdict(dict)
    for obj in objs:
        state = orm_attributes.instance_state(obj)
        if state.key is None:
            continue
        loaded = state.committed_state.get(REVISION_ID, state.dict.get(REVISION_ID, _UNKNOWN))
        if loaded is orm_base.NO_VALUE or loaded is None:
            loaded = _UNKNOWN
        versioning = versioning_of(obj)
        assert versioning is not None
        # The revision stamp is on the base table of an inheritance hierarchy.
        by_table[versioning.root][tuple(state.key[1])] = (obj, loaded)
    return by_table


def _check_read_revisions(session: Session, objs: list[Any],
                          current: dict[Versioning, dict[Key, Any]]) -> None:
    """Raise if another revision changed or deleted ``objs`` since they were read.

    A locking read (one statement per table): the rows are locked;
    ``current`` (per base versioning) receives the ``revision_id`` each row
    has now, the revision of its current version.
    """
    for versioning, expected in _read_revisions(objs).items():
        found = _locked_revisions(session.connection(), versioning, list(expected))
        current[versioning].update(found)
        check_unchanged(expected, found, versioning.describe, _ADVICE)


# -- the stale check inside the flush's own UPDATE and DELETE ------------------

#: The bound parameter that carries the ``revision_id`` read.
_READ_REVISION = "vdm_read_revision"


@dataclass(eq=False)
class _TableCheck:
    """The rows of one live table whose UPDATE or DELETE the flush checks."""

    versioning: Versioning
    #: ``{key: (obj, revision_id read or _UNKNOWN)}``.
    expected: dict[Key, tuple[Any, Any]]
    #: Keys no statement of the flush has checked yet.
    unchecked: set[Key] = field(default_factory=set)


@dataclass(eq=False)
class _FlushCheck:
    """What one flush on one connection expects to find unchanged."""

    revision_id: int
    tables: dict[Any, _TableCheck]
    current: dict[Versioning, dict[Key, Any]]
    #: The statement under way: its table, keys and whether it deletes.
    running: tuple[_TableCheck, list[Key], bool] | None = None


_flushes: weakref.WeakKeyDictionary[Connection, _FlushCheck] = weakref.WeakKeyDictionary()
_shapes: weakref.WeakKeyDictionary[Any, tuple[Any, list[str]] | None] = (
    weakref.WeakKeyDictionary())
_listening: weakref.WeakSet[Engine] = weakref.WeakSet()


def expect_unchanged(connection: Connection, objs: list[Any], revision_id: int,
                     current: dict[Versioning, dict[Key, Any]]) -> None:
    """Make the flush about to run check that ``objs`` are as this session read them.

    The flush's ``UPDATE``/``DELETE`` of each live row gets the condition
    ``revision_id IS NOT DISTINCT FROM coalesce(<value read>, revision_id)``
    (an object whose ``revision_id`` was never loaded is only checked to
    exist); a statement that matches fewer rows than it was given raises
    :class:`vdm.ConflictError` naming the object and the revision that
    changed it (:func:`_stale_write`), from inside the flush, which rolls
    the transaction back.  ``current`` receives the ``revision_id`` read of
    the rows checked: the revision of their current version.
    :func:`end_expectations` closes the check after the flush.
    """
    tables: dict[Any, _TableCheck] = {v.table: _TableCheck(v, expected, set(expected))
              for v, expected in _read_revisions(objs).items()}
    if not tables:
        return
    engine = connection.engine
    if engine not in _listening:
        event.listen(engine, "before_execute", _add_condition, retval=True)
        event.listen(engine, "after_execute", _check_rowcount)
        _listening.add(engine)
    _flushes[connection] = _FlushCheck(revision_id, tables, current)


def end_expectations(session: Session, connection: Connection | None,
                     flushed: bool = True) -> None:
    """Close the check :func:`expect_unchanged` opened on ``connection``.

    ``flushed``: the flush went through; an object it did not write after
    all (no statement checked its row) is checked now by a locking read.
    """
    if connection is None:
        return
    check = _flushes.pop(connection, None)
    if check is None or not flushed:
        return
    left = [check_.expected[k][0] for check_ in check.tables.values() for k in check_.unchecked]
    if left:
        _check_read_revisions(session, left, check.current)


def _shape(statement: Any, v: Versioning) -> tuple[Any, list[str]] | None:
    """``statement`` with the condition added, and the names of its key
    parameters in key order; None unless it writes one row by its key
    (other conditions, such as a ``version_id_col``'s, may come with it)."""
    if statement in _shapes:
        return _shapes[statement]
    names: dict[str, str] = {}
    where = statement.whereclause
    for clause in ([] if where is None else visitors.iterate(where)):
        if (isinstance(clause, BinaryExpression) and clause.operator is operators.eq
                and isinstance(clause.left, Column) and clause.left.table is v.table
                and clause.left.key in v.key_names and isinstance(clause.right, BindParameter)):
            names[clause.left.key] = clause.right.key
    found: tuple[Any, list[str]] | None = None
    if set(names) == set(v.key_names) and REVISION_ID in v.table.c:
        column = v.table.c[REVISION_ID]
        read = bindparam(_READ_REVISION, type_=column.type)
        found = (statement.where(column.is_not_distinct_from(func.coalesce(read, column))),
                 [names[n] for n in v.key_names])
    _shapes[statement] = found
    return found


def _add_condition(conn: Connection, statement: Any, multiparams: Any, params: Any,
                   execution_options: Any) -> tuple[Any, Any, Any]:
    check = _flushes.get(conn)
    if check is None or not isinstance(statement, (Update, Delete)):
        return statement, multiparams, params
    table = check.tables.get(statement.table)
    shape = None if table is None else _shape(statement, table.versioning)
    if table is None or shape is None:
        return statement, multiparams, params
    checked, names = shape
    sets = list(multiparams) or [params]
    keys = [tuple(p[n] for n in names) for p in sets]
    sets = [{**p, _READ_REVISION: _read_value(table, key)}
            for p, key in zip(sets, keys, strict=True)]
    check.running = (table, keys, isinstance(statement, Delete))
    if len(sets) == 1:
        return checked, [], sets[0]
    return checked, sets, {}


def _read_value(table: _TableCheck, key: Key) -> Any:
    """The ``revision_id`` a statement expects on the row of ``key``: the one
    read, for its first statement; None (no condition but that the row
    exists) once a statement of the flush has written it (e.g. a
    ``post_update`` after the row's UPDATE)."""
    loaded = table.expected.get(key, (None, _UNKNOWN))[1]
    return None if loaded is _UNKNOWN or key not in table.unchecked else loaded


def _check_rowcount(conn: Connection, statement: Any, multiparams: Any, params: Any,
                    execution_options: Any, result: Any) -> None:
    check = _flushes.get(conn)
    if check is None or check.running is None:
        return
    table, keys, deleting = check.running
    check.running = None
    table.unchecked.difference_update(keys)
    dialect = conn.dialect
    # Drivers whose executemany gives the sum of the rows matched.
    trusted = (len(keys) == 1 or dialect.supports_sane_multi_rowcount
               or dialect.driver == "pymysql")
    if trusted and result.rowcount == len(keys):
        current = check.current[table.versioning]
        for key in keys:
            loaded = table.expected.get(key, (None, _UNKNOWN))[1]
            if loaded is not _UNKNOWN:
                current[key] = loaded
        return
    error = _stale_write(conn, table, keys, deleting, check.revision_id, mismatch=trusted)
    if error is not None:
        raise error
    for key in keys:
        loaded = table.expected.get(key, (None, _UNKNOWN))[1]
        if loaded is not _UNKNOWN:
            check.current[table.versioning][key] = loaded


def _stale_write(conn: Connection, table: _TableCheck, keys: list[Key], deleting: bool,
                 revision_id: int, mismatch: bool) -> ConflictError | None:
    """The conflict that made a checked statement match fewer rows (None if none did).

    ``mismatch``: the row count says so; else (a driver whose row count of
    an ``executemany`` cannot be trusted) the rows are looked at to find out.

    A locking read sees the latest committed rows: a row the statement
    updated carries ``revision_id``, a row it deleted is gone.
    """
    v = table.versioning
    found = _locked_revisions(conn, v, keys)
    absent: list[Key] = []
    for key in keys:
        obj, loaded = table.expected.get(key, (None, _UNKNOWN))
        if key not in found:
            if not deleting:
                return deleted_meanwhile(v.describe(key), obj)
            absent.append(key)
        elif deleting or found[key] != revision_id:
            if loaded is not _UNKNOWN and found[key] != loaded:
                return changed_meanwhile(v.describe(key), obj, found[key], loaded, _ADVICE)
    if not mismatch:
        return None
    if not absent:
        # Rows whose revision_id was never loaded, changed under the
        # statement: nothing names the revision, yet the write is refused.
        obj = table.expected.get(keys[0], (None, _UNKNOWN))[0]
        return ConflictError(
            f"{v.describe(keys[0])} was changed by another transaction while "
            f"this session wrote it; reload your data and decide again", obj=obj)
    # A DELETE matched fewer rows, yet every row left is as read: one of
    # those gone was deleted by another revision.
    key = (_deleted_by_others(conn, v, absent) or absent)[0]
    return deleted_meanwhile(v.describe(key), table.expected.get(key, (None, _UNKNOWN))[0])


def _deleted_by_others(conn: Connection, v: Versioning, absent: list[Key]) -> list[Key]:
    """Of the keys a DELETE found gone, those another revision deleted: their
    current version is a delete (this flush's own versions come later)."""
    if len(absent) <= 1:
        return absent
    vt = v.version_table
    rows = conn.execute(
        select(*(vt.c[n] for n in v.key_names))
        .where(v.version_key_clause(absent), vt.c[EXPIRED_ID].is_(None),
               vt.c[OPERATION_TYPE] == Operation.DELETE)
        .with_for_update(read=True)
    )
    return [tuple(row) for row in rows]


def _locked_revisions(connection: Connection, v: Versioning, keys: list[Key],
                      shared: bool = False) -> dict[Key, Any]:
    live = v.table
    # Quoted as the dialect quotes them: a table may be called "order".
    names = connection.dialect.identifier_preparer
    return locked_revisions(
        connection, names.format_table(live),
        tuple(names.quote(live.c[n].name) for n in v.key_names), keys, shared,
        on_primary_key={c.key for c in live.primary_key} == set(v.key_names), size=CHUNK)


def _link_owners(link: Versioning) -> set[Versioning]:
    """The classes that own ``link`` rows (whose link lists they make up)."""
    return {owner for owner in versioned_mappers.values()
            for spec in owner.links.values() if spec.link is link}


def referenced_objects(session: Session, new: list[Any], dirty: list[Any]
                       ) -> tuple[list[Any], list[Any]]:
    """Persistent versioned objects that rows written by this flush will refer to.

    Two lists: the owners that gain links or collection items (the owners
    whose one-to-many collections gained items, the owners of new links),
    which writers must take turns on so that no two add the same link; and
    the other targets of new objects' many-to-one relationships, which only
    need to stay.
    """
    owners: dict[int, Any] = {}
    targets: dict[int, Any] = {}
    for obj in new:
        state = orm_attributes.instance_state(obj)
        v = versioning_of(obj)
        link_owners = _link_owners(v) if v is not None else set()
        for prop in state.mapper.relationships:
            if prop.direction is RelationshipDirection.MANYTOONE:
                target = state.dict.get(prop.key)
                tv = versioning_of(target) if target is not None else None
                if tv is not None:
                    owned = any(tv.mapper.isa(o.mapper) for o in link_owners)
                    (owners if owned else targets)[id(target)] = target
    for obj in dirty:
        state = orm_attributes.instance_state(obj)
        for prop in state.mapper.relationships:
            if prop.direction is not RelationshipDirection.ONETOMANY:
                continue
            if prop.key in state.committed_state:
                history = state.attrs[prop.key].history
                if history.added:
                    owners[id(obj)] = obj
                    break

    def persistent(found: dict[int, Any]) -> list[Any]:
        return [o for o in found.values() if orm_attributes.instance_state(o).key is not None]
    return persistent(owners), [o for o in persistent(targets) if id(o) not in owners]


def check_exist(session: Session, objs: list[Any], shared: bool = False) -> None:
    """Raise if any of ``objs`` was deleted by another transaction, and lock them.

    ``shared``: a lock that only keeps them from being deleted or changed
    (writers that merely refer to one object do not take turns on it).
    """
    by_table: dict[Versioning, dict[Key, Any]] = defaultdict(dict)
    for obj in objs:
        v = versioning_of(obj)
        state = orm_attributes.instance_state(obj)
        if v is not None and state.key is not None:
            by_table[v.root][tuple(state.key[1])] = obj
    for v, wanted in by_table.items():
        found = _locked_revisions(session.connection(), v, list(wanted), shared)
        for key, obj in wanted.items():
            if key not in found:
                raise deleted_meanwhile(v.describe(key), obj)


def check_no_new_references(session: Session, doomed: list[Any]) -> None:
    """Raise if rows unknown to this session refer to objects it destroys."""
    by_table: dict[Versioning, list[Key]] = defaultdict(list)
    #: Per doomed class, the child classes whose rows this session read
    #: through a loaded collection of a doomed object.
    read_children: dict[Versioning, set[Any]] = defaultdict(set)
    for obj in doomed:
        v = versioning_of(obj)
        state = orm_attributes.instance_state(obj)
        if v is not None and state.key is not None:
            read = {prop.mapper for prop in v.mapper.relationships
                    if prop.uselist and prop.key not in state.unloaded}
            for writer in v.writers:
                by_table[writer].append(tuple(state.key[1]))
                read_children[writer] |= read
    connection = session.connection()
    for owner, keys in by_table.items():
        for child in versioned_mappers.values():
            if REVISION_ID not in child.table.c or not child.owns_table:
                continue  # a subclass table in an inheritance hierarchy
            # A session that never loaded an owner's children made no
            # decision about them: nothing it read can have gone stale
            # (the flush deletes or detaches them as for any delete).
            if not any(child.mapper.isa(m) for m in read_children[owner]):
                continue
            for fk in child.table.foreign_key_constraints:
                if fk.referred_table is not owner.table:
                    continue
                pairs = [(el.column.key, el.parent) for el in fk.elements]
                if sorted(name for name, _ in pairs) != sorted(owner.key_names):
                    continue
                ordered = [dict(pairs)[name] for name in owner.key_names]
                key_cols = [child.table.c[n] for n in child.key_names]
                for batch in chunks(keys):
                    rows = connection.execute(
                        select(*key_cols, child.table.c[REVISION_ID], *ordered)
                        .where(key_in(ordered, batch)).with_for_update()
                    )
                    for row in rows:
                        child_key = tuple(row[: len(key_cols)])
                        known = session.identity_key(child.cls, child_key) in session.identity_map
                        if not known:
                            owner_key = tuple(row[len(key_cols) + 1:])
                            raise ConflictError(
                                f"{owner.describe(owner_key)} gained "
                                f"{child.describe(child_key)} in revision "
                                f"{row[len(key_cols)]} after this session read it; "
                                f"reload it and decide again",
                                cls=owner.cls, revision=row[len(key_cols)],
                            )


def check_duplicate_links(
    connection: Connection,
    inserted: dict[Versioning, set[Key]],
    written: dict[Versioning, dict[Key, Any]],
) -> None:
    """Raise if an owner now has two links to one target (or two rows for one key).

    Only owners that existed before this revision can race: nobody else
    can link to an owner this transaction has just created.
    """
    for owner in versioned_mappers.values():
        created = {k for k, op in written.get(owner, {}).items() if op == Operation.INSERT}
        for spec in owner.links.values():
            new = inserted.get(spec.link)
            if not new:
                continue
            positions = [owner.key_names.index(o) for o, _ in spec.owner_pairs]
            just_created = {tuple(key[i] for i in positions) for key in created}
            link = spec.link
            owner_cols = [link.table.c[col] for _, col in spec.owner_pairs]
            ident_cols = spec.identity_columns()
            key_cols = [link.table.c[n] for n in link.key_names]
            rows: list[Any] = []
            for batch in chunks(new):
                owners = connection.execute(
                    select(*owner_cols).where(key_in(key_cols, batch))
                ).all()
                owner_keys = sorted({tuple(r) for r in owners} - just_created, key=repr)
                if not owner_keys:
                    continue
                rows.extend(connection.execute(
                    select(*owner_cols, *ident_cols, *key_cols, link.table.c[REVISION_ID])
                    .where(key_in(owner_cols, owner_keys)).with_for_update()
                ).all())
            seen: dict[tuple[Any, ...], Any] = {}
            width = len(owner_cols) + len(ident_cols)
            owner_order = [spec.owner.key_names.index(o) for o, _ in spec.owner_pairs]
            for row in rows:
                ident = tuple(row[:width])
                if ident in seen:
                    other = seen[ident]
                    # Name the link that was not this flush's own.
                    theirs = [r for r in (other, row)
                              if tuple(r[width:width + len(key_cols)]) not in new]
                    earlier = theirs[0] if theirs else other
                    owner_key = [None] * len(owner_order)
                    for position, value in zip(owner_order, ident, strict=False):
                        owner_key[position] = value
                    what = ", ".join(repr(v) for v in ident[len(owner_cols):])
                    raise ConflictError(
                        f"{spec.owner.describe(tuple(owner_key))} already has a "
                        f"{link.name} for {what} (written by revision "
                        f"{earlier[-1]}); reload {spec.owner.name}.{spec.attr_name} "
                        f"and apply your change again",
                        cls=link.cls, revision=earlier[-1],
                    )
                seen[ident] = row
