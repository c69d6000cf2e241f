"""Where the two backends once drifted apart, they now behave the same.

Each story is a mistake or a call a user moving between the backends would
make; both answer with the same outcome, error class, data and message.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
from typing import Any

import pytest

from vdm import ConfigurationError, NotVersionedError

from .harness import Harness


def backend_module(harness: Harness) -> Any:
    return importlib.import_module(f"vdm.{harness.backend}")


@pytest.mark.parametrize("name", ["name", "tags", "versions"])
def test_a_link_collection_may_not_replace_an_attribute_of_its_owner(
        links: Harness, name: str) -> None:
    package, link = links.classes["Package"], links.classes["PackageTag"]  # type: ignore[attr-defined]
    before = getattr(package, name)
    with pytest.raises(ConfigurationError) as caught:
        backend_module(links).add_stateful_versioned_m2m(
            package, link, name, "tag", "package_tags")
    error = caught.value
    assert isinstance(error, TypeError)
    assert str(error) == (f"Package.{name} is already defined; choose another name "
                          f"for the versioned link collection")
    assert error.cls is package and error.field == name
    assert getattr(package, name) == before


@pytest.mark.parametrize("name", ["name", "extras"])
def test_a_link_map_may_not_replace_an_attribute_of_its_owner(links: Harness, name: str) -> None:
    package, link = links.classes["Package"], links.classes["PackageExtra"]  # type: ignore[attr-defined]
    before = getattr(package, name)
    with pytest.raises(ConfigurationError) as caught:
        backend_module(links).add_stateful_versioned_dict(
            package, link, name, "key", "value", "package_extras")
    error = caught.value
    assert str(error) == (f"Package.{name} is already defined; choose another name "
                          f"for the versioned link collection")
    assert error.cls is package and error.field == name
    assert getattr(package, name) == before


@pytest.mark.parametrize(("other", "position"), [("label", None), ("tag", "rank")])
def test_a_link_attribute_the_link_class_lacks_is_refused_alike(
        links: Harness, other: str, position: str | None) -> None:
    package, link = links.classes["Package"], links.classes["PackageTag"]  # type: ignore[attr-defined]
    missing = position or other
    with pytest.raises(ConfigurationError) as caught:
        backend_module(links).add_stateful_versioned_m2m(
            package, link, "labels", other, "package_labels", position_attr=position)
    error = caught.value
    assert str(error) == f"PackageTag has no attribute {missing!r}"
    assert error.cls is link and error.field == missing
    assert not hasattr(package, "labels") and not hasattr(package, "package_labels")


def test_a_map_attribute_the_link_class_lacks_is_refused_alike(links: Harness) -> None:
    package, link = links.classes["Package"], links.classes["PackageExtra"]  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError) as caught:
        backend_module(links).add_stateful_versioned_dict(
            package, link, "notes", "key", "text", "package_notes")
    error = caught.value
    assert str(error) == "PackageExtra has no attribute 'text'"
    assert error.cls is link and error.field == "text"
    assert not hasattr(package, "notes")


def test_an_owner_key_that_names_no_foreign_key_to_the_owner_is_refused_alike(
        links: Harness) -> None:
    package, link = links.classes["Package"], links.classes["PackageTag"]  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError) as caught:
        backend_module(links).add_stateful_versioned_m2m(
            package, link, "labels", "tag", "package_labels", owner_key="tag_id")
    error = caught.value
    assert str(error) == (
        "PackageTag: owner_key='tag_id' is not a foreign key to Package's table "
        "'package'; name the link column(s) holding the owner's key (one of 'package_id')")
    assert error.cls is link
    assert not hasattr(package, "labels") and not hasattr(package, "package_labels")


def test_an_owner_key_naming_the_owners_foreign_key_is_honoured_alike(links: Harness) -> None:
    package_cls, link = links.classes["Package"], links.classes["PackageTag"]  # type: ignore[attr-defined]
    backend_module(links).add_stateful_versioned_m2m(
        package_cls, link, "labels", "tag", "package_tags", owner_key="package_id")
    try:
        links.begin("r1")
        package = links.create("Package", name="pkg")
        package.tags = [links.create("Tag", name="a"), links.create("Tag", name="b")]
        links.commit()
        assert [tag.name for tag in package.labels] == ["a", "b"]
        assert [tag.name for tag in package.get_as_of(1).labels] == ["a", "b"]
    finally:
        del package_cls.__versioning__.links["labels"]
        for name in ("labels", "labels_active", "labels_deleted"):
            delattr(package_cls, name)


@pytest.mark.parametrize("method", ["new_revision", "restore", "undo", "purge", "purge_revision", "revision"])
def test_the_repositories_take_the_same_arguments(story: Harness, method: str) -> None:
    import vdm.sqlalchemy
    import vdm.sqlobject

    def parameters(cls: type) -> list[tuple[str, Any]]:
        signature = inspect.signature(getattr(cls, method))
        return [(p.name, p.default) for p in signature.parameters.values()]

    assert parameters(vdm.sqlalchemy.Repository) == parameters(vdm.sqlobject.Repository)


def test_restore_takes_the_revision_first_and_the_session_by_name(story: Harness) -> None:
    story.revise("war", lambda: story.create("Book", name="wp", title="War"))
    book = story.find("Book", name="wp")
    story.revise("peace", lambda: story.update(book, title="Peace"))
    story.begin("back to r1")
    story.repository().restore(1, session=story.session)  # type: ignore[attr-defined]
    story.commit()
    assert story.rows("SELECT title FROM book") == [("War",)]
    story.begin("undo r3")
    story.repository().undo(3, session=story.session)  # type: ignore[attr-defined]
    story.commit()
    assert story.rows("SELECT title FROM book") == [("Peace",)]


def test_purge_commits_on_both_backends(story: Harness) -> None:
    story.revise("war", lambda: story.create("Book", name="wp", title="War"))
    book = story.find("Book", name="wp")
    story.repository().purge(book)
    # Read on a connection of its own: only committed work shows.
    assert story.rows("SELECT COUNT(*) FROM book") == [(0,)]
    assert story.rows("SELECT COUNT(*) FROM book_revision") == [(0,)]


def test_revision_scope_commits_one_revision_and_nested_blocks_join_it(story: Harness) -> None:
    revision_scope = backend_module(story).revision_scope
    with revision_scope(story.session, author="ann", message="two books") as outer:  # type: ignore[attr-defined]
        story.create("Book", name="a", title="A")
        with revision_scope(story.session, author="bob", message="inner") as inner:  # type: ignore[attr-defined]
            story.create("Book", name="b", title="B")
        assert inner is outer
        assert story.rows("SELECT COUNT(*) FROM book") == [(0,)]  # not committed yet
    assert story.rows("SELECT id, author, message FROM revision") == [(1, "ann", "two books")]
    assert story.rows("SELECT name, revision_id FROM book ORDER BY name") == [("a", 1), ("b", 1)]
    assert story.rows("SELECT name, revision_id FROM book_revision ORDER BY name") == [
        ("a", 1), ("b", 1)]
    assert story.session.revision is None  # type: ignore[attr-defined]


def test_revision_scope_rolls_back_on_an_error_and_works_as_a_decorator(story: Harness) -> None:
    revision_scope = backend_module(story).revision_scope

    @revision_scope(story.session, author="importer", message="nightly")  # type: ignore[attr-defined]
    def import_books(names: list[str]) -> None:
        for name in names:
            story.create("Book", name=name, title=name.upper())

    import_books(["a"])
    with pytest.raises(KeyError), revision_scope(story.session, author="ann"):  # type: ignore[attr-defined]
        story.create("Book", name="b", title="B")
        raise KeyError("b")
    import_books(["c"])
    assert story.rows("SELECT name FROM book ORDER BY name") == [("a",), ("c",)]
    assert story.rows("SELECT author, message FROM revision ORDER BY id") == [
        ("importer", "nightly"), ("importer", "nightly")]


def test_new_revision_starts_a_revision_on_the_session_and_returns_it(story: Harness) -> None:
    revision = story.repository().new_revision(  # type: ignore[attr-defined]
        author="ann", message="first", session=story.session)  # type: ignore[attr-defined]
    assert story.session.revision is revision  # type: ignore[attr-defined]
    story.create("Book", name="wp", title="War")
    story.commit()
    assert story.rows("SELECT id, author, message FROM revision") == [(1, "ann", "first")]
    assert story.session.revision is None  # type: ignore[attr-defined]


def test_restoring_an_unversioned_class_is_refused_alike(story: Harness) -> None:
    from .test_accept_errors import publisher

    story.revise("a book", lambda: story.create("Book", name="wp", title="War"))
    unversioned = type(publisher(story))
    with pytest.raises(NotVersionedError) as caught:
        backend_module(story).restore_object(story.session, unversioned, 1)  # type: ignore[attr-defined]
    error = caught.value
    assert isinstance(error, TypeError)
    assert str(error) == ("Publisher is not versioned; restore objects (or versions) "
                          "of versioned classes")
    assert error.cls is unversioned and error.obj is None


# -- link classes declared wrongly ----------------------------------------------

BOTH = ["sqlalchemy", "sqlobject"]
_registries = itertools.count()


def declare_catalogue(backend: str) -> dict[str, type]:
    """Shelves with labels and notes citing notes, declared afresh on ``backend``.

    ``Plain`` is not versioned, ``ShelfLabel`` not stateful, ``LabelOnly``
    has no foreign key to a shelf, and ``NoteLink`` two to ``Note``.  No
    table is created: declaring the links is refused first.
    """
    classes = _sqlalchemy_catalogue() if backend == "sqlalchemy" else _sqlobject_catalogue()
    return {cls.__name__: cls for cls in classes}


def _sqlalchemy_catalogue() -> list[type]:
    from sqlalchemy import ForeignKey, Integer
    from sqlalchemy.orm import DeclarativeBase, mapped_column, relationship

    from vdm.sqlalchemy import Revisioned, Stateful

    class Base(DeclarativeBase):
        pass

    class Plain(Base):
        __tablename__ = "plain"
        id = mapped_column(Integer, primary_key=True)

    class Shelf(Revisioned, Base):
        __tablename__ = "shelf"
        id = mapped_column(Integer, primary_key=True)

    class Label(Revisioned, Base):
        __tablename__ = "label"
        id = mapped_column(Integer, primary_key=True)

    class ShelfLabel(Revisioned, Base):
        __tablename__ = "shelf_label"
        id = mapped_column(Integer, primary_key=True)
        shelf_id = mapped_column(ForeignKey("shelf.id"))
        label_id = mapped_column(ForeignKey("label.id"))
        label = relationship(Label)

    class LabelOnly(Revisioned, Stateful, Base):
        __tablename__ = "label_only"
        id = mapped_column(Integer, primary_key=True)
        label_id = mapped_column(ForeignKey("label.id"))
        label = relationship(Label)

    class Note(Revisioned, Stateful, Base):
        __tablename__ = "note"
        id = mapped_column(Integer, primary_key=True)

    class NoteLink(Revisioned, Stateful, Base):
        __tablename__ = "note_link"
        id = mapped_column(Integer, primary_key=True)
        source_id = mapped_column(ForeignKey("note.id"))
        target_id = mapped_column(ForeignKey("note.id"))
        target = relationship(Note, foreign_keys=[target_id])

    return [Plain, Shelf, Label, ShelfLabel, LabelOnly, Note, NoteLink]


def _sqlobject_catalogue() -> list[type]:
    from sqlobject import ForeignKey, SQLObject, StringCol

    from vdm.sqlobject import Revisioned, Stateful

    # SQLObject keeps one class per name in a registry: a fresh one per call.
    fresh = f"vdm-accept-declarations-{next(_registries)}"

    def declare(cls_name: str, /, *mixins: type, **columns: Any) -> type:
        sqlmeta = type("sqlmeta", (), {"registry": fresh})
        return type(cls_name, (*mixins, SQLObject), {"sqlmeta": sqlmeta, **columns})

    return [
        declare("Plain", name=StringCol(length=10, default=None)),
        declare("Shelf", Revisioned, name=StringCol(length=10, default=None)),
        declare("Label", Revisioned, name=StringCol(length=10, default=None)),
        declare("ShelfLabel", Revisioned, shelf=ForeignKey("Shelf"), label=ForeignKey("Label")),
        declare("LabelOnly", Revisioned, Stateful, label=ForeignKey("Label")),
        declare("Note", Revisioned, text=StringCol(length=10, default=None)),
        declare("NoteLink", Revisioned, Stateful, source=ForeignKey("Note"),
                target=ForeignKey("Note")),
    ]


def refused(backend: str, classes: dict[str, type], owner: str, link: str, other: str,
            **options: Any) -> ConfigurationError:
    """The error declaring ``owner.links`` through ``link`` (to ``other``) raises."""
    declare = importlib.import_module(f"vdm.{backend}").add_stateful_versioned_m2m
    with pytest.raises(ConfigurationError) as caught:
        declare(classes[owner], classes[link], "links", other, "link_rows", **options)
    assert not hasattr(classes[owner], "links")
    return caught.value


@pytest.mark.parametrize("backend", BOTH)
def test_a_link_class_that_is_not_stateful_or_an_unversioned_owner_is_refused_alike(
        backend: str) -> None:
    c = declare_catalogue(backend)
    error = refused(backend, c, "Shelf", "ShelfLabel", "label")
    assert str(error) == ("ShelfLabel is not stateful; a link class needs the "
                          "Stateful mixin so that removing a link marks it deleted")
    assert error.cls is c["ShelfLabel"]
    error = refused(backend, c, "Plain", "LabelOnly", "label")
    assert str(error) == ("Plain is not versioned; the owner of a versioned link "
                          "must use the Revisioned mixin")
    assert error.cls is c["Plain"]


@pytest.mark.parametrize("backend", BOTH)
def test_a_link_class_without_a_foreign_key_to_the_owner_is_refused_alike(
        backend: str) -> None:
    c = declare_catalogue(backend)
    error = refused(backend, c, "Shelf", "LabelOnly", "label")
    assert error.cls is c["LabelOnly"]
    assert str(error).startswith(
        "LabelOnly has no foreign key to Shelf's table 'shelf'; a link class needs one (e.g. ")


@pytest.mark.parametrize("backend", BOTH)
def test_a_link_with_two_foreign_keys_to_its_owner_must_say_which_holds_the_owner(
        backend: str) -> None:
    """Notes cite notes: the link class has two foreign keys to the note's table."""
    c = declare_catalogue(backend)
    note, note_link = c["Note"], c["NoteLink"]
    error = refused(backend, c, "Note", "NoteLink", "target")
    assert str(error) == (
        "NoteLink has 2 foreign keys to Note's table 'note' ('source_id', "
        "'target_id'); say which one holds the owner with owner_key=..., e.g. "
        "owner_key='source_id'")
    assert error.cls is note_link
    error = refused(backend, c, "Note", "NoteLink", "target", owner_key="id")
    assert str(error) == (
        "NoteLink: owner_key='id' is not a foreign key to Note's table 'note'; "
        "name the link column(s) holding the owner's key (one of 'source_id', "
        "'target_id')")
    assert error.cls is note_link
    assert "links" not in note.__versioning__.links  # type: ignore[attr-defined]
    # Named by its column, the key is taken.
    declare = importlib.import_module(f"vdm.{backend}").add_stateful_versioned_m2m
    declare(note, note_link, "cited", "target", "cited_links", owner_key="source_id")
    assert "cited" in note.__versioning__.links  # type: ignore[attr-defined]
    assert all(hasattr(note, name) for name in ("cited", "cited_active", "cited_deleted"))
