"""vdm's classic demo (License, Package, Tag, PackageTag) written as vdm 0.15 code.

The set-up and the story are those of the original vdm for SQLAlchemy:
tables are built first, made stateful and revisioned, the classes take the
revisioned and stateful mixins, a Repository drives revisions.  What
differs is listed in doc/porting-vdm.rst; here it is only that

* SQLAlchemy 2 maps with ``registry.map_imperatively`` (``mapper`` and its
  ``extension=Revisioner(...)`` are gone; vdm versions every class that
  uses the mixin), and the session needs no ``autocommit``;
* the helpers are imported from ``vdm.sqlalchemy.imperative``;
* revision ids are integers in commit order (vdm 0.15 used UUIDs).

Run it with an SQLite path (or none for a temporary file)::

    python examples/classic_vdm.py /tmp/classic.db
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Column, ForeignKey, Integer, MetaData, String, Table, UnicodeText
from sqlalchemy.orm import registry, relationship, scoped_session, sessionmaker

from vdm.sqlalchemy import Repository, State, add_stateful_versioned_m2m
from vdm.sqlalchemy.imperative import (
    RevisionedObjectMixin,
    StatefulObjectMixin,
    add_stateful_versioned_m2m_on_version,
    create_object_version,
    make_Revision,
    make_revision_table,
    make_revisioned_table,
    make_table_stateful,
    modify_base_object_mapper,
)

metadata = MetaData()

## VDM-specific tables

revision_table = make_revision_table(metadata)

## Demo tables

license_table = Table(
    "license", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100)),
    Column("open", Boolean),
)
package_table = Table(
    "package", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), unique=True),
    Column("title", String(100)),
    Column("license_id", Integer, ForeignKey("license.id")),
    Column("notes", UnicodeText),
)
tag_table = Table(
    "tag", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100)),
)
package_tag_table = Table(
    "package_tag", metadata,
    Column("id", Integer, primary_key=True),
    Column("package_id", Integer, ForeignKey("package.id")),
    Column("tag_id", Integer, ForeignKey("tag.id")),
)

make_table_stateful(license_table)
make_table_stateful(package_table)
make_table_stateful(package_tag_table)
license_revision_table = make_revisioned_table(license_table)
package_revision_table = make_revisioned_table(package_table)
package_tag_revision_table = make_revisioned_table(package_tag_table)


## Mapped classes

class License(RevisionedObjectMixin, StatefulObjectMixin):
    def __init__(self, **kwargs: Any) -> None:
        for k, v in kwargs.items():
            setattr(self, k, v)


class Package(RevisionedObjectMixin, StatefulObjectMixin):
    def __init__(self, **kwargs: Any) -> None:
        for k, v in kwargs.items():
            setattr(self, k, v)


class Tag:
    def __init__(self, name: str) -> None:
        self.name = name


class PackageTag(RevisionedObjectMixin, StatefulObjectMixin):
    def __init__(self, package: Package | None = None, tag: Tag | None = None,
                 state: str | None = None, **kwargs: Any) -> None:
        self.package = package
        self.tag = tag
        self.state = state
        for k, v in kwargs.items():
            setattr(self, k, v)


## Mapper stuff

mapper = registry(metadata=metadata).map_imperatively

Revision = make_Revision(mapper, revision_table)

mapper(License, license_table)
mapper(Package, package_table, properties={
    "license": relationship(License),
    "package_tags": relationship(PackageTag, backref="package", cascade="all",
                                 order_by=package_tag_table.c.id),
})
mapper(Tag, tag_table)
mapper(PackageTag, package_tag_table, properties={
    "tag": relationship(Tag),
})

modify_base_object_mapper(Package, Revision, State)
modify_base_object_mapper(License, Revision, State)
modify_base_object_mapper(PackageTag, Revision, State)
PackageRevision = create_object_version(mapper, Package, package_revision_table)
LicenseRevision = create_object_version(mapper, License, license_revision_table)
PackageTagRevision = create_object_version(mapper, PackageTag, package_tag_revision_table)

add_stateful_versioned_m2m(Package, PackageTag, "tags", "tag", "package_tags")
add_stateful_versioned_m2m_on_version(PackageRevision, "tags")


def main(path: str) -> None:
    Session = scoped_session(sessionmaker(autoflush=True, expire_on_commit=False))
    repo = Repository(metadata, Session, versioned_objects=[Package, License, PackageTag],
                      dburi=f"sqlite:///{path}")
    repo.rebuild_db()

    rev1 = repo.new_revision()
    rev1.author = "tolstoy"
    rev1.message = "first packages"
    lic1 = License(name="GPL", open=True)
    p1 = Package(name="warandpeace", title="War and Peacee", license=lic1,
                 notes="Here\nare some\nnotes")
    p1.tags.append(Tag("russian"))
    p1.tags.append(Tag("novel"))
    Session.add_all([lic1, p1, Package(name="annakarenina", title="Anna Karenina")])
    repo.commit_and_remove()

    rev2 = repo.new_revision()
    rev2.author = "editor"
    p1 = Session.query(Package).filter_by(name="warandpeace").one()
    p1.title = "War and Peace"
    p1.notes = "Here\nare no\nnotes"
    del p1.tags[0]
    p1.tags.append(Tag("classic"))
    Session.query(Package).filter_by(name="annakarenina").one().delete()
    # Set after the changes were flushed: still what the revision keeps.
    rev2.message = "fix typo, retag, delete anna"
    repo.commit_and_remove()

    p1 = Session.query(Package).filter_by(name="warandpeace").one()
    p1r1 = p1.get_as_of(rev1)
    print(f"title as of revision {rev1.id}: {p1r1.title}")
    print(f"tags as of revision {rev1.id}: {[t.name for t in p1r1.tags]}")
    print(f"license as of revision {rev1.id}: {p1r1.license.name}")
    print(f"tags now: {[t.name for t in p1.tags]}")
    print(f"deleted tag links: {[pt.tag.name for pt in p1.tags_deleted]}")
    print(f"all revisions of warandpeace: {[pr.revision.id for pr in p1.all_revisions]}")
    print("diff of the last change:")
    for field, text in sorted(p1.diff().items()):
        print(f"  {field}:\n    " + text.replace("\n", "\n    "))
    print(f"title when created: {p1.diff(to_revision=rev1)['title']!r}")
    for revision in repo.history():
        changes = repo.list_changes(revision)
        counts = {cls.__name__: len(changes[cls]) for cls in (Package, License, PackageTag)}
        print(f"r{revision.id} {revision.author}: {revision.message} {counts}")
    print(f"youngest revision: {repo.youngest_revision().message}")
    print("verify:", repo.verify() or "history is sound")
    Session.remove()
    repo.engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(str(Path(tmp) / "classic.db"))
