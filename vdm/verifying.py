"""``verify()`` once: the history invariants as SQL text over the shared schema.

Both backends check the same tables the same way; each only describes its
tables as a :class:`CheckedTable` (and its link collections as a
:class:`CheckedLinks`) and hands over a :class:`vdm.sql.Sql`.  The checks,
one query per check and table:

* ``missing-version``: a live row without a current version;
* ``multiple-current``: more than one version without an expiry;
* ``orphan-current``: a current version without a live row;
* ``bad-interval``: a version that expires before it starts;
* ``gap``: a version that expires at a revision with no following version;
* ``overlap``: a version that starts inside an earlier one's interval;
* ``head-mismatch``: a live row that differs from its current version;
* ``missing-revision``: a version naming a revision that does not exist.

Identifiers in a :class:`CheckedTable` are written into the SQL as they are:
a backend whose names need quoting quotes them the way its ORM does.

:func:`verify_history` and :func:`check_links`, the same objects in both
backends' packages, hand the description of the tables to the backend of
the connection they are given (:func:`vdm.backends.backend_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from vdm.backends import backend_of
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, REVISION_TABLE, STATE
from vdm.operations import Operation
from vdm.sql import MYSQL, POSTGRESQL, Sql
from vdm.states import State
from vdm.versionwrite import VersionedTable
from vdm.violations import Violation, duplicate_links, violation

Key = tuple[Any, ...]


@dataclass(frozen=True)
class CheckedTable:
    """One live table and its version table, as the checks read them."""

    #: The live table's name as violations report it (unquoted).
    name: str
    #: Its tables, key and JSON columns as the backend's SQL names them
    #: (the description the version writer uses).
    tables: VersionedTable
    #: Live columns the version table holds (``revision_id`` included), as
    #: SQL names them: what the current version must equal.
    compared: tuple[str, ...]
    #: How messages name the row with one key (``Book(id=1)``).
    describe: Callable[[Key], str]


@dataclass(frozen=True)
class CheckedLinks:
    """One versioned link collection: which links must be unique per owner."""

    #: The owner's live table as violations report it.
    owner_table: str
    #: The link class's name, as messages use it.
    link_name: str
    #: The link version table and its columns, as SQL names them.
    version_table: str
    #: Link columns holding the owner's key, in the owner's key order.
    owner_columns: tuple[str, ...]
    #: Link columns that must differ per owner: the target's key or the map key.
    identity_columns: tuple[str, ...]
    #: The link's own key columns.
    key_columns: tuple[str, ...]
    #: Whether links are keyed (a map) rather than pointing at targets.
    keyed: bool
    describe_owner: Callable[[Key], str]
    describe_link: Callable[[Key], str]


def is_distinct(dialect: str, a: str, b: str) -> str:
    """SQL: ``a`` and ``b`` differ, NULLs compared as values."""
    if dialect == POSTGRESQL:
        return f"{a} IS DISTINCT FROM {b}"
    if dialect == MYSQL:
        return f"NOT ({a} <=> {b})"
    return f"{a} IS NOT {b}"


def as_text(dialect: str, expr: str) -> str:
    """SQL: ``expr`` cast to text."""
    return f"CAST({expr} AS {'CHAR' if dialect == MYSQL else 'TEXT'})"


def history_checks(dialect: str, t: CheckedTable) -> list[tuple[str, str]]:
    """``(kind, SELECT)`` of each check of ``t``; a row is its key columns and a revision id."""
    names = t.tables
    live, vt, key_columns = names.table, names.version_table, names.key_columns

    def cols(alias: str) -> str:
        return ", ".join(f"{alias}.{c}" for c in key_columns)

    def same(a: str, b: str) -> str:
        return " AND ".join(f"{a}.{c} = {b}.{c}" for c in key_columns)

    def text(expr: str, column: str) -> str:
        return as_text(dialect, expr) if column in names.as_text else expr

    current = f"v.{EXPIRED_ID} IS NULL AND v.{OPERATION_TYPE} <> {int(Operation.DELETE)}"
    differs = " OR ".join(is_distinct(dialect, text(f"l.{c}", c), text(f"v.{c}", c))
                          for c in t.compared)
    first = key_columns[0]
    live_revision = f"l.{REVISION_ID}" if names.stamped else "NULL"
    return [
        ("missing-version",
         f"SELECT {cols('l')}, {live_revision} FROM {live} l LEFT JOIN {vt} v "
         f"ON {same('l', 'v')} AND {current} WHERE v.{REVISION_ID} IS NULL"),
        ("multiple-current",
         f"SELECT {cols('v')}, MAX(v.{REVISION_ID}) FROM {vt} v WHERE v.{EXPIRED_ID} IS NULL "
         f"GROUP BY {cols('v')} HAVING COUNT(*) > 1"),
        ("orphan-current",
         f"SELECT {cols('v')}, v.{REVISION_ID} FROM {vt} v LEFT JOIN {live} l "
         f"ON {same('l', 'v')} WHERE {current} AND l.{first} IS NULL"),
        ("bad-interval",
         f"SELECT {cols('v')}, v.{REVISION_ID} FROM {vt} v "
         f"WHERE v.{EXPIRED_ID} <= v.{REVISION_ID}"),
        ("gap",
         f"SELECT {cols('v')}, v.{REVISION_ID} FROM {vt} v LEFT JOIN {vt} f "
         f"ON {same('f', 'v')} AND f.{REVISION_ID} = v.{EXPIRED_ID} "
         f"WHERE v.{EXPIRED_ID} IS NOT NULL AND f.{REVISION_ID} IS NULL"),
        ("overlap",
         f"SELECT {cols('v')}, f.{REVISION_ID} FROM {vt} v JOIN {vt} f "
         f"ON {same('f', 'v')} AND f.{REVISION_ID} > v.{REVISION_ID} "
         f"AND (v.{EXPIRED_ID} IS NULL OR f.{REVISION_ID} < v.{EXPIRED_ID})"),
        ("head-mismatch",
         f"SELECT {cols('l')}, v.{REVISION_ID} FROM {live} l JOIN {vt} v "
         f"ON {same('l', 'v')} AND {current} WHERE {differs}"),
        ("missing-revision",
         f"SELECT {cols('v')}, v.{REVISION_ID} FROM {vt} v LEFT JOIN {REVISION_TABLE} r "
         f"ON r.id = v.{REVISION_ID} WHERE r.id IS NULL "
         f"UNION ALL SELECT {cols('v')}, v.{EXPIRED_ID} FROM {vt} v "
         f"LEFT JOIN {REVISION_TABLE} r ON r.id = v.{EXPIRED_ID} "
         f"WHERE v.{EXPIRED_ID} IS NOT NULL AND r.id IS NULL"),
    ]


def verify_tables(sql: Sql, tables: Iterable[CheckedTable]) -> list[Violation]:
    """Every violation of the history invariants in ``tables``, table by table."""
    found: list[Violation] = []
    for t in tables:
        n = len(t.tables.key_columns)
        for kind, query in history_checks(sql.dialect, t):
            for row in sql.rows(query):
                key = tuple(row[:n])
                found.append(violation(kind, t.name, key, row[n], t.describe(key)))
    return found


def link_violations(sql: Sql, links: CheckedLinks) -> list[Violation]:
    """Owners with two active links to one target (or map key) at some revision."""
    o, k = len(links.owner_columns), len(links.key_columns)
    same = " AND ".join(f"a.{c} = b.{c}" for c in (*links.owner_columns,
                                                     *links.identity_columns))
    a_key = [f"a.{c}" for c in links.key_columns]
    b_key = [f"b.{c}" for c in links.key_columns]
    first = (f"{a_key[0]} < {b_key[0]}" if k == 1
             else f"({', '.join(a_key)}) < ({', '.join(b_key)})")
    delete = int(Operation.DELETE)
    rows = sql.rows(
        f"SELECT {', '.join(f'a.{c}' for c in links.owner_columns)}, "
        f"{', '.join(a_key)}, {', '.join(b_key)}, a.{REVISION_ID}, b.{REVISION_ID} "
        f"FROM {links.version_table} a JOIN {links.version_table} b ON {same} AND {first} "
        f"AND a.{STATE} = :active AND b.{STATE} = :active "
        f"AND a.{OPERATION_TYPE} <> {delete} AND b.{OPERATION_TYPE} <> {delete} "
        f"AND (b.{EXPIRED_ID} IS NULL OR a.{REVISION_ID} < b.{EXPIRED_ID}) "
        f"AND (a.{EXPIRED_ID} IS NULL OR b.{REVISION_ID} < a.{EXPIRED_ID})",
        {"active": State.ACTIVE.value})
    return duplicate_links(
        [(tuple(r[:o]), tuple(r[o:o + k]), tuple(r[o + k:o + 2 * k]), r[-2], r[-1])
         for r in rows],
        links.describe_owner, links.describe_link, links.owner_table, links.link_name,
        links.keyed)


def verify_history_of(sql: Sql, tables: Sequence[CheckedTable],
                      links: Iterable[CheckedLinks]) -> list[Violation]:
    """The violations of ``tables`` (every check), then of their link collections."""
    found = verify_tables(sql, tables)
    for spec in links:
        found.extend(link_violations(sql, spec))
    return found


def verify_history(connection: Any, versionings: Iterable[Any]) -> list[Violation]:
    """Every violation of the history invariants in these tables.

    ``connection`` is what the backend reads through (a SQLAlchemy
    connection or session, an SQLObject connection or vdm session);
    ``versionings`` the per-class records of the tables to check (on
    SQLAlchemy also versioned association tables and reflected histories).
    """
    return backend_of(connection).verify(connection, versionings)


def check_links(connection: Any, spec: Any) -> list[Violation]:
    """Owners with two active links to one target (or map key) at some revision,
    in the link collection ``spec`` describes."""
    return backend_of(connection).link_check(connection, spec)


__all__ = [
    "CheckedLinks",
    "CheckedTable",
    "as_text",
    "check_links",
    "history_checks",
    "is_distinct",
    "link_violations",
    "verify_history",
    "verify_history_of",
    "verify_tables",
]
