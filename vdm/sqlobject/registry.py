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
from vdm.tables import TableRecord, versioning_record

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
class Versioning:
    """What vdm knows about one versioned class (``Class.__versioning__``)."""

    cls: type[Any]
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
    #: The class's tables as the core's SQL sees them.
    tables_record: TableRecord = field(init=False)

    def __post_init__(self) -> None:
        self.tables_record = TableRecord(
            name=self.cls.__name__, table=self.table, version_table=self.version_table,
            key_columns=(self.id_name,),
            columns={"id": self.id_name, **{a: c for a, c in self.columns if c != REVISION_ID}},
            stateful=self.stateful,
        )

    @property
    def name(self) -> str:
        """The class name, as messages use it."""
        return self.cls.__name__

    @property
    def live_columns(self) -> list[str]:
        """Column names of the live table, the id first."""
        return [self.id_name] + [c for _, c in self.columns]

    @property
    def fields(self) -> dict[str, str]:
        """Attribute -> column for diffs: own columns (``state`` if Stateful), no bookkeeping."""
        out = {"id": self.id_name}
        out.update({a: c for a, c in self.columns if c != REVISION_ID})
        return out

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

    def describe(self, key: Any) -> str:
        """``Book(id=1)``: how messages name one object."""
        return f"{self.name}({self.id_name}={key!r})"

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
