"""One session per request: deleting an object in a fresh session.

A web application reads and writes each request in a new session.  A
request that deletes a shelf never looked at the shelf's labels; that is
no stale read, so it must not be refused as a conflict.  A request that did
read the labels, and meanwhile another request labelled the shelf, based
its decision on a stale read and gets ConflictError.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from vdm import ConflictError
from vdm.sqlalchemy import Repository, Revision, Revisioned


class RequestBase(DeclarativeBase):
    pass


class Shelf(Revisioned, RequestBase):
    __tablename__ = "shelf"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    labels: Mapped[list[Label]] = relationship(back_populates="shelf")


class Label(Revisioned, RequestBase):
    __tablename__ = "label"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(50))
    shelf_id: Mapped[int | None] = mapped_column(ForeignKey("shelf.id"))
    shelf: Mapped[Shelf | None] = relationship(back_populates="labels")


@pytest.fixture
def shelves(engine: Any) -> Iterator[Any]:
    RequestBase.metadata.create_all(engine)
    with Session(engine) as s:
        s.revision = Revision(author="setup", message="a labelled shelf")
        s.add(Shelf(name="fiction", labels=[Label(text="new")]))
        s.commit()
    yield engine


def test_a_fresh_request_deletes_a_shelf_it_never_read_the_labels_of(shelves: Any) -> None:
    with Session(shelves) as s:
        s.revision = Revision(author="editor", message="drop the shelf")
        s.delete(s.scalars(select(Shelf)).one())
        s.commit()
    with Session(shelves) as s:
        assert s.scalars(select(Shelf)).all() == []
        label = s.scalars(select(Label)).one()
        assert label.shelf_id is None and label.revision_id == 2
        assert label.versions[-1].changeset == {"shelf_id": [1, None]}
        assert Repository(RequestBase.metadata, s).verify() == []


def test_a_request_that_read_the_labels_conflicts_with_a_later_label(shelves: Any) -> None:
    with Session(shelves) as alice, Session(shelves) as bob:
        shelf = alice.scalars(select(Shelf)).one()
        assert [label.text for label in shelf.labels] == ["new"]
        bob.revision = Revision(author="bob", message="another label")
        bob.add(Label(text="classics", shelf=bob.get(Shelf, shelf.id)))
        bob.commit()
        alice.revision = Revision(author="alice", message="drop the shelf")
        alice.delete(shelf)
        with pytest.raises(ConflictError) as caught:
            alice.flush()
        assert str(caught.value).startswith("Shelf(id=1) gained Label(id=2) in revision 2")
        alice.rollback()
