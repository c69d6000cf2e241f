"""vdm's classic demo (License, Package, Tag, PackageTag) on imperative mappings.

The original vdm 0.15 set-up code, ported to SQLAlchemy 2: tables are built
first, made stateful and revisioned, then mapped with
``registry.map_imperatively``.  Run it with an SQLite path (or none for a
temporary file)::

    python examples/classic_vdm.py /tmp/classic.db
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, Text, create_engine
from sqlalchemy.orm import registry, relationship, scoped_session, sessionmaker

from vdm.sqlalchemy import Repository, Revisioned, Stateful, add_stateful_versioned_m2m
from vdm.sqlalchemy.imperative import (
    add_stateful_versioned_m2m_on_version,
    create_object_version,
    make_revision_table,
    make_revisioned_table,
    make_table_stateful,
    modify_base_object_mapper,
)

metadata = MetaData()

license_table = Table(
    "license", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100)),
)
package_table = Table(
    "package", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), unique=True),
    Column("title", Text),
    Column("license_id", Integer, ForeignKey("license.id")),
)
tag_table = Table(
    "tag", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), unique=True),
)
package_tag_table = Table(
    "package_tag", metadata,
    Column("id", Integer, primary_key=True),
    Column("package_id", Integer, ForeignKey("package.id")),
    Column("tag_id", Integer, ForeignKey("tag.id")),
)

make_revision_table(metadata)
make_table_stateful(license_table)
make_table_stateful(package_table)
make_table_stateful(package_tag_table)
license_revision_table = make_revisioned_table(license_table)
package_revision_table = make_revisioned_table(package_table)
package_tag_revision_table = make_revisioned_table(package_tag_table)


class License(Revisioned, Stateful):
    def __init__(self, name: str) -> None:
        self.name = name


class Package(Revisioned, Stateful):
    def __init__(self, name: str, title: str | None = None) -> None:
        self.name, self.title = name, title


class Tag:
    def __init__(self, name: str) -> None:
        self.name = name


class PackageTag(Revisioned, Stateful):
    def __init__(self, package: Package | None = None, tag: Tag | None = None,
                 state: str = "active") -> None:
        self.package, self.tag, self.state = package, tag, state


mapper_registry = registry(metadata=metadata)
mapper_registry.map_imperatively(License, license_table)
mapper_registry.map_imperatively(Package, package_table, properties={
    "license": relationship(License),
    "package_tags": relationship(PackageTag, back_populates="package",
                                 order_by=package_tag_table.c.id),
})
mapper_registry.map_imperatively(Tag, tag_table)
mapper_registry.map_imperatively(PackageTag, package_tag_table, properties={
    "package": relationship(Package, back_populates="package_tags"),
    "tag": relationship(Tag),
})

for cls in (License, Package, PackageTag):
    modify_base_object_mapper(cls)
LicenseRevision = create_object_version(None, License, license_revision_table)
PackageRevision = create_object_version(None, Package, package_revision_table)
PackageTagRevision = create_object_version(None, PackageTag, package_tag_revision_table)

add_stateful_versioned_m2m(Package, PackageTag, "tags", "tag", "package_tags")
add_stateful_versioned_m2m_on_version(PackageRevision, "tags")


def main(path: str) -> None:
    engine = create_engine(f"sqlite:///{path}")
    Session = scoped_session(sessionmaker(engine))
    repo = Repository(metadata, Session, versioned_objects=[License, Package, PackageTag])
    repo.rebuild_db()

    first = repo.new_revision(author="tolstoy", message="first packages")
    gpl = License("GPL")
    war = Package("warandpeace", "War and Peacee")
    war.license = gpl
    war.tags = [Tag("russian"), Tag("novel")]
    Session.add_all([war, Package("annakarenina", "Anna Karenina")])
    repo.commit_and_remove()

    repo.new_revision(author="editor", message="fix typo, retag, delete anna")
    war = Session.query(Package).filter_by(name="warandpeace").one()
    war.title = "War and Peace"
    war.tags.remove(war.tags[0])
    war.tags.append(Tag("classic"))
    Session.query(Package).filter_by(name="annakarenina").one().delete()
    repo.commit_and_remove()

    war = Session.query(Package).filter_by(name="warandpeace").one()
    old = war.get_as_of(first)
    print(f"title as of revision {first.id}: {old.title}")
    print(f"tags as of revision {first.id}: {[t.name for t in old.tags]}")
    print(f"tags now: {[t.name for t in war.tags]}")
    print(f"deleted tag links: {[link.tag.name for link in war.tags_deleted]}")
    print(f"licence as of revision {first.id}: {old.license.name}")
    for revision in repo.history():
        changed = {cls.__name__: len(v) for cls, v in repo.list_changes(revision).items()}
        print(f"r{revision.id} {revision.author}: {revision.message} {changed}")
    print("verify:", repo.verify() or "history is sound")
    Session.remove()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(str(Path(tmp) / "classic.db"))
