"""``verify()`` finds every fault of issue 7 §4, also where the existing
catalogue (test_repository.py::test_verify_finds_each_kind_of_broken_history)
does not look.

That test injects, on ``book``: a deleted current version (missing version),
expiries cleared (two current versions), an expiry moved forward (gap), a
tampered live title (HEAD differs), an expiry before the start (bad
interval), a version naming revision 9 (missing revision) and a removed live
row (orphan current).  Here: overlapping intervals, an *expiry* naming a
missing revision, a revision row removed under its versions, HEAD differing
in ``state`` or ``revision_id`` rather than a plain field, and the faults on
a table with a composite primary key (``edition``).  Each test also checks
that the violation says where: table, key and revision.
"""

import pytest
from models import Base, Book, Edition
from sqlalchemy import text

from vdm.sqlalchemy import Repository, Revision


@pytest.fixture
def repo(session, engine):
    """r1: books a, b and edition (a, 1); r2: a and the edition changed; r3: b deleted."""
    session.revision = Revision(author="t", message="r1")
    session.add_all([Book(name="a", title="A"), Book(name="b"),
                     Edition(book_name="a", number=1, pages=10)])
    session.commit()
    session.revision = Revision(author="t", message="r2")
    session.get(Book, 1).title = "A2"
    session.get(Edition, ("a", 1)).pages = 20
    session.commit()
    session.revision = Revision(author="t", message="r3")
    session.delete(session.get(Book, 2))
    session.commit()
    repo = Repository(Base.metadata, session)
    assert repo.verify() == []
    return repo


def inject(engine, *statements):
    with engine.begin() as conn:
        # Past the foreign keys, as a broken tool or a manual fix would.
        if engine.dialect.name in ("mysql", "mariadb"):
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        elif engine.dialect.name == "postgresql":
            conn.execute(text("SET session_replication_role = replica"))
        for statement in statements:
            conn.execute(text(statement))


def found(repo):
    repo.session.rollback()
    return {(v.kind, v.table, v.key, v.revision_id) for v in repo.verify()}


def test_overlapping_intervals(repo, engine):
    # a's first version now runs to revision 3, over its second (from 2).
    inject(engine, "UPDATE book_revision SET expired_id = 3 WHERE id = 1 AND revision_id = 1")
    assert ("overlap", "book", (1,), 2) in found(repo)


def test_an_expiry_naming_a_missing_revision(repo, engine):
    inject(engine, "UPDATE book_revision SET expired_id = 99 WHERE id = 1 AND revision_id = 1")
    assert ("missing-revision", "book", (1,), 99) in found(repo)


def test_a_revision_row_removed_under_its_versions(repo, engine):
    inject(engine, "DELETE FROM revision WHERE id = 2")
    kinds = found(repo)
    assert ("missing-revision", "book", (1,), 2) in kinds
    assert ("missing-revision", "edition", ("a", 1), 2) in kinds


@pytest.mark.parametrize("fault", [
    "UPDATE book SET state = 'deleted' WHERE id = 1",
    "UPDATE book SET revision_id = 1 WHERE id = 1",
    "UPDATE book SET text = 'added behind vdm''s back' WHERE id = 1",
], ids=["state", "revision_id", "null-to-value"])
def test_head_differing_from_the_latest_version(repo, engine, fault):
    inject(engine, fault)
    assert ("head-mismatch", "book", (1,), 2) in found(repo)


@pytest.mark.parametrize(("fault", "expected"), [
    ("DELETE FROM edition_revision WHERE revision_id = 2",
     ("missing-version", "edition", ("a", 1), 2)),
    ("UPDATE edition_revision SET expired_id = NULL",
     ("multiple-current", "edition", ("a", 1), 2)),
    ("UPDATE edition SET pages = 99",
     ("head-mismatch", "edition", ("a", 1), 2)),
    ("UPDATE edition_revision SET expired_id = 3 WHERE revision_id = 1",
     ("overlap", "edition", ("a", 1), 2)),
    ("UPDATE edition_revision SET revision_id = 7 WHERE revision_id = 2",
     ("missing-revision", "edition", ("a", 1), 7)),
], ids=["missing-version", "multiple-current", "head-mismatch", "overlap", "missing-revision"])
def test_faults_on_a_composite_key_table(repo, engine, fault, expected):
    inject(engine, fault)
    assert expected in found(repo)


def test_every_violation_has_a_sentence_naming_the_object(repo, engine):
    inject(engine, "UPDATE book_revision SET expired_id = 3 WHERE id = 1 AND revision_id = 1",
           "UPDATE edition SET pages = 99")
    repo.session.rollback()
    texts = {v.kind: str(v) for v in repo.verify()}
    assert "Book(id=1)" in texts["overlap"]
    assert "Edition(book_name='a', number=1) differs from its current version" in texts["head-mismatch"]
