"""The columns vdm adds to a versioned class, and the ``Stateful`` mixin.

:class:`RevisionedColumns` gives a versioned class its ``revision_id``
column and ``revision`` relationship; :class:`Stateful` its ``state`` and
soft delete.  :class:`vdm.sqlalchemy.Revisioned` adds the history readers on
top (in :mod:`vdm.sqlalchemy.mapping`); the flush hooks
(:mod:`vdm.sqlalchemy.session`) listen on :class:`RevisionedColumns`, which
sits below the readers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Integer, MetaData, Table
from sqlalchemy.orm import Mapped, Mapper, declared_attr, foreign, mapped_column, relationship

from vdm.errors import ConfigurationError
from vdm.naming import REVISION_ID, STATE, live_foreign_key_name
from vdm.sqlalchemy.registry import Versioning, versioning_of
from vdm.sqlalchemy.revision import Revision, attach_revision_tables, revision_table
from vdm.sqlalchemy.types import StateType
from vdm.statefulness import StatefulMethods
from vdm.states import State

if TYPE_CHECKING:
    from vdm.sqlalchemy.versions import Version


#: ``Column.info`` key of a ``revision_id`` whose foreign key waits for its table.
_DEFERRED_FK = "vdm.revision_foreign_key"


def _own_column(cls: Any, name: str) -> Any:
    """The column ``name`` of the explicit ``__table__`` ``cls`` is mapped to,
    if it brings one (else None: the mixin declares the column)."""
    table = cls.__dict__.get("__table__")
    return table.c[name] if table is not None and name in table.c else None


def _revision_column(cls: Any) -> Any:
    """``revision_id``, with its foreign key to the metadata's own revision table.

    A column object rather than the string ``"revision.id"``, which a
    ``MetaData(schema=...)`` would look up in its own schema; named, since
    MariaDB's own names overflow for long table names.  A class without a
    ``metadata`` attribute (``registry.mapped``) gets the foreign key when
    its table is known (:func:`make_versioned`).
    """
    table_name = cls.__dict__.get("__tablename__") or getattr(cls, "__tablename__", None)
    name = live_foreign_key_name(table_name) if isinstance(table_name, str) else None
    metadata = getattr(cls, "metadata", None)
    if isinstance(metadata, MetaData):
        fk = ForeignKey(attach_revision_tables(metadata).c.id, name=name)
        return mapped_column(REVISION_ID, Integer, fk, index=True, nullable=True)
    return mapped_column(REVISION_ID, Integer, index=True, nullable=True,
                         info={_DEFERRED_FK: True})


def add_revision_foreign_key(table: Table) -> None:
    """Give ``table``'s ``revision_id`` the foreign key it waited for.

    (See :func:`_revision_column`: a class without a ``metadata`` attribute.)
    """
    column = table.c[REVISION_ID]
    if column.info.pop(_DEFERRED_FK, False) and not column.foreign_keys:
        table.append_constraint(ForeignKeyConstraint(
            [column], [attach_revision_tables(table.metadata).c.id],
            name=live_foreign_key_name(table.name)))


def mapped_table(mapper: Mapper[Any], cls: type) -> Table:
    """The table ``cls`` is mapped to; refused when it is not a table (a join, a select)."""
    table = mapper.local_table
    if not isinstance(table, Table):
        raise ConfigurationError(
            f"{cls.__name__} is mapped to a {type(table).__name__}, not a "
            f"table; only classes mapped to a table can be versioned",
            cls=cls,
        )
    return table


class RevisionedColumns:
    """The columns part of :class:`vdm.sqlalchemy.Revisioned`.

    Adds ``revision_id`` (the revision that last changed the row) and the
    read-only ``revision`` relationship.  Every versioned class derives from
    it through ``Revisioned``, so the flush hooks listen on this class.
    """

    __versioning__: ClassVar[Versioning]
    __revision_class__: ClassVar[type[Version]]

    if TYPE_CHECKING:
        revision_id: Mapped[int | None]
        revision: Mapped[Revision | None]
    else:
        # The declared attributes carry no annotation, so that they are not
        # dataclass fields of MappedAsDataclass classes (vdm sets them; they
        # are not constructor arguments).  Type checkers see the ones above.

        @declared_attr
        def revision_id(cls):
            """The id of the revision that last changed this object."""
            own = _own_column(cls, REVISION_ID)
            return own if own is not None else _revision_column(cls)

        @declared_attr
        def revision(cls):
            """The revision that last changed this object (read-only)."""
            return relationship(
                Revision,
                primaryjoin=lambda: (
                    foreign(cls.__table__.c[REVISION_ID]) == revision_table.c.id
                ),
                viewonly=True,
                lazy="select",
            )


class Stateful(StatefulMethods):
    """Mixin for objects with a versioned ``state``: soft delete and undelete."""

    if TYPE_CHECKING:
        state: Mapped[State]
    else:

        @declared_attr
        def state(cls):
            """``active``, ``deleted`` or ``pending``."""
            own = _own_column(cls, STATE)
            if own is not None:
                return own
            # No server default: SQLAlchemy would then fetch it back with
            # RETURNING one row at a time on SQLite instead of batching inserts.
            return mapped_column(
                STATE, StateType, nullable=False, default=State.ACTIVE,
            )

    def delete(self) -> None:
        """Mark this object deleted (undoable; versioned like any change)."""
        setattr(self, _state_key(self), State.DELETED)


def _state_key(obj: Any) -> str:
    versioning = versioning_of(obj)
    return versioning.state_key if versioning is not None else STATE


