"""``verify()`` for SQLObject: the history invariants of :mod:`vdm.verifying`.

The checks are the core's; this module only describes each class's tables
and link collections (one-column keys, names as SQLObject writes them).
The public functions, ``verify_history`` and ``check_links``, are those of
:mod:`vdm.verifying`, which find these descriptions through the backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vdm import verifying
from vdm.sql import sql_of
from vdm.sqlobject.registry import Versioning
from vdm.verifying import CheckedLinks, CheckedTable, link_violations, verify_history_of
from vdm.versionwrite import versioned_table
from vdm.violations import Violation

# Importable from here, where they were defined before the core took them over.
verify_history, check_links = verifying.verify_history, verifying.check_links


def verify_classes(conn: Any, versionings: Iterable[Versioning]) -> list[Violation]:
    """:func:`verify_history` on an SQLObject connection or vdm session."""
    versionings = list(versionings)
    tables = [CheckedTable(v.table, versioned_table(v), tuple(v.live_columns),
                           _one_column(v.describe)) for v in versionings]
    links = [_link_columns(spec) for v in versionings for spec in v.links.values()]
    return verify_history_of(sql_of(conn), tables, links)


def check_link_class(conn: Any, spec: Any) -> list[Violation]:
    """:func:`check_links` on an SQLObject connection or vdm session."""
    return link_violations(sql_of(conn), _link_columns(spec))


def _link_columns(spec: Any) -> CheckedLinks:
    link, owner = spec.link, spec.owner
    ident = spec.column(spec.key_attr) if spec.key_attr is not None else spec.target_fk.column
    return CheckedLinks(
        owner_table=owner.table, link_name=link.name, version_table=link.version_table,
        owner_columns=(spec.owner_fk.column,), identity_columns=(ident,),
        key_columns=(link.id_name,), keyed=spec.key_attr is not None,
        describe_owner=_one_column(owner.describe), describe_link=_one_column(link.describe))


def _one_column(describe: Any) -> Any:
    # SQLObject keys are one column: its records describe the value, not a tuple.
    return lambda key: describe(key[0])


__all__ = ["check_link_class", "check_links", "verify_classes", "verify_history"]
