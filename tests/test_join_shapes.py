"""Relationship shapes whose joins need care on versions.

A research catalogue: papers reference papers (a self-referential versioned
many-to-many: the link class has two foreign keys to ``paper``), and
datasets carry labels of which some are flagged primary (a relationship
with a custom ``primaryjoin``).  As of every revision, the versions must
list exactly what was linked then, through the right key and condition.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Boolean, ForeignKey, String, and_, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
)

from vdm import ConfigurationError
from vdm.sqlalchemy import (
    Repository,
    Revision,
    Revisioned,
    Stateful,
    add_stateful_versioned_m2m,
    restore_object,
)


class CatalogueBase(DeclarativeBase):
    pass


class Paper(Revisioned, Stateful, CatalogueBase):
    __tablename__ = "paper"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))


class PaperReference(Revisioned, Stateful, CatalogueBase):
    __tablename__ = "paper_reference"
    id: Mapped[int] = mapped_column(primary_key=True)
    # "cited_id" sorts before "citing_id": the owner is not the first key.
    citing_id: Mapped[int] = mapped_column(ForeignKey("paper.id"))
    cited_id: Mapped[int] = mapped_column(ForeignKey("paper.id"))
    cited: Mapped[Paper] = relationship(foreign_keys=[cited_id])


add_stateful_versioned_m2m(Paper, PaperReference, "references", "cited", "reference_links",
                           owner_key="citing_id")


class Dataset(Revisioned, Stateful, CatalogueBase):
    __tablename__ = "dataset"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    labels: Mapped[list[Label]] = relationship(order_by="Label.id")
    primary_labels: Mapped[list[Label]] = relationship(
        primaryjoin="and_(Dataset.id == Label.dataset_id, Label.is_primary == True)",
        order_by="Label.id", viewonly=True)


class Label(Revisioned, Stateful, CatalogueBase):
    __tablename__ = "label"
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id"))
    name: Mapped[str] = mapped_column(String(100))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)


@pytest.fixture
def session(engine):
    CatalogueBase.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def revise(session, message):
    session.revision = Revision(author="librarian", message=message)


def titles(papers):
    return [p.title for p in papers]


def paper(session, title):
    return session.scalars(select(Paper).filter_by(title=title)).one()


def test_a_paper_lists_the_papers_it_referenced_as_of_each_revision(session, engine):
    revise(session, "r1: a cites b and c")
    a, b, c = Paper(title="a"), Paper(title="b"), Paper(title="c")
    a.references = [b, c]
    session.add_all([a, b, c])
    session.commit()
    revise(session, "r2: c cites a; a no longer cites c")
    c.references.append(a)
    a.references.remove(c)
    session.commit()
    session.expunge_all()
    a, b, c = paper(session, "a"), paper(session, "b"), paper(session, "c")
    assert titles(a.versions[0].references) == ["b", "c"]
    assert titles(a.get_as_of(1).references) == ["b", "c"]
    assert titles(a.get_as_of(2).references) == ["b"]
    assert [link.cited.title for link in a.get_as_of(2).references_deleted] == ["c"]
    assert titles(c.get_as_of(1).references) == []
    assert titles(c.get_as_of(2).references) == ["a"]
    assert titles(b.get_as_of(2).references) == []
    assert titles(a.references) == ["b"] and titles(c.references) == ["a"]
    revise(session, "r3: a as of r1")
    restore_object(session, a, 1)
    session.commit()
    assert titles(a.references) == ["b", "c"] and titles(c.references) == ["a"]
    assert Repository(CatalogueBase.metadata, session).verify() == []


def test_a_custom_primaryjoin_keeps_its_condition_on_versions(session):
    revise(session, "r1: two labels, one primary")
    data = Dataset(name="survey")
    data.labels = [Label(name="census", is_primary=True), Label(name="draft")]
    session.add(data)
    session.commit()
    revise(session, "r2: the draft becomes primary, the census not")
    census, draft = data.labels
    draft.is_primary = True
    census.is_primary = False
    session.commit()
    revise(session, "r3: a third label")
    data.labels.append(Label(name="extra"))
    session.commit()
    assert [x.name for x in data.get_as_of(1).primary_labels] == ["census"]
    assert [x.name for x in data.get_as_of(2).primary_labels] == ["draft"]
    assert [x.name for x in data.get_as_of(3).primary_labels] == ["draft"]
    assert [x.name for x in data.get_as_of(1).labels] == ["census", "draft"]
    assert [x.name for x in data.get_as_of(3).labels] == ["census", "draft", "extra"]
    assert [x.name for x in data.primary_labels] == ["draft"]


def test_a_join_through_a_third_table_is_refused_when_mappers_are_configured():
    class Base(DeclarativeBase):
        pass

    class Shelf(Base):
        __tablename__ = "shelf"
        id: Mapped[int] = mapped_column(primary_key=True)
        open: Mapped[bool] = mapped_column(Boolean)

    class Box(Revisioned, Base):
        __tablename__ = "box"
        id: Mapped[int] = mapped_column(primary_key=True)
        shelf_id: Mapped[int] = mapped_column(ForeignKey("shelf.id"))
        items: Mapped[list[Item]] = relationship(
            primaryjoin=lambda: and_(Box.id == Item.box_id, Box.shelf_id == Shelf.id,
                                     Shelf.open == True),  # noqa: E712
            foreign_keys=lambda: [Item.box_id], viewonly=True)

    class Item(Revisioned, Base):
        __tablename__ = "item"
        id: Mapped[int] = mapped_column(primary_key=True)
        box_id: Mapped[int] = mapped_column(ForeignKey("box.id"))

    try:
        with pytest.raises(ConfigurationError) as caught:
            Base.registry.configure()
    finally:
        Base.registry.dispose()
    assert str(caught.value) == (
        "Box.items joins through shelf.id; a version can read a relationship as "
        "of its revision only when its primaryjoin uses columns of Box's and "
        "Item's tables (use secondary= for a table in between)")
