"""What the per-class versioning record means, written once for both backends.

Each backend's ``Class.__versioning__`` is a subclass of :class:`ClassRecord`:
the backend reads its ORM's declaration (a SQLAlchemy mapper, an SQLObject
``sqlmeta``) and fills the facts this class reads, and the rest (how
messages name the class and one of its objects, which fields a diff
compares, what the core's SQL sees of its tables) is the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vdm.errors import ConfigurationError
from vdm.naming import EXPIRED_ID, OPERATION_TYPE
from vdm.tables import TableRecord

#: The wording of a refused column that a version table adds itself.
VERSION_TABLE_NEEDS = ", which vdm's version table needs; rename it"


@dataclass(eq=False)
class ClassRecord:
    """What vdm knows about one versioned class, whatever its ORM.

    A backend's subclass fills :attr:`key_names` and :attr:`fields` and
    calls :meth:`record_tables` while it is built (in its
    ``__post_init__``).
    """

    cls: type[Any]
    #: How messages name the parts of the class's key, in key order.
    key_names: list[str] = field(init=False)
    #: Attribute -> column for diffs: the class's own columns (``state``
    #: among them only when the class is Stateful), no bookkeeping.
    fields: dict[str, str] = field(init=False)
    #: The class's own table as the core's SQL sees it.
    tables_record: TableRecord = field(init=False)

    @property
    def name(self) -> str:
        """The class name, as messages use it."""
        return self.cls.__name__

    def describe(self, key: Any) -> str:
        """``Book(id=1)``: how messages name one object.

        ``key`` is the key as a tuple, or its one value when the key has
        one part (SQLObject's ids).
        """
        values = key if isinstance(key, tuple) else (key,)
        pairs = ", ".join(f"{n}={v!r}" for n, v in zip(self.key_names, values, strict=True))
        return f"{self.name}({pairs})"

    def record_tables(self, table: str, version_table: str, key_columns: Sequence[str],
                      columns: Mapping[str, str], stateful: bool,
                      schema: str | None = None) -> None:
        """Set :attr:`tables_record` from the names of the class's own table.

        ``columns`` maps attribute names to column names, the key among
        them but not ``revision_id``; ``stateful`` says whether that table
        has a ``state`` column.
        """
        self.tables_record = TableRecord(
            name=self.name, table=table, version_table=version_table,
            key_columns=tuple(key_columns), columns=dict(columns), stateful=stateful,
            schema=schema)


def refuse_reserved_columns(
    columns: Iterable[str], subject: str, cls: Any,
    reserved: Sequence[str] = (EXPIRED_ID, OPERATION_TYPE), why: str = VERSION_TABLE_NEEDS,
) -> None:
    """Refuse a table declaring a column vdm adds itself (``expired_id``...).

    ``subject`` names the table in the message (``Book (table 'book')``);
    ``why`` says what the column is for and what to do.  Checked when the
    class is declared, so the clash never reaches a flush.
    """
    present = set(columns)
    for name in reserved:
        if name in present:
            raise ConfigurationError(f"{subject} has a column named {name!r}{why}", cls=cls)
