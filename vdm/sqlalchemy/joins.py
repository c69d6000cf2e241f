"""Relationship join conditions read as of a revision.

A version resolves a relationship of its live class with the relationship's
own join condition, so a custom ``primaryjoin`` keeps its meaning in the
past::

    class Dataset(Revisioned, Base):
        primary_labels = relationship(
            "Label", viewonly=True,
            primaryjoin="and_(Dataset.id == Label.dataset_id, Label.primary)")

    dataset.get_as_of(r1).primary_labels   # the labels flagged primary then

The object's own columns take the values stored in the version and the
target's columns are read from its version table.  A join that needs a
third table cannot be read that way; it is refused when the mappers are
configured (:class:`vdm.ConfigurationError`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, event, literal
from sqlalchemy.orm import Mapper, RelationshipProperty
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import ColumnClause

from vdm.errors import ConfigurationError
from vdm.sqlalchemy.columns import RevisionedColumns
from vdm.sqlalchemy.registry import Versioning, versioned_mappers


def join_as_of(
    prop: RelationshipProperty[Any], own: Versioning, target: Versioning | None,
    value_of: Callable[[Any], Any],
) -> ColumnElement[bool]:
    """``prop``'s join condition for one version of an ``own`` object.

    ``value_of(column)`` gives the version's value of one of its columns;
    a target that is not versioned (``target`` None) is read live.
    """

    def replace(element: Any, **kw: Any) -> Any:
        if not isinstance(element, ColumnClause):
            return None
        if "remote" in element._annotations:
            if target is not None and element.table in target.tables:
                # In joined inheritance, the table of the hierarchy holding it.
                return target.version_column(element)
            return None
        if element.table in own.tables:
            return literal(value_of(element), element.type)
        return None

    return visitors.replacement_traverse(prop.primaryjoin, {}, replace)


def _columns(clause: Any) -> list[Any]:
    found: list[Any] = []
    visitors.traverse(clause, {}, {"column": found.append})
    return found


@event.listens_for(RevisionedColumns, "mapper_configured", propagate=True)
def _check_joins(mapper: Mapper[Any], cls: type) -> None:
    """Refuse a relationship whose join a version could not read."""
    if mapper not in versioned_mappers:
        return
    for prop in mapper.relationships:
        if prop.secondary is not None:
            continue
        own, target = set(mapper.tables), set(prop.mapper.tables)
        for column in _columns(prop.primaryjoin):
            remote = "remote" in column._annotations
            if column.table in (target if remote else own):
                continue
            raise ConfigurationError(
                f"{cls.__name__}.{prop.key} joins through "
                f"{column.table.name}.{column.name}; a version can read a "
                f"relationship as of its revision only when its primaryjoin "
                f"uses columns of {cls.__name__}'s and "
                f"{prop.mapper.class_.__name__}'s tables (use secondary= for a "
                f"table in between)",
                cls=cls,
            )
