"""``verify()``: the history invariants of :mod:`vdm.verifying`, on mapped tables.

The checks are the core's; this module only describes the tables -- mapped
classes, versioned association tables and reflected tables alike -- in the
names the database uses, quoted the way SQLAlchemy quotes them, and adds the
check only native versioning needs (a missing or stale trigger).
:func:`verify_history` and :func:`check_links` are the core's
(:mod:`vdm.verifying`), which call these descriptions through the backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import IdentifierPreparer

from vdm.sql import sql_of
from vdm.sqlalchemy import native
from vdm.sqlalchemy.mapping import Versioning
from vdm.sqlalchemy.writer import versioned_table
from vdm.verifying import (
    CheckedLinks,
    CheckedTable,
    check_links,
    link_violations,
    verify_history,
    verify_history_of,
)
from vdm.violations import Violation

__all__ = ["Violation", "check_links", "check_mapped_links", "verify_history", "verify_mapped"]


def verify_mapped(source: Connection | Session, versionings: Iterable[Versioning]
                  ) -> list[Violation]:
    """:func:`verify_history` on a SQLAlchemy connection, or on a session's
    (what it has pending is not flushed first)."""
    if isinstance(source, Connection):
        return _verify_connection(source, versionings)
    with source.no_autoflush:
        return _verify_connection(source.connection(), versionings)


def _verify_connection(connection: Connection, versionings: Iterable[Versioning]
                       ) -> list[Violation]:
    versionings = list(versionings)
    names = connection.dialect.identifier_preparer
    # Reflected tables and association tables have no link collections.
    links = [_mapped_links(spec, names) for v in versionings
             for spec in getattr(v, "links", {}).values()]
    found = verify_history_of(sql_of(connection),
                              [_checked_table(v, connection.dialect) for v in versionings],
                              links)
    # Native versioning: a table whose trigger is missing or stale.
    for metadata in {id(v.table.metadata): v.table.metadata for v in versionings
                     if native.is_native(v.table)}.values():
        found.extend(native.problems(connection, metadata))
    return found


def check_mapped_links(connection: Connection, spec: Any) -> list[Violation]:
    """:func:`check_links` on a SQLAlchemy connection."""
    names = connection.dialect.identifier_preparer
    return link_violations(sql_of(connection), _mapped_links(spec, names))


def _checked_table(v: Versioning, dialect: Dialect) -> CheckedTable:
    live, vt = v.table, v.version_table
    names = dialect.identifier_preparer
    # A reflected live table may hold a column its version table lacks.
    compared = tuple(names.quote(c.name) for c in live.c if c.key in vt.c)
    return CheckedTable(live.name, versioned_table(dialect, v), compared, v.describe)


def _mapped_links(spec: Any, names: IdentifierPreparer) -> CheckedLinks:
    owner, link = spec.owner, spec.link
    vt = link.version_table
    by_owner = dict(spec.owner_pairs)
    return CheckedLinks(
        owner_table=owner.table.name, link_name=link.name, version_table=names.format_table(vt),
        owner_columns=tuple(names.quote(vt.c[by_owner[n]].name) for n in owner.key_names),
        identity_columns=tuple(names.quote(vt.c[c.key].name) for c in spec.identity_columns()),
        key_columns=tuple(names.quote(vt.c[n].name) for n in link.key_names),
        keyed=spec.key_attr is not None,
        describe_owner=owner.describe, describe_link=link.describe)
