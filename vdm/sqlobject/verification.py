"""``verify()`` for SQLObject: the history invariants, one query per check and table.

The checks, their kinds and their messages are those of the SQLAlchemy
backend (:mod:`vdm.violations`), written as SQL text:

* ``missing-version``: a live row without a current version;
* ``multiple-current``: more than one version without an expiry;
* ``orphan-current``: a current version without a live row;
* ``bad-interval``: a version that expires before it starts;
* ``gap``: a version that expires at a revision with no following version;
* ``overlap``: a version that starts inside an earlier one's interval;
* ``head-mismatch``: a live row that differs from its current version;
* ``missing-revision``: a version naming a revision that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, REVISION_TABLE, STATE
from vdm.operations import Operation
from vdm.sqlobject.dialect import is_distinct, literal
from vdm.sqlobject.registry import Versioning
from vdm.states import State
from vdm.violations import Violation, duplicate_links, violation


def verify_history(conn: Any, versionings: Iterable[Versioning]) -> list[Violation]:
    """Every violation of the history invariants in these classes' tables."""
    found: list[Violation] = []
    versionings = list(versionings)
    for v in versionings:
        for kind, sql in _checks(conn, v):
            for key, rev in conn.queryAll(sql):
                found.append(violation(kind, v.table, (key,), rev, v.describe(key)))
    for v in versionings:
        for spec in v.links.values():
            found.extend(check_links(conn, spec))
    return found


def check_links(conn: Any, spec: Any) -> list[Violation]:
    """Owners with two active links to one target (or map key) at some revision."""
    link, owner = spec.link, spec.owner
    owner_col = spec.owner_fk.column
    ident = spec.column(spec.key_attr) if spec.key_attr is not None else spec.target_fk.column
    idn, vt = link.id_name, link.version_table
    active, delete = literal(conn, State.ACTIVE.value), int(Operation.DELETE)
    rows = conn.queryAll(
        f"SELECT a.{owner_col}, a.{idn}, b.{idn}, a.{REVISION_ID}, b.{REVISION_ID} "
        f"FROM {vt} a JOIN {vt} b ON a.{owner_col} = b.{owner_col} "
        f"AND a.{ident} = b.{ident} AND a.{idn} < b.{idn} "
        f"AND a.{STATE} = {active} AND b.{STATE} = {active} "
        f"AND a.{OPERATION_TYPE} <> {delete} AND b.{OPERATION_TYPE} <> {delete} "
        f"AND (b.{EXPIRED_ID} IS NULL OR a.{REVISION_ID} < b.{EXPIRED_ID}) "
        f"AND (a.{EXPIRED_ID} IS NULL OR b.{REVISION_ID} < a.{EXPIRED_ID})")
    return duplicate_links(
        [((o,), (x,), (y,), ra, rb) for o, x, y, ra, rb in rows],
        lambda key: owner.describe(key[0]), lambda key: link.describe(key[0]),
        owner.table, link.name, spec.key_attr is not None)


def _checks(conn: Any, v: Versioning) -> list[tuple[str, str]]:
    live, vt, idn = v.table, v.version_table, v.id_name
    current = (f"v.{EXPIRED_ID} IS NULL AND v.{OPERATION_TYPE} <> {int(Operation.DELETE)}")
    differs = " OR ".join(is_distinct(conn, f"l.{c}", f"v.{c}") for c in v.live_columns)
    return [
        ("missing-version",
         f"SELECT l.{idn}, l.{REVISION_ID} FROM {live} l LEFT JOIN {vt} v "
         f"ON v.{idn} = l.{idn} AND {current} WHERE v.{REVISION_ID} IS NULL"),
        ("multiple-current",
         f"SELECT v.{idn}, MAX(v.{REVISION_ID}) FROM {vt} v WHERE v.{EXPIRED_ID} IS NULL "
         f"GROUP BY v.{idn} HAVING COUNT(*) > 1"),
        ("orphan-current",
         f"SELECT v.{idn}, v.{REVISION_ID} FROM {vt} v LEFT JOIN {live} l "
         f"ON l.{idn} = v.{idn} WHERE {current} AND l.{idn} IS NULL"),
        ("bad-interval",
         f"SELECT v.{idn}, v.{REVISION_ID} FROM {vt} v "
         f"WHERE v.{EXPIRED_ID} <= v.{REVISION_ID}"),
        ("gap",
         f"SELECT v.{idn}, v.{REVISION_ID} FROM {vt} v LEFT JOIN {vt} f "
         f"ON f.{idn} = v.{idn} AND f.{REVISION_ID} = v.{EXPIRED_ID} "
         f"WHERE v.{EXPIRED_ID} IS NOT NULL AND f.{REVISION_ID} IS NULL"),
        ("overlap",
         f"SELECT v.{idn}, f.{REVISION_ID} FROM {vt} v JOIN {vt} f "
         f"ON f.{idn} = v.{idn} AND f.{REVISION_ID} > v.{REVISION_ID} "
         f"AND (v.{EXPIRED_ID} IS NULL OR f.{REVISION_ID} < v.{EXPIRED_ID})"),
        ("head-mismatch",
         f"SELECT l.{idn}, v.{REVISION_ID} FROM {live} l JOIN {vt} v "
         f"ON v.{idn} = l.{idn} AND {current} WHERE {differs}"),
        ("missing-revision",
         f"SELECT v.{idn}, v.{REVISION_ID} FROM {vt} v LEFT JOIN {REVISION_TABLE} r "
         f"ON r.id = v.{REVISION_ID} WHERE r.id IS NULL "
         f"UNION ALL SELECT v.{idn}, v.{EXPIRED_ID} FROM {vt} v "
         f"LEFT JOIN {REVISION_TABLE} r ON r.id = v.{EXPIRED_ID} "
         f"WHERE v.{EXPIRED_ID} IS NOT NULL AND r.id IS NULL"),
    ]
