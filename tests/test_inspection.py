"""Whole-model inspection, restore and undo with two declarative bases in one process
(SQLAlchemy only; the catalogue editor's stories are in tests/acceptance/test_accept_catalogue.py)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from vdm.sqlalchemy import (
    Revision,
    changes_in,
    diff_model,
    restore_model,
    undo_revision,
)


def test_whole_model_operations_cover_the_classes_of_the_sessions_database(engine):
    # Two declarative bases in one process: the catalogue's (LinkBase) and a
    # library's (models.Base), each in its own database; only the library's
    # tables exist here.  Without a class list, every whole-model operation
    # works on the library's classes and never touches the catalogue's.
    import models

    models.Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.revision = Revision(author="librarian", message="r1")
        book = models.Book(name="b", title="one")
        session.add(book)
        session.commit()
        session.revision = Revision(author="librarian", message="r2")
        book.title = "two"
        session.add(models.License(name="gpl"))
        session.commit()
        changed = changes_in(session, 2)
        assert sorted((c.class_name, c.kind) for c in changed.objects) == [
            ("Book", "updated"), ("License", "created")]
        assert set(diff_model(session, 1, 2).classes) == {"Book", "License"}
        session.revision = Revision(author="librarian", message="r3: undo r2")
        undo_revision(session, 2)
        session.commit()
        assert book.title == "one"
        session.revision = Revision(author="librarian", message="r4: back to r2")
        restore_model(session, 2)
        session.commit()
        assert book.title == "two"
        assert [r.name for r in session.scalars(select(models.License))] == ["gpl"]
