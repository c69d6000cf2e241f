"""The core's SQL runs inside the caller's own transaction, on both backends.

A user who has changed a book but not committed asks vdm about history:
the core's SQL (:mod:`vdm.sql`) sees the flushed change, binds values of
every kind, reports how many rows a write changed, and rolls back with the
user's transaction.
"""

from __future__ import annotations

import datetime as dt

import pytest

from vdm.errors import InvalidInputError
from vdm.sql import Sql, scalar, sql_of


def test_the_core_reads_what_the_unit_of_work_has_flushed(story) -> None:
    story.begin("add a book")
    story.create("Book", name="dune", title="Dune")
    story.flush()
    sql = sql_of(story.session)
    assert isinstance(sql, Sql)
    assert sql.dialect == {"sqlite": "sqlite", "postgresql": "postgresql",
                           "mysql": "mysql", "mariadb": "mysql"}[story.engine.dialect.name]
    table = story.table_of("Book")
    assert sql.rows(f"SELECT title FROM {table} WHERE title = :t", {"t": "Dune"}) == [("Dune",)]
    story.rollback()
    assert scalar(sql_of(story.session), f"SELECT COUNT(*) FROM {table}") == 0


def test_values_of_every_kind_bind_and_quotes_stay_data(story) -> None:
    sql = sql_of(story.session)
    when = dt.datetime(2026, 12, 2, 6, 30, 1, 250000)
    row = sql.rows("SELECT :a, :b, :c", {"a": "it's :b", "b": 7, "c": None})
    assert row == [("it's :b", 7, None)]
    assert scalar(sql, "SELECT COUNT(*) FROM revision WHERE timestamp <= :w", {"w": when}) == 0


def test_a_write_reports_the_rows_it_changed_and_rolls_back(story) -> None:
    story.revise("two books", lambda: (story.create("Book", name="a", title="A"),
                                       story.create("Book", name="b", title="B")))
    table = story.table_of("Book")
    sql = sql_of(story.session)
    assert sql.execute(f"UPDATE {table} SET title = :t WHERE title IN ('A', 'B')",
                       {"t": "C"}) == 2
    story.rollback()
    assert sorted(r[0] for r in story.rows(f"SELECT title FROM {table}")) == ["A", "B"]


def test_an_object_that_is_no_source_is_refused_by_name() -> None:
    with pytest.raises(InvalidInputError, match="vdm cannot read history through int; pass a session"):
        sql_of(3)
