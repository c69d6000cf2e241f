"""The purge budget: checking that a purge leaves no dangling reference
reads a constant number of statements, however many objects the purged
revision created.  Statements are counted as in tests/test_statements.py.
"""

from __future__ import annotations

import re

import pytest
from models import Base, Book, License
from sqlalchemy import func, select
from test_statements import StatementLog

from vdm import IntegrityViolation
from vdm.sqlalchemy import Repository, Revision

LICENSES = 60

#: The dangling-reference check of book versions referring to a license.
BOOK_CHECK = re.compile(r"FROM \W?book_revision\W? WHERE .* LIMIT 1")


def import_licenses(session):
    """Revision 1 imports LICENSES licenses; returns them."""
    session.revision = Revision(author="importer", message="licenses")
    licenses = [License(name=f"l{i}") for i in range(LICENSES)]
    session.add_all(licenses)
    session.commit()
    return licenses


def test_purging_a_bulk_import_checks_references_in_one_statement(engine, session):
    # A catalogue imports 60 licenses by mistake, then adds a book that uses
    # none of them; purging the import checks every license for books
    # referring to it, in one statement rather than one per license.
    import_licenses(session)
    session.revision = Revision(author="editor", message="a book")
    session.add(Book(name="b"))
    session.commit()
    repo = Repository(Base.metadata, session)

    with StatementLog(engine) as log:
        repo.purge_revision(1)

    assert len([s for s in log.statements if BOOK_CHECK.search(s)]) == 1
    assert session.scalar(select(func.count()).select_from(License)) == 0
    assert session.scalars(select(Book.name)).all() == ["b"]
    assert repo.verify() == []


def test_purging_an_import_later_books_use_is_refused_and_leaves_all(engine, session):
    licenses = import_licenses(session)
    session.revision = Revision(author="editor", message="books")
    session.add_all([Book(name=f"b{i}", license=lic) for i, lic in enumerate(licenses)])
    session.commit()
    repo = Repository(Base.metadata, session)

    with StatementLog(engine) as log, pytest.raises(IntegrityViolation) as caught:
        repo.purge_revision(1)

    assert re.fullmatch(
        r"cannot purge revision 1: it created License\(id=\d+\), which Book\(id=\d+\) "
        r"refers to in revision 2; purge that revision first", str(caught.value))
    assert len([s for s in log.statements if BOOK_CHECK.search(s)]) == 1
    session.rollback()
    assert session.scalar(select(func.count()).select_from(License)) == LICENSES
    assert session.scalar(select(func.count()).select_from(Book)) == LICENSES
    assert repo.verify() == []
