"""vdm 0.15's imperative helpers, on the classic demo's model.

The model is the one of ``examples/classic_vdm.py``, imported from there so
that the example and these tests cannot drift apart.
"""

import importlib.util
from pathlib import Path

import pytest
from history_helpers import rows
from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.orm import Session

from vdm import ConfigurationError, Operation
from vdm.sqlalchemy import Repository, Revision
from vdm.sqlalchemy.imperative import (
    add_stateful_versioned_m2m_on_version,
    create_object_version,
    make_revisioned_table,
)

_path = Path(__file__).parent.parent / "examples" / "classic_vdm.py"
_spec = importlib.util.spec_from_file_location("classic_vdm", _path)
classic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(classic)


@pytest.fixture
def session(engine):
    classic.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def test_tables_get_vdm_columns_and_version_tables():
    assert {"state", "revision_id"} <= set(classic.package_table.c.keys())
    assert classic.package_revision_table.name == "package_revision"
    assert {"expired_id", "operation_type"} <= set(classic.package_revision_table.c.keys())
    assert classic.PackageRevision is classic.Package.__revision_class__
    assert "state" not in classic.tag_table.c


def test_the_classic_story_on_imperative_mappings(session, engine):
    Package, Tag, License = classic.Package, classic.Tag, classic.License
    session.revision = Revision(author="a", message="r1")
    pkg = Package(name="p", title="Title")
    pkg.license = License(name="GPL")
    pkg.tags = [Tag("x"), Tag("y")]
    session.add(pkg)
    session.commit()
    session.revision = Revision(author="a", message="r2")
    pkg.title = "New"
    pkg.tags.remove(pkg.tags[0])
    pkg.license.name = "GPL-3"
    session.commit()
    old = pkg.get_as_of(1)
    assert (old.title, old.license.name, [t.name for t in old.tags]) == ("Title", "GPL", ["x", "y"])
    assert isinstance(old, classic.PackageRevision)
    assert [t.name for t in pkg.tags] == ["y"] and len(pkg.tags_deleted) == 1
    assert pkg.revision.message == "r2"
    assert [v.operation_type for v in pkg.versions] == [Operation.INSERT, Operation.UPDATE]
    assert rows(engine, "SELECT count(*) FROM package_tag") == [(2,)]
    repo = Repository(classic.metadata, session)
    assert {c.__name__ for c, vs in repo.list_changes(2).items() if vs} == {
        "Package", "PackageTag", "License"}
    assert repo.verify() == []


def test_misuse_of_the_helpers_is_reported_clearly():
    other = Table("other", MetaData(), Column("id", Integer, primary_key=True))
    with pytest.raises(ConfigurationError, match="'other_revision' is not the version table of Package"):
        create_object_version(None, classic.Package, make_revisioned_table(other))
    with pytest.raises(ConfigurationError, match="Tag is not versioned"):
        create_object_version(None, classic.Tag, classic.package_revision_table)
    with pytest.raises(ConfigurationError, match="PackageRevision has no versioned link collection 'nope'"):
        add_stateful_versioned_m2m_on_version(classic.PackageRevision, "nope")
