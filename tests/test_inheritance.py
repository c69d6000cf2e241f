"""Mapped inheritance of versioned classes: joined and single table.

The story of a company: employees are managers (joined table), directors
(a manager's subclass, one more joined table) or engineers (single table).
"""

import pytest
from history_helpers import rows
from inheritance_models import (
    CompanyBase,
    Department,
    Director,
    Employee,
    Engineer,
    Manager,
    Project,
    Skill,
)
from sqlalchemy import ForeignKey, String, case, event, inspect, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from vdm import ConfigurationError, NoRevisionError, Operation, State
from vdm.sqlalchemy import Repository, Revision, Revisioned, Stateful, as_of


@pytest.fixture
def session(engine):
    CompanyBase.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


@pytest.fixture
def repo(session):
    return Repository(CompanyBase.metadata, session)


def revise(session, message="change"):
    session.revision = Revision(author="hr", message=message)


@pytest.fixture
def company(session, repo):
    """r1: R&D with Ann (manager), Bob (engineer) and Cy (director)."""
    revise(session, "r1: hire")
    rnd = Department(name="R&D")
    ann = Manager(name="Ann", budget=100, department=rnd)
    bob = Engineer(name="Bob", language="python", department=rnd)
    cy = Director(name="Cy", budget=1000, board_seat="chair", department=rnd)
    session.add_all([ann, bob, cy])
    session.commit()
    return rnd, ann, bob, cy


def test_each_table_of_the_hierarchy_has_its_version_table(engine, session):
    tables = CompanyBase.metadata.tables
    assert [c.name for c in tables["manager_revision"].c] == [
        "id", "budget", "revision_id", "expired_id", "operation_type", "state"]
    assert [c.name for c in tables["manager_revision"].primary_key.columns] == [
        "id", "revision_id"]
    assert [c.name for c in tables["director_revision"].primary_key.columns] == [
        "id", "revision_id"]
    # Single-table inheritance: the engineer's column joins employee's tables.
    assert "language" in tables["employee_revision"].c
    assert "engineer_revision" not in tables
    # The subclass tables keep their own columns only.
    assert [c.name for c in tables["manager"].c] == ["id", "budget"]
    created = set(inspect(engine).get_table_names())
    assert {"employee_revision", "manager_revision", "director_revision"} <= created
    assert Manager.__revision_class__.__name__ == "ManagerRevision"
    assert issubclass(Director.__revision_class__, Manager.__revision_class__)
    assert issubclass(Engineer.__revision_class__, Employee.__revision_class__)


def test_a_change_to_a_subclass_writes_a_version_in_each_of_its_tables(
        session, company, engine, repo):
    rnd, ann, bob, cy = company
    revise(session, "r2: raise and rename")
    ann.budget = 150        # manager table only
    cy.name = "Cyrus"       # employee table only
    bob.language = "rust"   # the single table
    session.commit()
    assert rows(engine, "SELECT id, name, revision_id, expired_id, operation_type "
                        "FROM employee_revision ORDER BY id, revision_id") == [
        (ann.id, "Ann", 1, 2, Operation.INSERT), (ann.id, "Ann", 2, None, Operation.UPDATE),
        (bob.id, "Bob", 1, 2, Operation.INSERT), (bob.id, "Bob", 2, None, Operation.UPDATE),
        (cy.id, "Cy", 1, 2, Operation.INSERT), (cy.id, "Cyrus", 2, None, Operation.UPDATE),
    ]
    assert rows(engine, "SELECT id, budget, revision_id, expired_id, state "
                        "FROM manager_revision ORDER BY id, revision_id") == [
        (ann.id, 100, 1, 2, "active"), (ann.id, 150, 2, None, "active"),
        (cy.id, 1000, 1, 2, "active"), (cy.id, 1000, 2, None, "active"),
    ]
    assert rows(engine, "SELECT id, board_seat, revision_id, expired_id "
                        "FROM director_revision ORDER BY revision_id") == [
        (cy.id, "chair", 1, 2), (cy.id, "chair", 2, None)]
    assert repo.verify() == []


def test_as_of_reads_return_each_objects_own_version_class_with_its_fields(
        session, company):
    rnd, ann, bob, cy = company
    revise(session, "r2")
    ann.budget = 150
    bob.language = "rust"
    cy.board_seat = "member"
    session.commit()
    old_ann, old_bob, old_cy = (o.get_as_of(1) for o in (ann, bob, cy))
    assert type(old_ann) is Manager.__revision_class__
    assert (old_ann.name, old_ann.budget, old_ann.kind) == ("Ann", 100, "manager")
    assert type(old_bob) is Engineer.__revision_class__
    assert (old_bob.name, old_bob.language) == ("Bob", "python")
    assert type(old_cy) is Director.__revision_class__
    assert (old_cy.budget, old_cy.board_seat) == (1000, "chair")
    assert ann.get_as_of(2).budget == 150
    # Read through the base class: the same versions.
    employee = session.get(Employee, ann.id)
    assert employee is ann
    assert as_of(session, 1).get(Employee, ann.id).budget == 100
    # Relationships of the base class resolve as of the revision.
    assert old_ann.department.name == "R&D"
    assert [(type(e).__name__, e.name) for e in rnd.get_as_of(1).staff] == [
        ("ManagerRevision", "Ann"), ("EngineerRevision", "Bob"), ("DirectorRevision", "Cy")]
    assert old_ann.continuity is ann


def test_versions_changesets_and_diffs_of_subclasses_cover_every_table(session, company):
    _, ann, bob, cy = company
    revise(session, "r2")
    ann.budget = 150
    ann.name = "Bea"
    session.commit()
    revise(session, "r3")
    bob.delete()
    session.commit()
    assert [v.revision_id for v in ann.versions] == [1, 2]
    assert ann.versions[1].changeset == {"name": ["Ann", "Bea"], "budget": [100, 150]}
    assert ann.diff() == {"name": "- Ann\n+ Bea", "budget": "- 100\n+ 150"}
    assert bob.diff() == {"state": "- active\n+ deleted"}
    assert bob.get_as_of(3).state == State.DELETED
    assert cy.versions[0].changeset["board_seat"] == [None, "chair"]


def test_the_whole_model_view_queries_the_base_and_the_subclasses(session, company):
    _, ann, bob, cy = company
    revise(session, "r2")
    ann.budget = 5
    bob.name = "Robert"
    session.commit()
    view = as_of(session, 1)
    assert [(type(e).__name__, e.name) for e in view.all(Employee)] == [
        ("ManagerRevision", "Ann"), ("EngineerRevision", "Bob"), ("DirectorRevision", "Cy")]
    assert [m.name for m in view.scalars(select(Manager).where(Manager.budget > 50)
                                         .order_by(Manager.id))] == ["Ann", "Cy"]
    assert [m.name for m in as_of(session, 2).scalars(
        select(Manager).where(Manager.budget > 50))] == ["Cy"]
    assert [e.name for e in view.scalars(select(Engineer))] == ["Bob"]
    assert [e.name for e in as_of(session, 2).scalars(
        select(Employee).where(Employee.name == "Robert"))] == ["Robert"]
    assert [d.board_seat for d in view.all(Director)] == ["chair"]


def test_changes_list_changes_and_model_diff_name_the_subclasses(session, company, repo):
    _, ann, bob, cy = company
    revise(session, "r2")
    ann.budget = 150
    bob.language = "rust"
    session.commit()
    described = sorted(c.describe() for c in repo.changes(2).objects)
    assert described == ["Engineer(id=2) updated: language", "Manager(id=1) updated: budget"]
    assert {cls.__name__: [v.object_key for v in vs]
            for cls, vs in repo.list_changes(2).items() if vs} == {
        "Manager": [(ann.id,)], "Engineer": [(bob.id,)]}
    diff = repo.diff(1, 2)
    assert diff.classes["Manager"].changed == {(ann.id,): {"budget": (100, 150)}}
    assert diff.classes["Engineer"].changed == {(bob.id,): {"language": ("python", "rust")}}
    assert "Employee" not in diff.classes
    assert sorted(c.describe() for c in repo.changes(1).objects if c.class_name != "Department") \
        == ["Director(id=3) created", "Engineer(id=2) created", "Manager(id=1) created"]


def test_destroying_and_restoring_a_manager_brings_back_every_table(
        session, company, repo, engine):
    _, ann, bob, cy = company
    ann_id = ann.id
    revise(session, "r2: ann leaves")
    session.delete(ann)
    session.commit()
    assert rows(engine, "SELECT revision_id, operation_type FROM manager_revision "
                        "WHERE id = :i ORDER BY revision_id", i=ann_id) == [
        (1, Operation.INSERT), (2, Operation.DELETE)]
    assert as_of(session, 2).get(Employee, ann_id) is None
    assert repo.verify() == []
    revise(session, "r3: undo r2")
    repo.undo(2)
    session.commit()
    back = session.get(Employee, ann_id)
    assert type(back) is Manager and (back.name, back.budget) == ("Ann", 100)
    assert repo.verify() == []
    revise(session, "r4: back to r2")
    repo.restore(2)
    session.commit()
    assert session.get(Employee, ann_id) is None
    assert repo.verify() == []
    revise(session, "r5: back to r1")
    repo.restore(1)
    session.commit()
    assert type(session.get(Employee, ann_id)) is Manager
    assert repo.verify() == []


def test_purge_revision_rewrites_every_table_of_the_hierarchy(session, company, repo, engine):
    _, ann, _, cy = company
    revise(session, "r2")
    ann.budget = 150
    cy.board_seat = "member"
    session.commit()
    repo.purge_revision(2)
    assert rows(engine, "SELECT budget FROM manager WHERE id = :i", i=ann.id) == [(100,)]
    assert rows(engine, "SELECT board_seat FROM director") == [("chair",)]
    assert rows(engine, "SELECT count(*) FROM manager_revision WHERE revision_id = 2") == [(0,)]
    assert repo.verify() == []


def test_changing_a_subclass_field_without_a_revision_is_refused(session, company, engine):
    _, ann, _, _ = company
    ann.budget = 1
    with pytest.raises(NoRevisionError, match=r"^Manager\(id=1\) changed"):
        session.commit()
    session.rollback()
    assert rows(engine, "SELECT count(*) FROM manager_revision") == [(2,)]


def test_verify_finds_a_broken_subclass_table(session, company, repo, engine):
    _, ann, _, _ = company
    ann_id = ann.id
    session.rollback()
    with engine.begin() as conn:
        conn.execute(text("UPDATE manager SET budget = 7 WHERE id = :i"), {"i": ann_id})
    found = repo.verify()
    assert [(v.kind, v.table, v.key) for v in found] == [("head-mismatch", "manager", (ann_id,))]


def test_many_to_many_of_a_base_and_of_a_subclass_read_as_of_their_revision(
        session, company, repo):
    _, ann, bob, cy = company
    revise(session, "r2: skills and projects")
    go, sql = Skill(name="go"), Skill(name="sql")
    apollo = Project(name="apollo")
    ann.skills = [sql, go]
    ann.projects.append(apollo)
    bob.skills.append(go)
    session.commit()
    revise(session, "r3: ann drops go")
    ann.skills.remove(go)
    session.commit()
    assert ann.get_as_of(1).skills == [] and ann.get_as_of(1).projects == []
    assert [s.name for s in ann.get_as_of(2).skills] == ["go", "sql"]
    assert [s.name for s in ann.get_as_of(3).skills] == ["sql"]
    assert [p.name for p in ann.get_as_of(3).projects] == ["apollo"]
    assert [s.name for s in as_of(session, 2).get(Employee, bob.id).skills] == ["go"]
    assert repo.verify() == []
    revise(session, "r4: undo r3")
    repo.undo(3)
    session.commit()
    session.expire_all()
    assert [s.name for s in ann.skills] == ["go", "sql"]
    assert repo.verify() == []


def test_updating_100_managers_costs_the_same_statements_as_updating_one(session, engine):
    revise(session, "r1")
    managers = [Manager(name=f"m{i}", budget=i) for i in range(100)]
    session.add_all(managers)
    session.commit()
    counts = {}
    seen: list[str] = []

    def listener(conn, cursor, statement, *args):
        seen.append(statement)

    for count in (1, 100):
        for m in managers:
            m.budget  # noqa: B018 - loaded before the revision, as an application would
        revise(session, f"raise {count}")
        seen.clear()
        event.listen(engine, "before_cursor_execute", listener)
        for m in managers[:count]:
            m.budget += 1000
        session.commit()
        event.remove(engine, "before_cursor_execute", listener)
        counts[count] = len(seen)
    assert counts[1] == counts[100], counts


class _Other(DeclarativeBase):
    pass


def test_stateful_on_a_joined_subclass_only_is_refused_when_declared():
    class Vehicle(Revisioned, _Other):
        __tablename__ = "vehicle"
        id: Mapped[int] = mapped_column(primary_key=True)
        kind: Mapped[str] = mapped_column(String(10))
        __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "v"}

    with pytest.raises(ConfigurationError) as caught:
        class Truck(Stateful, Vehicle):
            __tablename__ = "truck"
            id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"), primary_key=True)
            __mapper_args__ = {"polymorphic_identity": "t"}
    assert str(caught.value) == (
        "Truck (table 'truck') has a column named 'state'; in joined inheritance "
        "only the base table 'vehicle' holds it, rename it")


def test_a_discriminator_that_is_not_a_column_is_refused_when_declared():
    with pytest.raises(ConfigurationError) as caught:
        class Shape(Revisioned, _Other):
            __tablename__ = "shape"
            id: Mapped[int] = mapped_column(primary_key=True)
            kind: Mapped[str] = mapped_column(String(10))
            __mapper_args__ = {
                "polymorphic_on": case((kind == "c", "circle"), else_="shape"),
                "polymorphic_identity": "shape",
            }
    assert str(caught.value).startswith("Shape is polymorphic on CASE WHEN")
    assert "discriminated by a column (polymorphic_on='column')" in str(caught.value)
