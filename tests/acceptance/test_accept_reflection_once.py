"""The command line's reader of history is the core's, whichever backend wrote it.

``vdm show``, ``diff`` and ``blame`` read any vdm database by reflection,
through :mod:`vdm.tablereading`; the backends' own change inspection reads
their objects through :mod:`vdm.inspecting`.  Both classify with
:mod:`vdm.changes`, so on a history written by either backend they agree,
and the core reader works as well from a backend's own table records.
"""

from __future__ import annotations

from typing import Any

from vdm import tablereading
from vdm.changes import RowChange
from vdm.sql import sql_of
from vdm.sqlalchemy.reflection import ReflectedModel
from vdm.tablereading import VersionTable

from .harness import Harness
from .test_accept_inspection_once import five_revisions


def _plain(changes: list[RowChange]) -> list[tuple[str, tuple[Any, ...], str, dict[str, Any]]]:
    return sorted((c.table, tuple(c.key), c.kind, dict(c.fields)) for c in changes)


def test_the_reflection_reader_agrees_with_the_backend(story: Harness) -> None:
    wp, ak = five_revisions(story)
    wp_key = (1,)
    backend_says = {
        r: _plain([c for c in story.repository().changes(r).objects if not c.is_link])
        for r in range(1, 6)
    }
    with story.engine.connect() as connection:
        model = ReflectedModel(connection)
        for revision_id, expected in backend_says.items():
            assert _plain(model.row_changes(revision_id)) == expected
        diff = {d.table: d for d in model.diff_tables(1, 2)}
        assert list(diff) == ["book"]
        assert diff["book"].changed == {wp_key: {"title": ("War", "War and Peace")}}
        blame = model.blame_row(model.history("book"), wp_key)
        assert blame.destroyed_by is not None and blame.destroyed_by.id == 5
        assert {f.name: f.revision.id for f in blame.fields}["title"] == 2


def test_the_core_reader_reads_from_a_backend_s_table_records(story: Harness) -> None:
    wp, ak = five_revisions(story)
    book = type(ak).__versioning__.tables_record
    license_ = type(story.find("License", name="GPL")).__versioning__.tables_record
    tables = [VersionTable.of(book), VersionTable.of(license_)]
    with story.engine.connect() as connection:
        reflected = ReflectedModel(connection)
        for revision_id in range(1, 6):
            from_records = tablereading.row_changes(sql_of(connection), tables, revision_id)
            assert [(c.table, c.key, c.kind) for c in from_records] == [
                (c.table, c.key, c.kind) for c in reflected.row_changes(revision_id)
                if c.table in ("book", "license")]
