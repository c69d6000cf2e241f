"""Stale writes become :class:`vdm.ConflictError`, never a lost update.

Writers take the revision id only in the final step of the commit
(:mod:`vdm.sqlalchemy.commit`), so two of them may change versioned rows at
once.  Before a flush writes, vdm checks that what this session read is
still true, with locking reads (``SELECT ... FOR UPDATE``) that see the
latest committed data on every database and keep the rows locked until
commit (a second writer of the same row waits, then finds it changed) —
one statement per table, never one per object:

* a changed or deleted object still has the ``revision_id`` it was read at;
* an object that new rows will refer to (the owner of a new link, the
  target of a new many-to-one) still exists;
* an object being destroyed has gained no rows referring to it meanwhile;
* after the flush, no owner has two links to the same target (or key),
  which two writers adding the same link at once would create.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import RelationshipDirection, Session
from sqlalchemy.orm import attributes as orm_attributes
from sqlalchemy.orm import base as orm_base

from vdm.errors import ConflictError
from vdm.naming import REVISION_ID
from vdm.operations import Operation
from vdm.sqlalchemy.registry import Key, Versioning, key_in, versioned_mappers, versioning_of
from vdm.sqlalchemy.writer import chunks, statements_for

_UNKNOWN = object()


def check_stale(session: Session, objs: list[Any],
                current: dict[Versioning, dict[Key, Any]] | None = None) -> None:
    """Raise if another revision changed or deleted ``objs`` since they were read.

    The rows are locked; ``current`` (per base versioning) receives the
    ``revision_id`` each row has now, the revision of its current version.
    """
    by_table: dict[Versioning, dict[Key, tuple[Any, Any]]] = defaultdict(dict)
    for obj in objs:
        state = orm_attributes.instance_state(obj)
        if state.key is None:
            continue
        loaded = state.committed_state.get(REVISION_ID, state.dict.get(REVISION_ID, _UNKNOWN))
        if loaded is orm_base.NO_VALUE:
            loaded = _UNKNOWN
        if loaded is _UNKNOWN and current is None:
            continue
        versioning = versioning_of(obj)
        assert versioning is not None
        # The revision stamp is on the base table of an inheritance hierarchy.
        by_table[versioning.root][tuple(state.key[1])] = (obj, loaded)
    for versioning, expected in by_table.items():
        found = _locked_revisions(session.connection(), versioning, list(expected))
        if current is not None:
            current[versioning].update(found)
        for key, (obj, loaded) in expected.items():
            if key not in found:
                raise _deleted_meanwhile(versioning, key, obj)
            if loaded is not _UNKNOWN and found[key] != loaded:
                raise ConflictError(
                    f"{versioning.describe(key)} was changed by revision "
                    f"{found[key]} after this session read it (at revision "
                    f"{loaded}); refresh it (session.refresh(obj)) and apply "
                    f"your change again",
                    obj=obj, revision=found[key],
                )


def _locked_revisions(connection: Connection, v: Versioning, keys: list[Key],
                      shared: bool = False) -> dict[Key, Any]:
    statements = statements_for(v)
    statement = statements.shared_check if shared else statements.stale_check
    found: dict[Key, Any] = {}
    for batch in chunks(keys):
        params = {"keys": statements.keys_param(batch)}
        for row in connection.execute(statement, params):
            found[tuple(row[:-1])] = row[-1]
    return found


def _deleted_meanwhile(v: Versioning, key: Key, obj: Any) -> ConflictError:
    return ConflictError(
        f"{v.describe(key)} was deleted by another transaction after this "
        f"session read it; reload your data and decide again",
        obj=obj,
    )


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
                raise _deleted_meanwhile(v, key, obj)


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
