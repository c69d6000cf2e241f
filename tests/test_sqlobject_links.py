"""vdm.sqlobject links: what only the SQLObject backend has to show.

The behaviour both backends share (link histories, list edits, maps,
purge, declaration errors, conflicts) is in the acceptance suite; here:
statement counts of link lists, owner keys named the SQLObject way, a link
across backends, and the SQLObject idiom.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from acceptance.test_accept_drift import declare_catalogue
from link_models import Package as ORMPackage
from sqlobject_models import (  # noqa: F401 - fixtures
    LINKS,
    Package,
    PackageTag,
    Tag,
    new_session,
    so_connection,
)

from vdm import ConfigurationError
from vdm.sqlobject import (
    Revision,
    Session,
    StatefulList,
    add_stateful_versioned_m2m,
    create_tables,
)


@pytest.fixture
def session(so_connection: Any, new_session: Any) -> Session:
    create_tables(so_connection, LINKS)
    return new_session()  # type: ignore[no-any-return]


class Counted:
    """Counts the statements an SQLObject connection runs."""

    def __init__(self, conn: Any, everything: bool = False) -> None:
        self.conn, self.log = conn, []
        # SQLObject's own selects print as "Select"; vdm's queries as "Query*".
        self.names = ("Query", "QueryAll", "QueryOne", *(("Select",) if everything else ()))

    def __enter__(self) -> Counted:
        self.conn.debug = True
        self.original = self.conn.printDebug
        self.conn.printDebug = lambda conn, s, name, *a, **k: (
            self.log.append(s) if name in self.names else None)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.conn.debug = False
        self.conn.printDebug = self.original


@pytest.fixture
def counted(session: Session) -> Iterator[Any]:
    yield lambda: Counted(session.connection)


@pytest.mark.parametrize("count", [3, 30])
def test_a_versions_link_list_loads_in_one_query(session: Session, counted: Any,
                                                 count: int) -> None:
    t = session.transaction
    session.revision = Revision(author="me")
    package = Package(name="many", connection=t)
    package.tags = [Tag(name=f"t{i}", connection=t) for i in range(count)]
    session.commit()
    old = package.get_as_of(1)
    with counted() as statements:
        tags = old.tags
    assert len(tags) == count and len(statements.log) == 1, statements.log
    with counted() as statements:
        assert len(old.tags_active) == count
        assert old.extras == {}
    assert len(statements.log) == 2, statements.log


def test_the_views_are_core_stateful_lists_and_links_are_ordinary_rows(
        session: Session) -> None:
    t = session.transaction
    session.revision = Revision(author="me")
    package = Package(name="p", connection=t)
    a = Tag(name="a", connection=t)
    package.tags.append(a)
    session.commit()
    assert isinstance(package.tags, StatefulList)
    link = PackageTag.selectBy(connection=t).getOne()
    assert (link.package, link.tag, link.position, link.state) == (package, a, 0, "active")
    assert package.package_tags == [link]


def test_owner_key_takes_a_column_attribute_or_foreignkey_name() -> None:
    # The refusals of a link with two keys to its owner are in
    # tests/acceptance/test_accept_drift.py; SQLObject also names a key by
    # its attribute ("targetID") or ForeignKey name ("source").
    classes = declare_catalogue("sqlobject")
    note, note_link = classes["Note"], classes["NoteLink"]
    for name, key in (("cited", "source_id"), ("citing", "targetID"), ("peers", "source")):
        add_stateful_versioned_m2m(note, note_link, name, "target", f"{name}_links",
                                   owner_key=key)
        assert note.__versioning__.links[name].owner_fk.column == (  # type: ignore[attr-defined]
            "target_id" if key == "targetID" else "source_id")


def test_a_link_between_classes_of_two_backends_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        add_stateful_versioned_m2m(ORMPackage, PackageTag, "so_tags", "tag", "so_package_tags")
    assert str(caught.value) == (
        "PackageTag and Package are not versioned by the same backend; a versioned "
        "link joins classes of one backend")
    assert caught.value.cls is PackageTag
    assert not hasattr(ORMPackage, "so_tags")


def test_setting_a_value_on_an_object_expired_by_commit_does_not_hang(
        session: Session) -> None:
    # SQLObject's set() holds the row's non-reentrant lock while it signals;
    # vdm must not read an expired attribute through it.
    t = session.transaction
    session.revision = Revision(author="me")
    tag = Tag(name="a", connection=t)
    session.commit()
    session.revision = Revision(author="me")
    tag.set(name="b")
    session.commit()
    assert [v.name for v in tag.versions] == ["a", "b"]


def test_the_live_link_list_loads_its_targets_with_the_links(
        session: Session, new_session: Any) -> None:
    t = session.transaction
    session.revision = Revision(author="me")
    package = Package(name="fifty", connection=t)
    package.tags = [Tag(name=f"t{i}", connection=t) for i in range(50)]
    session.commit()
    session.revision = Revision(author="me")
    for tag in [tg for tg in package.tags if int(tg.name[1:]) % 5 == 0]:
        package.tags.remove(tag)
    package.tags.insert(0, Tag(name="first", connection=t))
    session.commit()
    other = new_session()
    fresh = Package.get(package.id, connection=other.transaction)
    with Counted(other.connection, everything=True) as statements:
        names = [tag.name for tag in fresh.tags]
    assert names == ["first"] + [f"t{i}" for i in range(50) if i % 5]
    # The links, then the targets (none of them in the new session's cache).
    assert len(statements.log) == 2, statements.log
    assert statements.log[1].startswith("SELECT tag.id, tag.name"), statements.log
    with Counted(other.connection, everything=True) as statements:
        deleted = [link.tag.name for link in fresh.tags_deleted]
    assert deleted == [f"t{i}" for i in range(0, 50, 5)]
    assert len(statements.log) == 1, statements.log  # the links; the targets are cached
