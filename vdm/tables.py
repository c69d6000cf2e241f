"""What the core's SQL knows of one versioned class: its tables and columns.

Each backend's per-class record (``Class.__versioning__``) carries one of
these as ``.tables_record`` so that core modules can write SQL for any
versioned class without knowing which ORM declared it.  Names are the
database's (column *names*, not attribute keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TableRecord:
    """The live table and version table of one versioned class (or of one
    table of a class in joined inheritance)."""

    #: The class name, as messages use it.
    name: str
    #: The live table.
    table: str
    #: The version table.
    version_table: str
    #: Primary key column names, in key order (the same in both tables).
    key_columns: tuple[str, ...]
    #: Attribute name -> column name, for every column of the live table but
    #: ``revision_id`` (the key among them; ``state`` when the class is Stateful).
    columns: dict[str, str] = field(default_factory=dict)
    #: Whether the live table has a ``state`` column.
    stateful: bool = False
    #: The schema both tables live in, when not the connection's default
    #: (SQLAlchemy's ``Table(schema=...)``).
    schema: str | None = None
    #: Whether the live rows carry ``revision_id`` (a versioned class's do;
    #: a versioned association table's do not).
    stamped: bool = True
    #: Columns compared as text, not as values: PostgreSQL's ``json`` has
    #: no equality (native versioning's triggers compare old and new rows).
    text_compared: frozenset[str] = frozenset()


def versioning_record(obj_or_cls: Any) -> Any:
    """The per-class versioning record (``__versioning__``) of a versioned
    object or class, else None.

    Looked up in the class's own namespace: a plain subclass of a versioned
    class is not itself versioned.
    """
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    return cls.__dict__.get("__versioning__")
