"""A revision's life on the write path is the core's, the same on both backends.

Taking a revision id, provisional or final, writing the revision row and
the final step of a commit are SQL over the seam (:mod:`vdm.revisionlife`),
run in the caller's own transaction: what one backend's session does, the
other's does too, on every database.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from vdm.errors import ConflictError
from vdm.revisionlife import (
    allocate_provisional_revision,
    allocate_revision,
    finalise_revision,
    store_revision_metadata,
)
from vdm.revisions import PROVISIONAL_IDS_FROM, is_provisional, revision_metadata
from vdm.sql import scalar, sql_of
from vdm.stalewrites import UNKNOWN, check_unchanged, locked_revisions


def _revision(**metadata: object) -> SimpleNamespace:
    fields = {"author": "me", "message": "m", "state": "active", "extra": None, **metadata}
    return SimpleNamespace(id=None, timestamp=None, **fields)


def _book_revision(story) -> int:
    story.revise("a book", lambda: story.create("Book", name="dune", title="Dune"))
    return int(story.revisions()[-1][0])


def test_a_provisional_revision_takes_the_next_id_in_the_final_step(story) -> None:
    last = _book_revision(story)
    story.begin("unused")
    sql = sql_of(story.session)
    revision = _revision(extra={"request": 7})
    allocate_provisional_revision(sql, revision)
    assert is_provisional(revision.id) and revision.timestamp is None
    finalise_revision(sql, revision, {})
    assert revision.id == last + 1
    assert isinstance(revision.timestamp, dt.datetime)
    assert sql.rows("SELECT author, message, state, extra FROM revision WHERE id = :id",
                    {"id": revision.id}) == [("me", "m", "active", '{"request": 7}')]
    assert scalar(sql, f"SELECT COUNT(*) FROM revision WHERE id >= {PROVISIONAL_IDS_FROM}") == 0
    story.rollback()
    assert story.rows("SELECT MAX(id) FROM revision") == [(last,)]


def test_a_sequence_row_a_migration_left_out_starts_after_the_last_revision(story) -> None:
    last = _book_revision(story)
    story.begin("unused")
    sql = sql_of(story.session)
    sql.execute("DELETE FROM revision_sequence")
    revision = _revision()
    allocate_revision(sql, revision)
    assert revision.id == last + 1
    assert scalar(sql, "SELECT last_id FROM revision_sequence WHERE id = 1") == last + 1
    story.rollback()


def test_metadata_changed_after_the_first_write_is_stored_once(story) -> None:
    story.begin("unused")
    sql = sql_of(story.session)
    revision = _revision()
    allocate_revision(sql, revision)
    stored = revision_metadata(revision)
    revision.message, revision.extra = "why, at last", {"b": 2, "a": 1}
    assert store_revision_metadata(sql, revision, stored)["message"] == "why, at last"
    assert sql.rows("SELECT message, extra FROM revision WHERE id = :id", {"id": revision.id}) == [
        ("why, at last", '{"a": 1, "b": 2}')]
    story.rollback()


def test_the_stale_check_reads_and_compares_the_same_on_both_backends(story) -> None:
    last = _book_revision(story)
    table = story.table_of("Book")
    key = story.rows(f"SELECT id FROM {table}")[0]
    story.begin("check")
    found = locked_revisions(sql_of(story.session), table, ("id",), [key])
    assert found == {key: last}
    check_unchanged({key: ("book", last)}, found, str, "read it again")
    check_unchanged({key: ("book", UNKNOWN)}, found, str, "read it again")
    with pytest.raises(ConflictError) as stale:
        check_unchanged({key: ("book", last - 1)}, found, lambda k: f"Book{k}", "read it again")
    assert str(stale.value) == (
        f"Book{key} was changed by revision {last} after this session read it "
        f"(at revision {last - 1}); read it again and apply your change again")
    assert (stale.value.obj, stale.value.revision) == ("book", last)
    with pytest.raises(ConflictError, match="was deleted by another transaction"):
        check_unchanged({(key[0] + 1,): ("gone", last)}, found, str, "read it again")
    story.rollback()
