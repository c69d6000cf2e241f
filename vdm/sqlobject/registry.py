"""The per-class versioning record and the registry of versioned classes.

The bottom of vdm.sqlobject's layers: :class:`Versioning` is what vdm knows
about one versioned SQLObject class (its tables, columns, foreign keys and
links) and :data:`versioned_classes` lists one per class declared in the
process.  The mixins and event handlers (:mod:`vdm.sqlobject.declaration`,
:mod:`vdm.sqlobject.session`) build on it; this module imports no other
module of vdm.sqlobject.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, STATE
from vdm.records import ClassRecord
from vdm.tables import versioning_record

if TYPE_CHECKING:
    from vdm.sqlobject.versions import Version


@dataclass(frozen=True)
class ForeignKeyInfo:
    """A many-to-one of a versioned class: ``license`` via ``licenseID``."""

    name: str
    attr: str
    column: str
    target: str


@dataclass(eq=False)
class Versioning(ClassRecord):
    """What vdm knows about one versioned class (``Class.__versioning__``).

    What a record means is :class:`vdm.records.ClassRecord`'s; this one
    holds what SQLObject's declaration gives: names of columns and tables.
    """

    table: str
    id_name: str
    version_table: str
    stateful: bool
    #: (attribute name, column name) of every live column but the id.
    columns: list[tuple[str, str]]
    foreign_keys: dict[str, ForeignKeyInfo]
    #: Versioned link collections and maps of the class (``tags``), by name
    #: (:class:`vdm.sqlobject.links.LinkSpec`).
    links: dict[str, Any] = field(default_factory=dict)
    version_class: type[Version] = field(init=False)

    def __post_init__(self) -> None:
        self.key_names = [self.id_name]
        # The id is a field: diffs and restores name it "id", whatever its column.
        self.fields = {"id": self.id_name,
                       **{a: c for a, c in self.columns if c != REVISION_ID}}
        self.record_tables(self.table, self.version_table, (self.id_name,), self.fields,
                           self.stateful)

    @property
    def live_columns(self) -> list[str]:
        """Column names of the live table, the id first."""
        return [self.id_name] + [c for _, c in self.columns]

    @property
    def version_columns(self) -> list[str]:
        """Column names of the version table, in order."""
        extra = [] if self.stateful else [STATE]
        return [*self.live_columns, EXPIRED_ID, OPERATION_TYPE, *extra]

    @property
    def attributes(self) -> dict[str, str]:
        """Attribute -> column for every column of the version table."""
        out = {"id": self.id_name}
        out.update(dict(self.columns))
        for name in (EXPIRED_ID, OPERATION_TYPE, STATE):
            out.setdefault(name, name)
        return out

    def join(self, name: str) -> Any:
        """The SQLObject ``MultipleJoin`` called ``name``, or None."""
        for j in self.cls.sqlmeta.joins:
            if getattr(j, "joinMethodName", None) == name:
                return j
        return None


#: The :class:`Versioning` of a versioned object or class, else None.
versioning_of: Callable[[Any], Versioning | None] = versioning_record


#: Every versioned SQLObject class declared in this process.
versioned_classes: list[Versioning] = []
