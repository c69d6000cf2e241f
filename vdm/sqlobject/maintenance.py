"""``purge_revision`` and ``purge`` for SQLObject: rewriting history.

Per versioned table, the histories of the keys the revision wrote are read
in a few statements; :func:`vdm.purgeplan.plan_purge` (shared with the
SQLAlchemy backend) decides which versions to drop or relink and which
live rows fall back, come back or vanish; the plan is written back grouped
into a few statements.  Tables are handled parents first (children first
for removals), so foreign keys hold on every database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlobject.classregistry import findClass

from vdm.errors import IntegrityViolation, NotVersionedError
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, REVISION_TABLE
from vdm.operations import Operation
from vdm.purgeplan import PurgePlan, plan_purge, purge_dependant_error, still_referenced_message
from vdm.sqlobject.dialect import chunks, in_clause, literal
from vdm.sqlobject.registry import Versioning, versioned_classes, versioning_of
from vdm.sqlobject.session import session_of
from vdm.sqlobject.verification import check_links
from vdm.states import State


def purge_revision(conn: Any, versionings: Iterable[Versioning], revision_id: int,
                   leave_record: bool) -> None:
    """Remove ``revision_id`` from the history of every class, in transaction ``conn``."""
    plans: dict[Versioning, PurgePlan] = {}
    versionings = list(versionings)
    for v in versionings:
        plan = _plan_table(conn, v, revision_id)
        if plan is not None:
            plans[v] = plan
    versionings = list(versionings)
    _refuse_dangling(conn, versionings, plans, revision_id)
    order = _parents_first(list(plans))
    for v in order:
        _apply_versions(conn, v, plans[v])
        _apply_live_upserts(conn, v, plans[v])
    for v in reversed(order):
        for batch in chunks(plans[v].remove_live):
            conn.query(f"DELETE FROM {v.table} WHERE {in_clause(conn, v.id_name, batch)}")
    _refuse_duplicate_links(conn, versionings, plans, revision_id)
    if leave_record:
        conn.query(f"UPDATE {REVISION_TABLE} SET state = {literal(conn, State.DELETED)} "
                   f"WHERE id = {revision_id}")
    else:
        conn.query(f"DELETE FROM {REVISION_TABLE} WHERE id = {revision_id}")


def _refuse_dangling(conn: Any, versionings: list[Versioning],
                     plans: dict[Versioning, PurgePlan], revision_id: int) -> None:
    """Raise if a version kept by the purge refers to an object that would not exist then."""
    by_table = {v.table: v for v, plan in plans.items() if plan.vanished}
    for child in versionings:
        registry = child.cls.sqlmeta.registry
        for fk in child.foreign_keys.values():
            target = by_table.get(findClass(fk.target, registry).sqlmeta.table)
            if target is None:
                continue
            cvt, col = child.version_table, fk.column
            for gone in plans[target].vanished:
                before = "" if gone.end is None else f" AND {REVISION_ID} < {gone.end}"
                row = conn.queryOne(
                    f"SELECT {child.id_name}, {REVISION_ID} FROM {cvt} "
                    f"WHERE {col} = {literal(conn, gone.key)} AND {REVISION_ID} <> {revision_id} "
                    f"AND {OPERATION_TYPE} <> {int(Operation.DELETE)} "
                    f"AND ({EXPIRED_ID} IS NULL OR {EXPIRED_ID} > {gone.start}){before} "
                    f"ORDER BY {REVISION_ID}")
                if row:
                    raise IntegrityViolation(
                        purge_dependant_error(revision_id, target.describe(gone.key),
                                              child.describe(row[0]), row[1]),
                        cls=target.cls)


def _refuse_duplicate_links(conn: Any, versionings: list[Versioning],
                            plans: dict[Versioning, PurgePlan], revision_id: int) -> None:
    """Raise if the rewritten history gives an owner two active links to one target."""
    changed = {v.table for v in plans}
    for owner in versionings:
        for spec in owner.links.values():
            if spec.link.table not in changed:
                continue
            found = check_links(conn, spec)
            if found:
                raise IntegrityViolation(
                    f"cannot purge revision {revision_id}: afterwards {found[0].detail}; "
                    f"purge the revision that added the later link first",
                    cls=owner.cls)


def _parents_first(versionings: list[Versioning]) -> list[Versioning]:
    by_name = {v.name: v for v in versionings}
    done: list[Versioning] = []

    def visit(v: Versioning, path: tuple[str, ...]) -> None:
        if v in done or v.name in path:
            return
        for fk in v.foreign_keys.values():
            parent = by_name.get(fk.target)
            if parent is not None and parent is not v:
                visit(parent, (*path, v.name))
        done.append(v)

    for v in versionings:
        visit(v, ())
    return done


def _plan_table(conn: Any, v: Versioning, revision_id: int) -> PurgePlan | None:
    vt, idn = v.version_table, v.id_name
    keys = [r[0] for r in conn.queryAll(
        f"SELECT {idn} FROM {vt} WHERE {REVISION_ID} = {revision_id}")]
    if not keys:
        return None
    names = v.version_columns
    histories: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for batch in chunks(keys):
        rows = conn.queryAll(
            f"SELECT {', '.join(names)} FROM {vt} WHERE {in_clause(conn, idn, batch)} "
            f"ORDER BY {idn}, {REVISION_ID}"
        )
        for row in rows:
            values = dict(zip(names, row, strict=True))
            histories[values[idn]].append(values)
    return plan_purge(histories, revision_id, v.live_columns)


def _apply_versions(conn: Any, v: Versioning, plan: PurgePlan) -> None:
    vt, idn = v.version_table, v.id_name
    dropped: dict[int, list[Any]] = defaultdict(list)
    for ref in plan.drop:
        dropped[ref.revision_id].append(ref.key)
    for rid, keys in dropped.items():
        for batch in chunks(keys):
            conn.query(f"DELETE FROM {vt} WHERE {REVISION_ID} = {rid} "
                       f"AND {in_clause(conn, idn, batch)}")
    relinked: dict[tuple[int, int | None, int], list[Any]] = defaultdict(list)
    for r in plan.relink:
        relinked[(r.revision_id, r.expired_id, int(r.operation))].append(r.key)
    for (rid, expired, op), keys in relinked.items():
        for batch in chunks(keys):
            conn.query(
                f"UPDATE {vt} SET {EXPIRED_ID} = {literal(conn, expired)}, "
                f"{OPERATION_TYPE} = {op} WHERE {REVISION_ID} = {rid} "
                f"AND {in_clause(conn, idn, batch)}"
            )


def _apply_live_upserts(conn: Any, v: Versioning, plan: PurgePlan) -> None:
    for values in plan.restore:
        assignments = ", ".join(f"{c} = {literal(conn, values[c])}"
                                for c in v.live_columns if c != v.id_name)
        conn.query(f"UPDATE {v.table} SET {assignments} "
                   f"WHERE {v.id_name} = {literal(conn, values[v.id_name])}")
    for values in plan.recreate:
        columns = v.live_columns
        conn.query(
            f"INSERT INTO {v.table} ({', '.join(columns)}) VALUES "
            f"({', '.join(literal(conn, values[c]) for c in columns)})"
        )


def purge_object(obj: Any, classes: Iterable[type]) -> None:
    """Erase live ``obj``, the versioned link rows referring to it, and all their versions.

    Rows of ``classes`` that are not links and refer to ``obj`` (or to one
    of its links) make it refuse with :class:`vdm.IntegrityViolation`
    naming them, before anything is erased.
    """
    v = versioning_of(obj)
    if v is None:
        raise NotVersionedError.of(obj, "delete it with destroySelf()")
    conn = obj._connection
    session = session_of(conn)
    if session is not None:
        session.flush()
    link_classes = {spec.link for owner in versioned_classes for spec in owner.links.values()}
    links: dict[Versioning, list[Any]] = {}
    for link in link_classes:
        if link is v:
            continue
        for column in _columns_referring(link.cls, v):
            rows = conn.queryAll(f"SELECT {link.id_name} FROM {link.table} "
                                 f"WHERE {column.dbName} = {literal(conn, obj.id)}")
            links.setdefault(link, []).extend(r[0] for r in rows)
    others = [c for c in classes if versioning_of(c) not in links]
    _refuse_if_referenced(conn, v, [obj.id], others)
    for link, ids in links.items():
        _refuse_if_referenced(conn, link, ids, others)
    for link, ids in links.items():
        _erase(conn, link, ids)
    _erase(conn, v, [obj.id])


def _columns_referring(cls: Any, v: Versioning) -> list[Any]:
    return [c for c in cls.sqlmeta.columnList
            if getattr(c, "foreignKey", None) == v.cls.__name__]


def _refuse_if_referenced(conn: Any, v: Versioning, ids: list[Any],
                          classes: Iterable[Any]) -> None:
    for cls in classes:
        if cls is v.cls:
            continue
        meta = cls.sqlmeta
        for column in _columns_referring(cls, v):
            for key in ids:
                where = f"{column.dbName} = {literal(conn, key)}"
                count = conn.queryOne(f"SELECT COUNT(*) FROM {meta.table} WHERE {where}")[0]
                if count:
                    shown = conn.queryAll(f"SELECT {meta.idName} FROM {meta.table} WHERE "
                                          f"{where} ORDER BY {meta.idName} LIMIT 3")
                    names = [f"{cls.__name__}({meta.idName}={r[0]!r})" for r in shown]
                    raise IntegrityViolation(
                        still_referenced_message(v.describe(key), meta.table, count, names),
                        cls=v.cls,
                    )


def _erase(conn: Any, v: Versioning, ids: list[Any]) -> None:
    for batch in chunks(ids):
        conn.query(f"DELETE FROM {v.version_table} WHERE {in_clause(conn, v.id_name, batch)}")
        conn.query(f"DELETE FROM {v.table} WHERE {in_clause(conn, v.id_name, batch)}")
    for key in ids:
        conn.cache.expire(key, v.cls)
