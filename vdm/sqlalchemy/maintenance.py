"""Rewriting history: ``purge_revision`` and ``purge``.

Both work per table with a handful of statements: they read the affected
keys' histories, let :func:`vdm.purgeplan.plan_purge` recompute the chain
of validity intervals (plain data, shared with the SQLObject backend), and
write the differences back with executemany.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, object_session

from vdm.errors import DetachedError, IntegrityViolation, NotVersionedError
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID
from vdm.operations import Operation
from vdm.purgeplan import PurgePlan, plan_purge, purge_dependant_error, still_referenced_message
from vdm.sqlalchemy import native
from vdm.sqlalchemy.associations import associations, purge_links
from vdm.sqlalchemy.mapping import (
    Key,
    Versioning,
    key_equals,
    key_in,
    versioned_mappers,
    versioning_of,
)
from vdm.sqlalchemy.revision import revision_table
from vdm.sqlalchemy.verification import check_links
from vdm.sqlalchemy.writer import chunks
from vdm.states import State


def purge_revision(
    session: Session, versionings: Iterable[Versioning], revision_id: int,
    leave_record: bool,
) -> None:
    """Remove ``revision_id`` from the history of every versioned table."""
    native.bypass(session)
    connection = session.connection()
    plans: dict[Versioning, PurgePlan] = {}
    for v in versionings:
        plan = _plan_table(connection, v, revision_id)
        if plan is not None:
            plans[v] = plan
    _refuse_dangling(connection, plans, revision_id)
    order = _sorted(plans)
    for v in order:
        _apply_versions(connection, v, plans[v])
        _apply_live_upserts(connection, v, plans[v])
    for v in reversed(order):
        _apply_live_removals(connection, v, plans[v])
    _refuse_duplicate_links(connection, plans, revision_id)
    if leave_record:
        connection.execute(
            update(revision_table).where(revision_table.c.id == revision_id)
            .values(state=State.DELETED)
        )
    else:
        connection.execute(delete(revision_table).where(revision_table.c.id == revision_id))
    session.expire_all()


def _refuse_dangling(connection: Connection, plans: dict[Versioning, PurgePlan],
                     revision_id: int) -> None:
    """Raise if a version kept by the purge refers to an object that would not exist then."""
    for target, plan in plans.items():
        if not plan.vanished:
            continue
        # Association tables' links refer to objects too.
        children: list[Any] = [*versioned_mappers.values(), *associations.values()]
        for child in children:
            for fk in child.table.foreign_key_constraints:
                if fk.referred_table is not target.table:
                    continue
                pairs = {el.column.key: el.parent.key for el in fk.elements}
                if sorted(pairs) != sorted(target.key_names):
                    continue
                cvt = child.version_table
                refs = [cvt.c[pairs[n]] for n in target.key_names]
                for gone in plan.vanished:
                    query = (select(*(cvt.c[n] for n in child.key_names), cvt.c[REVISION_ID])
                             .where(key_equals(refs, gone.key),
                                    cvt.c[REVISION_ID] != revision_id,
                                    cvt.c[OPERATION_TYPE] != Operation.DELETE,
                                    or_(cvt.c[EXPIRED_ID].is_(None),
                                        cvt.c[EXPIRED_ID] > gone.start))
                             .order_by(cvt.c[REVISION_ID]).limit(1))
                    if gone.end is not None:
                        query = query.where(cvt.c[REVISION_ID] < gone.end)
                    row = connection.execute(query).first()
                    if row is not None:
                        raise IntegrityViolation(
                            purge_dependant_error(
                                revision_id, target.describe(gone.key),
                                child.describe(tuple(row[:-1])), row[-1]),
                            cls=target.cls,
                        )


def _refuse_duplicate_links(connection: Connection, plans: dict[Versioning, PurgePlan],
                            revision_id: int) -> None:
    """Raise if the rewritten history gives an owner two active links to one target."""
    for owner in list(versioned_mappers.values()):
        for spec in owner.links.values():
            if spec.link not in plans:
                continue
            found = check_links(connection, spec)
            if found:
                raise IntegrityViolation(
                    f"cannot purge revision {revision_id}: afterwards {found[0].detail}; "
                    f"purge the revision that added the later link first",
                    cls=owner.cls,
                )


def _sorted(plans: dict[Versioning, PurgePlan]) -> list[Versioning]:
    if not plans:
        return []
    metadata = next(iter(plans)).table.metadata
    rank = {t: i for i, t in enumerate(metadata.sorted_tables)}
    return sorted(plans, key=lambda v: rank.get(v.table, 0))


def _plan_table(connection: Connection, v: Versioning, revision_id: int) -> PurgePlan | None:
    vt = v.version_table
    key_cols = [vt.c[n] for n in v.key_names]
    keys = [tuple(r) for r in connection.execute(
        select(*key_cols).where(vt.c[REVISION_ID] == revision_id)
    )]
    if not keys:
        return None
    histories: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for batch in chunks(keys):
        rows = connection.execute(
            select(*vt.c).where(v.version_key_clause(batch)).order_by(*key_cols, vt.c[REVISION_ID])
        )
        for values in rows:
            # By column key, as everywhere in vdm (a key may differ from its name).
            row = dict(zip(vt.c.keys(), values, strict=True))
            histories[tuple(row[n] for n in v.key_names)].append(row)
    return plan_purge(histories, revision_id, [c.key for c in v.table.c])


def _ident(v: Versioning, key: Any, revision_id: int) -> dict[str, Any]:
    return {**{f"_k_{n}": k for n, k in zip(v.key_names, key, strict=True)},
            "_rev": revision_id}


def _apply_versions(connection: Connection, v: Versioning, plan: PurgePlan) -> None:
    vt = v.version_table
    match = and_(
        *(vt.c[n] == bindparam(f"_k_{n}") for n in v.key_names),
        vt.c[REVISION_ID] == bindparam("_rev"),
    )
    if plan.drop:
        connection.execute(delete(vt).where(match),
                           [_ident(v, ref.key, ref.revision_id) for ref in plan.drop])
    if plan.relink:
        connection.execute(
            update(vt).where(match).values({
                EXPIRED_ID: bindparam("_expired"), OPERATION_TYPE: bindparam("_op"),
            }),
            [{**_ident(v, r.key, r.revision_id), "_expired": r.expired_id, "_op": r.operation}
             for r in plan.relink],
        )


def _apply_live_upserts(connection: Connection, v: Versioning, plan: PurgePlan) -> None:
    live = v.table
    if plan.restore:
        params = [{f"_k_{n}": row[n] for n in v.key_names} | {f"_v_{c}": row[c] for c in row}
                  for row in plan.restore]
        connection.execute(
            update(live)
            .where(and_(*(live.c[n] == bindparam(f"_k_{n}") for n in v.key_names)))
            .values({c: bindparam(f"_v_{c.key}") for c in live.c if c.computed is None}),
            params,
        )
    if plan.recreate:
        # The database computes generated columns itself.
        computed = {c.key for c in live.c if c.computed is not None}
        connection.execute(insert(live), [{k: val for k, val in row.items() if k not in computed}
                                          for row in plan.recreate])


def _apply_live_removals(connection: Connection, v: Versioning, plan: PurgePlan) -> None:
    for batch in chunks(plan.remove_live):
        connection.execute(delete(v.table).where(v.live_key_clause(batch)))


def purge_object(session: Session, obj: Any) -> None:
    """Erase live ``obj``, its versioned links and every version of them.

    Link rows (of the versioned link classes) referring to ``obj`` go with
    it, history included; rows of other tables referring to it, or to one
    of those links, make it refuse with :class:`vdm.IntegrityViolation`
    naming them, before anything is erased.
    """
    versioning = versioning_of(obj)
    if versioning is None:
        raise NotVersionedError.of(obj, "delete it with session.delete()")
    if object_session(obj) is not session:
        raise DetachedError(f"{obj!r} is not in this repository's session", obj=obj)
    key = versioning.key_of(obj)
    native.bypass(session)
    connection = session.connection()
    # Its links through association tables go with it (they are its history).
    for writer in versioning.writers:
        purge_links(connection, writer.table, dict(zip(writer.key_names, key, strict=True)))
    links = _links_of(connection, versioning, key)
    # In joined inheritance the object's row in each table of its class goes.
    hierarchy = set(versioning.writers)
    for writer in versioning.writers:
        _refuse_if_referenced(connection, writer, [key], skip=set(links) | hierarchy)
    for link, link_keys in links.items():
        _refuse_if_referenced(connection, link, link_keys, skip=set(links))
    for link, link_keys in links.items():
        _erase(session, connection, link, link_keys)
    for writer in reversed(versioning.writers):
        _erase(session, connection, writer, [key])


def _link_classes() -> set[Versioning]:
    return {spec.link for v in versioned_mappers.values() for spec in v.links.values()}


def _references(v: Versioning, table: Table) -> list[tuple[list[Any], list[str]]]:
    """(referring columns, referred key names) of each foreign key from ``table`` to ``v``."""
    found = []
    for fk in table.foreign_key_constraints:
        if fk.referred_table is not v.table:
            continue
        names = [el.column.key for el in fk.elements]
        if set(names) <= set(v.key_names):
            found.append(([el.parent for el in fk.elements], names))
    return found


def _links_of(connection: Connection, v: Versioning, key: Key) -> dict[Versioning, list[Key]]:
    """Keys of the versioned link rows that refer to the object ``key`` of ``v``."""
    values = dict(zip(v.key_names, key, strict=True))
    found: dict[Versioning, list[Key]] = {}
    for link in _link_classes():
        if link is v:
            continue
        for columns, names in _references(v, link.table):
            condition = and_(*(c == values[n] for c, n in zip(columns, names, strict=True)))
            key_cols = [link.table.c[n] for n in link.key_names]
            rows = connection.execute(select(*key_cols).where(condition))
            found.setdefault(link, []).extend(tuple(r) for r in rows)
    return {link: keys for link, keys in found.items() if keys}


def _erase(session: Session, connection: Connection, v: Versioning, keys: list[Key]) -> None:
    """Delete the live rows ``keys`` of ``v`` and all their versions."""
    vt = v.version_table
    for batch in chunks(keys):
        connection.execute(delete(vt).where(key_in([vt.c[n] for n in v.key_names], batch)))
        connection.execute(delete(v.table).where(v.live_key_clause(batch)))
    for k in keys:
        loaded = session.identity_map.get(session.identity_key(v.cls, k))
        if loaded is not None and loaded in session:
            session.expunge(loaded)


def _describe_row(table: Table, row: Any) -> str:
    for v in versioned_mappers.values():
        if v.table is table:
            return v.describe(tuple(row))
    pairs = ", ".join(f"{c.name}={val!r}" for c, val in zip(table.primary_key.columns, row,
                                                                strict=True))
    return f"{table.name}({pairs})"


def _refuse_if_referenced(connection: Connection, v: Versioning, keys: list[Key],
                          skip: set[Versioning]) -> None:
    skipped = {link.table for link in skip}
    for table in v.table.metadata.tables.values():
        if table is v.table or table in skipped:
            continue
        for columns, names in _references(v, table):
            for key in keys:
                values = dict(zip(v.key_names, key, strict=True))
                condition = and_(*(c == values[n] for c, n in zip(columns, names, strict=True)))
                count = connection.execute(
                    select(func.count()).select_from(table).where(condition)
                ).scalar_one()
                if not count:
                    continue
                shown = connection.execute(
                    select(*table.primary_key.columns).where(condition).limit(3)
                ).all()
                raise IntegrityViolation(
                    still_referenced_message(v.describe(key), table.name, count,
                                             [_describe_row(table, r) for r in shown]),
                    obj=None, cls=v.cls,
                )
