"""A company as applications model it: employees, managers and engineers.

``Manager`` uses joined-table inheritance (a table of its own),
``Engineer`` single-table inheritance (the ``employee`` table);
``Director`` inherits from ``Manager`` (two levels of joined tables).
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from vdm.sqlalchemy import Revisioned, Stateful


class CompanyBase(DeclarativeBase):
    pass


class Department(Revisioned, CompanyBase):
    __tablename__ = "department"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    staff: Mapped[list[Employee]] = relationship(
        back_populates="department", order_by="Employee.id")


employee_skill = Table(
    "employee_skill", CompanyBase.metadata,
    Column("employee_id", ForeignKey("employee.id"), primary_key=True),
    Column("skill_id", ForeignKey("skill.id"), primary_key=True),
)

manager_project = Table(
    "manager_project", CompanyBase.metadata,
    Column("manager_id", ForeignKey("manager.id"), primary_key=True),
    Column("project_id", ForeignKey("project.id"), primary_key=True),
)


class Skill(Revisioned, CompanyBase):
    __tablename__ = "skill"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Project(Revisioned, CompanyBase):
    __tablename__ = "project"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Employee(Revisioned, Stateful, CompanyBase):
    __tablename__ = "employee"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    department: Mapped[Department | None] = relationship(back_populates="staff")
    skills: Mapped[list[Skill]] = relationship(secondary=employee_skill, order_by=Skill.name)
    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "employee"}


class Manager(Employee):
    __tablename__ = "manager"
    id: Mapped[int] = mapped_column(ForeignKey("employee.id"), primary_key=True)
    budget: Mapped[int | None]
    projects: Mapped[list[Project]] = relationship(
        secondary=manager_project, order_by=Project.name)
    __mapper_args__ = {"polymorphic_identity": "manager"}


class Director(Manager):
    __tablename__ = "director"
    id: Mapped[int] = mapped_column(ForeignKey("manager.id"), primary_key=True)
    board_seat: Mapped[str | None] = mapped_column(String(20))
    __mapper_args__ = {"polymorphic_identity": "director"}


class Engineer(Employee):
    language: Mapped[str | None] = mapped_column(String(20))
    __mapper_args__ = {"polymorphic_identity": "engineer"}
