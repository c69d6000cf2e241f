"""``verify()``: check the invariants of the history, set-based, per table.

Each check is one query per versioned table and reports what it finds as a
:class:`vdm.violations.Violation` (plain data, shared with the SQLObject
backend, so tools can print or count them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, func, null, or_, select, tuple_
from sqlalchemy.sql import Executable

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE
from vdm.operations import Operation
from vdm.sqlalchemy import native
from vdm.sqlalchemy.mapping import Versioning
from vdm.sqlalchemy.revision import revision_table
from vdm.sqlalchemy.types import comparable
from vdm.states import State
from vdm.violations import Violation, duplicate_links, violation

__all__ = ["Violation", "verify_history"]


def verify_history(connection: Connection, versionings: Iterable[Versioning]) -> list[Violation]:
    """Every violation of the history invariants in these tables."""
    found: list[Violation] = []
    versionings = list(versionings)
    for v in versionings:
        checks = v.__dict__.get("_verify_checks")
        if checks is None:
            checks = v.__dict__["_verify_checks"] = _checks(v)
        for kind, query in checks:
            for row in connection.execute(query):
                key = tuple(row[: len(v.key_names)])
                rev = row[len(v.key_names)]
                found.append(violation(kind, v.table.name, key, rev, v.describe(key)))
    for v in versionings:
        # Reflected tables and association tables have no link collections.
        for spec in getattr(v, "links", {}).values():
            found.extend(check_links(connection, spec))
    # Native versioning: a table whose trigger is missing or stale.
    for metadata in {id(v.table.metadata): v.table.metadata for v in versionings
                     if native.is_native(v.table)}.values():
        found.extend(native.problems(connection, metadata))
    return found


def check_links(connection: Connection, spec: Any) -> list[Violation]:
    """Owners with two active links to one target (or map key) at some revision."""
    owner, link = spec.owner, spec.link
    query = spec.__dict__.get("_duplicates")
    if query is None:
        query = spec.__dict__["_duplicates"] = _duplicates_query(spec)
    n, k = len(spec.owner_pairs), len(link.key_names)
    rows = [(tuple(r[:n]), tuple(r[n:n + k]), tuple(r[n + k:n + 2 * k]), r[-2], r[-1])
            for r in connection.execute(query)]
    return duplicate_links(rows, owner.describe, link.describe, owner.table.name,
                           link.name, spec.key_attr is not None)


def _duplicates_query(spec: Any) -> Any:
    owner, link = spec.owner, spec.link
    a, b = link.version_table.alias("a"), link.version_table.alias("b")
    by_owner = dict(spec.owner_pairs)
    owner_cols = [by_owner[n] for n in owner.key_names]
    same = [*owner_cols, *(c.key for c in spec.identity_columns())]
    a_key = [a.c[n] for n in link.key_names]
    b_key = [b.c[n] for n in link.key_names]
    first = a_key[0] < b_key[0] if len(a_key) == 1 else tuple_(*a_key) < tuple_(*b_key)
    query = select(*(a.c[n] for n in owner_cols), *a_key, *b_key,
                   a.c[REVISION_ID], b.c[REVISION_ID]).select_from(a.join(b, and_(
                       *(a.c[n] == b.c[n] for n in same), first,
                       a.c[STATE] == State.ACTIVE, b.c[STATE] == State.ACTIVE,
                       a.c[OPERATION_TYPE] != Operation.DELETE,
                       b.c[OPERATION_TYPE] != Operation.DELETE,
                       or_(b.c[EXPIRED_ID].is_(None), a.c[REVISION_ID] < b.c[EXPIRED_ID]),
                       or_(a.c[EXPIRED_ID].is_(None), b.c[REVISION_ID] < a.c[EXPIRED_ID]),
                   )))
    return query


def _checks(v: Versioning) -> list[tuple[str, Executable]]:
    live, vt = v.table, v.version_table
    live_key = [live.c[n] for n in v.key_names]
    vt_key = [vt.c[n] for n in v.key_names]
    current = and_(vt.c[EXPIRED_ID].is_(None), vt.c[OPERATION_TYPE] != Operation.DELETE)
    same_key = and_(*(a == b for a, b in zip(live_key, vt_key, strict=True)))
    nxt = vt.alias("following")
    nxt_same = and_(*(vt.c[n] == nxt.c[n] for n in v.key_names))
    rev = revision_table.alias("rev")
    compared = [c.key for c in live.c if c.key in vt.c]
    # Association tables have no revision stamp of their own.
    live_revision = live.c[REVISION_ID] if REVISION_ID in live.c else null()
    differs = or_(*(~comparable(live.c[n]).is_not_distinct_from(comparable(vt.c[n]))
                    for n in compared))
    return [
        ("missing-version",
         select(*live_key, live_revision).select_from(
             live.outerjoin(vt, and_(same_key, current))
         ).where(vt.c[REVISION_ID].is_(None))),
        ("multiple-current",
         select(*vt_key, func.max(vt.c[REVISION_ID])).where(vt.c[EXPIRED_ID].is_(None))
         .group_by(*vt_key).having(func.count() > 1)),
        ("orphan-current",
         select(*vt_key, vt.c[REVISION_ID]).select_from(
             vt.outerjoin(live, same_key)
         ).where(current, live_key[0].is_(None))),
        ("bad-interval",
         select(*vt_key, vt.c[REVISION_ID]).where(vt.c[EXPIRED_ID] <= vt.c[REVISION_ID])),
        ("gap",
         select(*vt_key, vt.c[REVISION_ID]).select_from(
             vt.outerjoin(nxt, and_(nxt_same, nxt.c[REVISION_ID] == vt.c[EXPIRED_ID]))
         ).where(vt.c[EXPIRED_ID].is_not(None), nxt.c[REVISION_ID].is_(None))),
        ("overlap",
         select(*vt_key, nxt.c[REVISION_ID]).select_from(
             vt.join(nxt, and_(
                 nxt_same,
                 nxt.c[REVISION_ID] > vt.c[REVISION_ID],
                 or_(vt.c[EXPIRED_ID].is_(None), nxt.c[REVISION_ID] < vt.c[EXPIRED_ID]),
             ))
         )),
        ("head-mismatch",
         select(*live_key, vt.c[REVISION_ID]).select_from(
             live.join(vt, and_(same_key, current))
         ).where(differs)),
        ("missing-revision",
         select(*vt_key, vt.c[REVISION_ID]).select_from(
             vt.outerjoin(rev, or_(rev.c.id == vt.c[REVISION_ID]))
         ).where(rev.c.id.is_(None)).union_all(
             select(*vt_key, vt.c[EXPIRED_ID]).select_from(
                 vt.outerjoin(rev, rev.c.id == vt.c[EXPIRED_ID])
             ).where(vt.c[EXPIRED_ID].is_not(None), rev.c.id.is_(None))
         )),
    ]
