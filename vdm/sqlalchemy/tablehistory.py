"""Change inspection on reflected tables: a revision's changes, diffs, blame.

The same questions as :mod:`vdm.sqlalchemy.inspection` answers for mapped
classes, asked of a :class:`~vdm.sqlalchemy.reflection.ReflectedModel`, so
that they work on any vdm database without its Python model (the ``vdm``
command line uses them)::

    model = ReflectedModel(connection)
    row_changes(model, 2)            # [RowChange(table, key, kind, fields)]
    diff_tables(model, 1, 3)         # [TableDiff(table, added, removed, changed)]
    blame_row(model, model.history("book"), (1,))   # RowBlame: field -> revision

The reading is the core's (:mod:`vdm.tablereading`) and so are the
results (:mod:`vdm.changes`), whose ``as_dict()`` is ready for JSON; these
only check the revisions asked about and hand over the reflected tables.
"""

from __future__ import annotations

from typing import Any

from vdm import tablereading
from vdm.changes import FieldBlame, FieldChanges, Key, RowBlame, RowChange, TableDiff
from vdm.sqlalchemy.reflection import ReflectedHistory, ReflectedModel

__all__ = [
    "FieldBlame",
    "FieldChanges",
    "RowBlame",
    "RowChange",
    "TableDiff",
    "blame_row",
    "diff_tables",
    "row_changes",
    "rows_as_of",
]


def row_changes(model: ReflectedModel, revision_id: int) -> list[RowChange]:
    """Every row ``revision_id`` changed, by table and key: two queries per table.

    Raises :class:`vdm.RevisionNotFoundError` for an unknown revision.
    """
    model.revision(revision_id)
    return tablereading.row_changes(model.sql, [h.reading for h in model.histories],
                                    revision_id)


def rows_as_of(model: ReflectedModel, history: ReflectedHistory,
               revision_id: int) -> dict[Key, dict[str, Any]]:
    """Every row of ``history``'s table as of ``revision_id``: one query."""
    return tablereading.rows_as_of(model.sql, history.reading, revision_id)


def diff_tables(model: ReflectedModel, a: int, b: int) -> list[TableDiff]:
    """How each table differs from revision ``a`` to ``b`` (unchanged ones left out).

    Raises :class:`vdm.RevisionNotFoundError` for an unknown revision.
    """
    model.revisions_by_id([a, b])
    return tablereading.diff_tables(model.sql, [h.reading for h in model.histories], a, b)


def blame_row(model: ReflectedModel, history: ReflectedHistory, key: Key) -> RowBlame:
    """Blame of the row ``key`` of ``history``'s table: two queries.

    Raises :class:`vdm.UnknownRowError` when the table never held that key.
    """
    return tablereading.blame_row(model.sql, model.revision_reading, history.reading, key)
