"""The classic vdm model with versioned links: packages, tags, licenses, extras."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from vdm.sqlalchemy import (
    Revisioned,
    Stateful,
    add_stateful_versioned_dict,
    add_stateful_versioned_m2m,
)


class LinkBase(DeclarativeBase):
    pass


class License(Revisioned, LinkBase):
    __tablename__ = "license"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Package(Revisioned, Stateful, LinkBase):
    __tablename__ = "package"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    license_id: Mapped[int | None] = mapped_column(ForeignKey("license.id"))
    license: Mapped[License | None] = relationship()


class Tag(Revisioned, Stateful, LinkBase):
    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))

    def __repr__(self) -> str:
        return f"Tag({self.name!r})"


class PackageTag(Revisioned, Stateful, LinkBase):
    __tablename__ = "package_tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"))
    tag_id: Mapped[int] = mapped_column(ForeignKey("tag.id"))
    position: Mapped[int | None] = mapped_column(Integer)
    tag: Mapped[Tag] = relationship()


class Group(Revisioned, LinkBase):
    """A non-stateful target (groups are never soft-deleted)."""

    __tablename__ = "grp"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class PackageGroup(Revisioned, Stateful, LinkBase):
    """A link without a position column: creation order."""

    __tablename__ = "package_group"
    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("grp.id"))
    group: Mapped[Group] = relationship()


class PackageExtra(Revisioned, Stateful, LinkBase):
    __tablename__ = "package_extra"
    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"))
    key: Mapped[str] = mapped_column(String(100))
    value: Mapped[str | None] = mapped_column(String(200))


add_stateful_versioned_m2m(Package, PackageTag, "tags", "tag", "package_tags",
                           position_attr="position")
add_stateful_versioned_m2m(Package, PackageGroup, "groups", "group", "package_groups")
add_stateful_versioned_dict(Package, PackageExtra, "extras", "key", "value", "extras_list")
