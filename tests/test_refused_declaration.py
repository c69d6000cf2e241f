"""A refused declaration leaves nothing registered.

When vdm refuses a versioned class (an unsupported shape raises
:class:`vdm.ConfigurationError` from the ``class`` statement), neither the
class's mapper, its version class and version table, nor the version of an
association it declared stay behind: later, unrelated whole-model work
(configuring the mappers, Repository set-up, writes, verify) on the same
MetaData and on another one works as if the class had never been written.
"""

from __future__ import annotations

import pytest
from models import Base, Book
from sqlalchemy import Column, ForeignKey, Integer, String, Table, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    configure_mappers,
    mapped_column,
    relationship,
)

from vdm import ConfigurationError
from vdm.sqlalchemy import Repository, Revisioned
from vdm.sqlalchemy.associations import associations
from vdm.sqlalchemy.registry import versioned_mappers


class _Shop(DeclarativeBase):
    pass


class Shelf(Revisioned, _Shop):
    """A good class of the base the refused ones are declared on."""

    __tablename__ = "shop_shelf"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40))


class Parcel(Revisioned, _Shop):
    __tablename__ = "shop_parcel"
    id: Mapped[int] = mapped_column(primary_key=True)


def _registered_names() -> set[str]:
    return {v.cls.__name__ for v in versioned_mappers.values()}


def _fresh(*names: str) -> None:
    """Forget tables a previous refusal left in the MetaData (as SQLAlchemy does)."""
    for name in names:
        if name in _Shop.metadata.tables:
            _Shop.metadata.remove(_Shop.metadata.tables[name])


def _refuse_a_join_secondary() -> None:
    _fresh("shop_crate", "shop_crate_parcel")
    through = Table("shop_crate_parcel", _Shop.metadata,
                    Column("crate_id", ForeignKey("shop_crate.id"), primary_key=True),
                    Column("parcel_id", ForeignKey("shop_parcel.id"), primary_key=True))
    joined = through.join(Parcel.__table__)
    with pytest.raises(ConfigurationError, match="Crate.parcels goes through a Join"):
        class Crate(Revisioned, _Shop):
            __tablename__ = "shop_crate"
            id: Mapped[int] = mapped_column(primary_key=True)
            parcels: Mapped[list[Parcel]] = relationship(secondary=joined, viewonly=True)


def _refuse_an_association_with_a_state_column() -> None:
    # The first association is fine; the second refuses the class, and the
    # first must not stay versioned for a class that does not exist.
    _fresh("shop_pallet", "shop_pallet_shelf", "shop_pallet_parcel")
    good = Table("shop_pallet_shelf", _Shop.metadata,
                 Column("pallet_id", ForeignKey("shop_pallet.id"), primary_key=True),
                 Column("shelf_id", ForeignKey("shop_shelf.id"), primary_key=True))
    bad = Table("shop_pallet_parcel", _Shop.metadata,
                Column("pallet_id", Integer, ForeignKey("shop_pallet.id"), primary_key=True),
                Column("parcel_id", Integer, primary_key=True),
                Column("state", String(10)))
    with pytest.raises(ConfigurationError, match="has a column named 'state'"):
        class Pallet(Revisioned, _Shop):
            __tablename__ = "shop_pallet"
            id: Mapped[int] = mapped_column(primary_key=True)
            shelves: Mapped[list[Shelf]] = relationship(secondary=good)
            parcels: Mapped[list[Parcel]] = relationship(secondary=bad)
    assert good not in associations and bad not in associations
    assert "shop_pallet_shelf_revision" not in _Shop.metadata.tables


REFUSALS = {
    "join secondary": (_refuse_a_join_secondary, "Crate", "shop_crate_revision"),
    "association column": (_refuse_an_association_with_a_state_column, "Pallet",
                           "shop_pallet_revision"),
}


@pytest.fixture(params=sorted(REFUSALS))
def refused(request):
    refuse, name, version_table = REFUSALS[request.param]
    refuse()
    return name, version_table


def test_a_refused_class_is_not_registered(refused):
    name, version_table = refused
    assert name not in _registered_names()
    assert version_table not in _Shop.metadata.tables
    assert name not in {m.class_.__name__ for m in _Shop.registry.mappers}
    configure_mappers()  # the broken mapper would fail this


def test_the_same_metadata_works_after_a_refusal(refused, engine):
    session = Session(engine)
    repo = Repository(_Shop.metadata, session)
    repo.create_db()
    repo.new_revision(author="shop", message="one shelf")
    session.add(Shelf(label="top"))
    repo.commit()
    session.expunge_all()
    assert [s.label for s in session.scalars(select(Shelf))] == ["top"]
    assert [r.message for r in repo.history()] == ["one shelf"]
    assert repo.verify() == []
    session.close()


def test_another_metadata_works_after_a_refusal(refused, session):
    repo = Repository(Base.metadata, session)
    repo.clean_db()
    repo.create_db()
    repo.new_revision(author="shop", message="a book")
    session.add(Book(name="b", title="B"))
    repo.commit()
    session.expunge_all()
    assert [b.title for b in session.scalars(select(Book))] == ["B"]
    assert repo.verify() == []
