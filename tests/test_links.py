"""Versioned many-to-many links, stateful list views and versioned maps."""

import pytest
from history_helpers import rows
from link_models import Group, License, LinkBase, Package, PackageExtra, PackageTag, Tag
from sqlalchemy import ForeignKey, MetaData, String, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from test_shapes_columns import _drop_schema, _engine_with_schema

from vdm import Operation
from vdm.sqlalchemy import (
    Repository,
    Revision,
    Revisioned,
    Stateful,
    add_stateful_versioned_dict,
)


@pytest.fixture
def session(engine):
    LinkBase.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def revise(session, message="change"):
    session.revision = Revision(author="tester", message=message)


def names(items):
    return [item.name for item in items]


@pytest.fixture
def package(session):
    revise(session, "r1")
    pkg = Package(name="pkg")
    pkg.tags = [Tag(name="a"), Tag(name="b")]
    session.add(pkg)
    session.commit()
    return pkg


def test_a_link_removed_and_readded_is_undeleted_and_history_shows_each_step(session, package, engine):
    revise(session, "r2: remove both")
    package.tags = []
    session.commit()
    revise(session, "r3: re-add a")
    a = session.scalars(select(Tag).filter_by(name="a")).one()
    package.tags.append(a)
    session.commit()
    assert names(package.get_as_of(1).tags) == ["a", "b"]
    assert names(package.get_as_of(2).tags) == []
    assert names(package.get_as_of(3).tags) == ["a"]
    assert rows(engine, "SELECT count(*) FROM package_tag") == [(2,)]
    assert names(package.tags) == ["a"]
    assert [link.tag.name for link in package.tags_active] == ["a"]
    assert [link.tag.name for link in package.tags_deleted] == ["b"]
    assert [link.tag_id for link in package.get_as_of(2).tags_deleted] == [1, 2]
    assert package.get_as_of(1).tags_deleted == []


@pytest.mark.parametrize("edit", [
    "append the same tag twice",
    "assign the same list again",
    "remove then append in one revision",
    "append a new tag then remove it in one revision",
    "insert an existing tag",
    "slice-assign a list containing existing tags",
])
def test_editing_a_list_never_duplicates_links(session, package, engine, edit):
    a, b = package.tags[0], package.tags[1]
    revise(session, edit)
    if edit == "append the same tag twice":
        package.tags.append(a)
        package.tags.append(a)
    elif edit == "assign the same list again":
        package.tags = [a, b]
    elif edit == "remove then append in one revision":
        package.tags.remove(a)
        package.tags.append(a)
    elif edit == "append a new tag then remove it in one revision":
        new = Tag(name="tmp")
        package.tags.append(new)
        package.tags.remove(new)
    elif edit == "insert an existing tag":
        package.tags.insert(0, b)
    else:
        package.tags[0:1] = [b, a]
    session.commit()
    assert rows(engine, "SELECT tag_id, count(*) FROM package_tag GROUP BY tag_id ORDER BY tag_id") == [
        (1, 1), (2, 1)]
    assert sorted(names(package.tags)) == ["a", "b"]
    assert Repository(LinkBase.metadata, session).verify() == []


def test_setting_the_same_list_writes_nothing(session, package, engine):
    revise(session, "no-op")
    package.tags = list(package.tags)
    session.commit()
    assert rows(engine, "SELECT count(*) FROM revision") == [(1,)]


def test_order_is_stable_and_survives_a_reload(session, package, engine):
    a, b = package.tags
    revise(session, "reorder")
    package.tags.insert(0, Tag(name="c"))
    package.tags.reverse()
    session.commit()
    assert names(package.tags) == ["b", "a", "c"]
    with Session(engine) as other:
        reloaded = other.get(Package, package.id)
        assert names(reloaded.tags) == ["b", "a", "c"]
        assert names(reloaded.get_as_of(1).tags) == ["a", "b"]
        assert names(reloaded.get_as_of(2).tags) == ["b", "a", "c"]


def test_links_without_position_keep_creation_order(session, package, engine):
    revise(session)
    package.groups.extend([Group(name="g1"), Group(name="g2")])
    session.commit()
    revise(session)
    package.groups.remove(package.groups[0])
    session.commit()
    with Session(engine) as other:
        assert names(other.get(Package, package.id).groups) == ["g2"]
        assert names(other.get(Package, package.id).get_as_of(2).groups) == ["g1", "g2"]


def test_as_of_follows_two_hops_through_old_keys_and_old_names(session, engine):
    revise(session, "r1")
    gpl, mit = License(name="GPL"), License(name="MIT")
    pkg = Package(name="p", license=gpl)
    pkg.tags = [Tag(name="t")]
    session.add_all([pkg, mit])
    session.commit()
    revise(session, "r2: relicense")
    pkg.license = mit
    session.commit()
    revise(session, "r3: rename GPL, rename tag")
    gpl.name = "GPL-3"
    pkg.tags[0].name = "t2"
    session.commit()
    old = pkg.get_as_of(1)
    assert old.license.name == "GPL"
    assert old.tags[0].name == "t" and old.tags[0].revision_id == 1
    assert pkg.get_as_of(2).license.name == "MIT"
    assert pkg.get_as_of(3).tags[0].name == "t2"
    tag_then = pkg.get_as_of(1).tags_active[0]
    assert tag_then.tag.name == "t", "a link version's target resolves as of the same revision"


def test_a_versioned_map_keeps_per_key_history(session, package, engine):
    revise(session, "r2: set")
    package.extras["licence-url"] = "http://a"
    package.extras["notes"] = "n"
    session.commit()
    revise(session, "r3: change")
    package.extras["licence-url"] = "http://b"
    session.commit()
    revise(session, "r4: drop")
    del package.extras["licence-url"]
    session.commit()
    revise(session, "r5: back")
    package.extras["licence-url"] = "http://c"
    session.commit()
    history = package.extras.history("licence-url")
    assert [(v.revision_id, v.value, v.state) for v in history] == [
        (2, "http://a", "active"), (3, "http://b", "active"),
        (4, "http://b", "deleted"), (5, "http://c", "active")]
    assert [v.revision.message for v in history] == ["r2: set", "r3: change", "r4: drop", "r5: back"]
    assert package.get_as_of(2).extras == {"licence-url": "http://a", "notes": "n"}
    assert package.get_as_of(4).extras == {"notes": "n"}
    assert dict(package.extras) == {"licence-url": "http://c", "notes": "n"}
    assert rows(engine, "SELECT count(*) FROM package_extra") == [(2,)]


def test_replacing_a_map_value_is_a_versioned_change(session, package, engine):
    revise(session)
    package.extras = {"k": "v"}
    session.commit()
    revise(session)
    package.extras = {"k": "v"}
    session.commit()
    assert rows(engine, "SELECT count(*) FROM revision") == [(2,)]
    revise(session)
    package.extras["k"] = "w"
    session.commit()
    assert rows(engine, "SELECT value, operation_type FROM package_extra_revision ORDER BY revision_id") == [
        ("v", Operation.INSERT), ("w", Operation.UPDATE)]


def test_link_changes_appear_in_the_owners_history_and_list_changes(session, package):
    revise(session, "r2: tag only")
    package.tags.remove(package.tags[0])
    session.commit()
    revise(session, "r3: extras only")
    package.extras["k"] = "v"
    session.commit()
    assert [r.message for r in package.all_related_revisions] == ["r3: extras only", "r2: tag only", "r1"]
    assert [v.revision_id for v in package.versions] == [1]
    changes = Repository(LinkBase.metadata, session).list_changes(2)
    assert {cls: [(v.tag_id, v.state) for v in vs] for cls, vs in changes.items() if vs} == {
        PackageTag: [(1, "deleted")]}
    assert Repository(LinkBase.metadata, session).list_changes(3)[PackageExtra] != []


class Statements:
    def __init__(self, engine):
        self.engine, self.log = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self.record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self.record)

    def record(self, *args):
        self.log.append(args[2])


@pytest.mark.parametrize("count", [3, 30])
def test_a_versions_link_list_loads_in_one_query(session, engine, count):
    revise(session)
    pkg = Package(name="many")
    pkg.tags = [Tag(name=f"t{i}") for i in range(count)]
    session.add(pkg)
    session.commit()
    old = pkg.get_as_of(1)
    with Statements(engine) as statements:
        tags = old.tags
    assert len(tags) == count and len(statements.log) == 1
    with Statements(engine) as statements:
        assert len(old.tags_active) == count
        assert old.extras == {}
    assert len(statements.log) == 2


def test_revert_brings_back_the_links_of_that_version(session, package):
    revise(session, "r2: rename, retag")
    package.name = "renamed"
    package.tags = [Tag(name="c")]
    session.commit()
    revise(session, "r3: back to r1")
    package.get_as_of(1).revert()
    session.commit()
    session.expunge_all()
    pkg = session.scalars(select(Package)).one()
    assert pkg.name == "pkg" and names(pkg.tags) == ["a", "b"]
    assert [link.tag.name for link in pkg.tags_deleted] == ["c"]
    assert names(pkg.get_as_of(2).tags) == ["c"]
    assert names(pkg.get_as_of(3).tags) == ["a", "b"]


def test_related_revisions_read_a_schema_and_reserved_names(engine, tmp_path):
    schema = "vdm_links_related"
    engine = _engine_with_schema(engine, schema, tmp_path)

    class Base(DeclarativeBase):
        metadata = MetaData(schema=schema)

    class Order(Revisioned, Base):
        __tablename__ = "order"
        id: Mapped[int] = mapped_column(primary_key=True)
        label: Mapped[str] = mapped_column(String(20))

    class OrderNote(Revisioned, Stateful, Base):
        __tablename__ = "order_note"
        id: Mapped[int] = mapped_column(primary_key=True)
        group: Mapped[int] = mapped_column("group", ForeignKey("order.id"))
        key: Mapped[str] = mapped_column(String(20))
        value: Mapped[str] = mapped_column(String(20))

    add_stateful_versioned_dict(Order, OrderNote, "notes", "key", "value", "order_notes")
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            revise(session, "r1")
            order = Order(id=1, label="a")
            session.add(order)
            session.add(Order(id=2, label="other"))
            session.commit()
            revise(session, "r2: a note")
            order.notes["colour"] = "red"
            session.commit()
            revise(session, "r3: another order's note")
            session.get(Order, 2).notes["colour"] = "blue"
            session.commit()
            assert [r.message for r in order.all_related_revisions] == ["r2: a note", "r1"]
    finally:
        Base.metadata.drop_all(engine)
        _drop_schema(engine, schema)
