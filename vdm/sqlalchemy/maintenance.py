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

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session, object_session

from vdm.errors import IntegrityViolation, VdmError
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID
from vdm.purgeplan import PurgePlan, plan_purge
from vdm.sqlalchemy.associations import purge_links
from vdm.sqlalchemy.mapping import Key, Versioning, key_equals, versioning_of
from vdm.sqlalchemy.revision import revision_table
from vdm.sqlalchemy.writer import chunks
from vdm.states import State


def purge_revision(
    session: Session, versionings: Iterable[Versioning], revision_id: int,
    leave_record: bool,
) -> None:
    """Remove ``revision_id`` from the history of every versioned table."""
    connection = session.connection()
    plans: dict[Versioning, PurgePlan] = {}
    for v in versionings:
        plan = _plan_table(connection, v, revision_id)
        if plan is not None:
            plans[v] = plan
    order = _sorted(plans)
    for v in order:
        _apply_versions(connection, v, plans[v])
        _apply_live_upserts(connection, v, plans[v])
    for v in reversed(order):
        _apply_live_removals(connection, v, plans[v])
    if leave_record:
        connection.execute(
            update(revision_table).where(revision_table.c.id == revision_id)
            .values(state=State.DELETED)
        )
    else:
        connection.execute(delete(revision_table).where(revision_table.c.id == revision_id))
    session.expire_all()


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
            select(vt).where(v.version_key_clause(batch)).order_by(*key_cols, vt.c[REVISION_ID])
        ).mappings()
        for row in rows:
            histories[tuple(row[n] for n in v.key_names)].append(dict(row))
    return plan_purge(histories, revision_id, [c.name for c in v.table.c])


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
            .values({c.name: bindparam(f"_v_{c.name}") for c in live.c}),
            params,
        )
    if plan.recreate:
        connection.execute(insert(live), plan.recreate)


def _apply_live_removals(connection: Connection, v: Versioning, plan: PurgePlan) -> None:
    for batch in chunks(plan.remove_live):
        connection.execute(delete(v.table).where(v.live_key_clause(batch)))


def purge_object(session: Session, obj: Any) -> None:
    """Erase live ``obj`` and every version of it."""
    versioning = versioning_of(obj)
    if versioning is None:
        raise VdmError(
            f"{type(obj).__name__} is not versioned; delete it with session.delete()",
            obj=obj,
        )
    if object_session(obj) is not session:
        raise VdmError(f"{obj!r} is not in this repository's session", obj=obj)
    key = versioning.key_of(obj)
    connection = session.connection()
    # Its links through association tables go with it (they are its history).
    purge_links(connection, versioning.table, dict(zip(versioning.key_names, key, strict=True)))
    _refuse_if_referenced(connection, versioning, key)
    vt = versioning.version_table
    connection.execute(
        delete(vt).where(key_equals([vt.c[n] for n in versioning.key_names], key))
    )
    connection.execute(delete(versioning.table).where(
        key_equals([versioning.table.c[n] for n in versioning.key_names], key)
    ))
    session.expunge(obj)


def _refuse_if_referenced(connection: Connection, v: Versioning, key: Key) -> None:
    for table in v.table.metadata.tables.values():
        for fk in table.foreign_key_constraints:
            if fk.referred_table is not v.table or table is v.table:
                continue
            values = dict(zip(v.key_names, key, strict=True))
            conditions = []
            for element in fk.elements:
                target = element.column.name
                if target not in values:
                    break
                conditions.append(element.parent == values[target])
            else:
                count = connection.execute(
                    select(func.count()).select_from(table).where(and_(*conditions))
                ).scalar_one()
                if count:
                    raise IntegrityViolation(
                        f"cannot purge {v.describe(key)}: {count} row(s) of "
                        f"{table.name!r} still refer to it; purge or change "
                        f"those first", obj=None, cls=v.cls,
                    )
