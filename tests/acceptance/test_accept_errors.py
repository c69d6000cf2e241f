"""The same mistake gets the same error on both backends.

A user who moves from one backend to the other (or reads the docs of one
and codes against the other) catches the same exception class, finds the
same data on it, and reads the same advice.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from vdm import (
    InvalidInputError,
    NotVersionedError,
    RevisionInUseError,
    RevisionNotFoundError,
    UnknownFieldError,
    VdmError,
)

from .harness import Harness


def backend_module(harness: Harness) -> Any:
    return importlib.import_module(f"vdm.{harness.backend}")


def publisher(harness: Harness) -> Any:
    """An unversioned Publisher, committed in its own transaction."""
    if harness.backend == "sqlalchemy":
        import models

        obj = models.Publisher(name="Penguin")
        harness.session.add(obj)  # type: ignore[attr-defined]
        harness.session.commit()  # type: ignore[attr-defined]
        return obj
    import sqlobject_models

    obj = sqlobject_models.Publisher(name="Penguin", connection=harness.session.transaction)  # type: ignore[attr-defined]
    harness.session.commit()  # type: ignore[attr-defined]
    return obj


def test_restoring_an_unversioned_object_is_refused_with_not_versioned(story: Harness) -> None:
    story.revise("a book", lambda: story.create("Book", name="wp", title="War"))
    penguin = publisher(story)
    with pytest.raises(NotVersionedError) as caught:
        backend_module(story).restore_object(story.session, penguin, 1)  # type: ignore[attr-defined]
    error = caught.value
    assert isinstance(error, TypeError) and isinstance(error, VdmError)
    assert str(error) == ("Publisher is not versioned; restore objects (or versions) "
                          "of versioned classes")
    assert error.obj is penguin and error.cls is type(penguin)


def test_viewing_an_unversioned_class_as_of_a_revision_is_refused(story: Harness) -> None:
    story.revise("a book", lambda: story.create("Book", name="wp", title="War"))
    penguin = publisher(story)
    view = story.repository().as_of(1)
    with pytest.raises(NotVersionedError) as caught:
        view.get(type(penguin), 1)
    assert str(caught.value) == "Publisher is not versioned; it has no past to view"
    assert caught.value.cls is type(penguin)


@pytest.mark.parametrize("how", ["kept object", "read back"])
def test_a_committed_revision_cannot_carry_a_second_transaction(story: Harness,
                                                                how: str) -> None:
    first = story.begin("first")
    book = story.create("Book", name="wp", title="War")
    story.commit()
    if how == "read back":
        first = story.repository().get_revision(1)
    story.session.revision = first  # type: ignore[attr-defined]
    with pytest.raises(RevisionInUseError) as caught:
        story.update(book, title="War and Peace")
        story.commit()
    assert type(caught.value) is RevisionInUseError and isinstance(caught.value, RuntimeError)
    assert "<Revision id=1" in str(caught.value)
    assert "is already written; a revision covers one transaction" in str(caught.value)
    assert "create a new Revision for these changes" in str(caught.value)
    story.rollback()
    assert story.rows("SELECT title, revision_id FROM book") == [("War", 1)]


def test_the_history_of_an_unknown_field_names_the_field(story: Harness) -> None:
    story.revise("a book", lambda: story.create("Book", name="wp", title="War"))
    book = story.find("Book", name="wp")
    with pytest.raises(UnknownFieldError) as caught:
        backend_module(story).field_history(book, "nope")
    error = caught.value
    assert isinstance(error, LookupError)
    assert error.field == "nope"
    assert str(error).startswith("Book has no versioned field 'nope'; choose one of ")


def test_a_version_names_its_object_by_a_key_tuple_and_reads_a_key_column(links: Harness) -> None:
    # A map link class has a column called ``key``: on a version it must
    # read as that column, on both backends, while ``object_key`` is the
    # primary key as a tuple on both.
    links.begin("extras")
    package = links.create("Package", name="p")
    package.extras["color"] = "red"
    links.commit()
    extra = links.find("PackageExtra", key="color")
    version = extra.versions[0]
    assert version.key == "color" and version.value == "red"
    assert version.object_key == (extra.id,)
    assert package.versions[0].object_key == (package.id,)


@pytest.mark.parametrize(("values", "error", "message"), [
    ({"author": 42}, TypeError, "Revision author must be a str, not int"),
    ({"author": ["me"]}, TypeError, "Revision author must be a str, not list"),
    ({"message": b"x"}, TypeError, "Revision message must be a str, not bytes"),
    ({"message": 3.5}, TypeError, "Revision message must be a str, not float"),
    ({"author": "a" * 201}, ValueError, "Revision author is 201 characters long"),
    ({"state": "gone"}, ValueError, "'gone' is not a vdm state"),
])
def test_revision_metadata_of_the_wrong_type_is_refused_alike(
        story: Harness, values: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        backend_module(story).Revision(**values)
    assert isinstance(caught.value, VdmError) and isinstance(caught.value, InvalidInputError)
    assert story.rows("SELECT COUNT(*) FROM revision") == [(0,)]


def test_a_session_revision_that_is_not_a_revision_is_refused(story: Harness) -> None:
    with pytest.raises(TypeError) as caught:
        story.session.revision = "me"  # type: ignore[attr-defined]
        story.create("License", name="x")
        story.flush()
    assert str(caught.value) == (f"session.revision must be a vdm.{story.backend}.Revision, "
                                 f"not str")
    assert isinstance(caught.value, VdmError), "every error vdm raises derives from VdmError"
    story.rollback()
    assert story.rows("SELECT COUNT(*) FROM license") == [(0,)]


@pytest.fixture
def foreign_revision(backend: str, tmp_path: Any, opened: list[Harness]) -> Any:
    """Revision 7 of another (SQLite) database, written by the same backend."""
    from databases import Database
    from sqlalchemy import create_engine

    from .conftest import _open

    url = f"sqlite:///{tmp_path / 'other.db'}"
    engine = create_engine(url)
    try:
        elsewhere = _open(backend, Database("sqlite", url), engine, "story")
        for n in range(7):
            elsewhere.revise(f"other {n}", lambda n=n: elsewhere.create("Book", name=f"other{n}"))
        revision = elsewhere.repository().get_revision(7)
        assert revision.id == 7
        elsewhere.close()
    finally:
        engine.dispose()
    return revision


@pytest.mark.parametrize("use", ["writing", "reading"])
def test_a_revision_from_another_database_is_refused(story: Harness, foreign_revision: Any,
                                                     use: str) -> None:
    story.revise("a book", lambda: story.create("Book", name="wp", title="War"))
    book = story.find("Book", name="wp")
    if use == "writing":
        story.session.revision = foreign_revision  # type: ignore[attr-defined]
        with pytest.raises(RevisionInUseError) as caught:
            story.update(book, title="foreign revision")
            story.commit()
        assert type(caught.value) is RevisionInUseError
        assert "<Revision id=7" in str(caught.value)
        assert "create a new Revision" in str(caught.value)
        story.rollback()
    else:
        # Revision 7 exists only in the other database: reading this one as
        # of it must not show this database's latest state.
        view = backend_module(story).as_of(story.session, foreign_revision)  # type: ignore[attr-defined]
        with pytest.raises(RevisionNotFoundError, match="there is no revision with id 7"):
            view.get(type(book), book.id)
        with pytest.raises(RevisionNotFoundError):
            view.all(type(book))
    assert story.rows("SELECT title, revision_id FROM book") == [("War", 1)]
    assert story.history() == ["a book"]
