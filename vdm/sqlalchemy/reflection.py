"""Any vdm database, read without its Python model: the schema by reflection.

The history of a vdm database is in public tables (see ``doc/schema.rst``),
so tools need not import the application's classes to read it.  This
module finds them by reflection: the ``revision`` table, and every table
``T`` that has a ``T_revision`` table with ``expired_id`` and
``operation_type`` columns::

    with engine.connect() as connection:
        model = ReflectedModel(connection)       # NotVdmDatabaseError if it is not one
        [h.name for h in model.histories]        # ['author', 'book']
        model.revisions(limit=10, author="ann")  # newest first, plain data
        book = model.history("book")             # UnknownTableError if not versioned
        book.parse_key("1")                      # (1,): MalformedKeyError if not a key
        verify_history(connection, model.histories)

A :class:`ReflectedHistory` has what
:func:`vdm.sqlalchemy.verification.verify_history` reads from a versioned
class (``table``, ``version_table``, ``key_names``, ``name``,
``describe(key)``), with ``cls`` None.  Each also describes its table
with the core's :class:`vdm.tables.TableRecord` (``record``) and
:class:`vdm.tablereading.VersionTable` (``reading``: how this database's
values decode), so what a revision changed, model diffs and blame are read
by :mod:`vdm.tablereading`: a :class:`ReflectedModel` is the core's
:class:`~vdm.tablereading.TableHistories` (``model.row_changes(2)``,
``model.diff_tables(1, 3)``, ``model.blame_row(book, (1,))``), which
``vdm show``, ``diff``, ``blame`` and ``vdm serve`` call.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Column, Connection, Dialect, MetaData, Table, inspect

from vdm.changes import Key, RevisionRecord, iso_utc
from vdm.errors import (
    MalformedKeyError,
    NotVdmDatabaseError,
)
from vdm.naming import (
    BOOKKEEPING_COLUMNS,
    EXPIRED_ID,
    OPERATION_TYPE,
    REVISION_ID,
    REVISION_TABLE,
    STATE,
    revision_table_name,
)
from vdm.repository import naive_utc
from vdm.sqlalchemy.verification import Violation, verify_history
from vdm.tablereading import Decoders, RevisionTable, TableHistories, VersionTable
from vdm.tables import TableRecord

if TYPE_CHECKING:
    from vdm.sqlalchemy.mapping import Versioning

__all__ = [
    "Key",
    "ReflectedHistory",
    "ReflectedModel",
    "RevisionRecord",
    "iso_utc",
    "naive_utc",
]


def _decoders(columns: Iterable[Column[Any]], dialect: Dialect) -> Decoders:
    # What SQLAlchemy would do to each value read (SQLite keeps dates as
    # text, say); a type that needs the driver's type code to decide (a
    # PostgreSQL number) gets the driver's value as it is, as it would.
    found: dict[str, Callable[[Any], Any]] = {}
    for column in columns:
        try:
            decode = column.type.dialect_impl(dialect).result_processor(dialect, None)
        except (TypeError, ValueError, NotImplementedError):
            decode = None
        if decode is not None:
            found[column.name] = decode
    return found


def _encoders(columns: Iterable[Column[Any]], dialect: Dialect) -> Decoders:
    # How SQLAlchemy binds a value of each column (a key's parts).
    found: dict[str, Callable[[Any], Any]] = {}
    for column in columns:
        encode = column.type.dialect_impl(dialect).bind_processor(dialect)
        if encode is not None:
            found[column.name] = encode
    return found


class ReflectedHistory:
    """One versioned table ``T`` and its version table ``T_revision``.

    ``fields`` are the columns diffs compare: those of ``T`` that the
    version table copies, ``state`` included, bookkeeping excluded.
    """

    #: There is no Python class behind a reflected table.
    cls: type | None = None
    #: No versioned-link declarations either: verify_history's duplicate-link
    #: checks need the application's model, so reflection runs without them.
    links: dict[str, Any] = {}

    def __init__(self, table: Table, version_table: Table, dialect: Dialect) -> None:
        self.table = table
        self.version_table = version_table
        live_key = [c.name for c in table.primary_key.columns]
        if not live_key:
            # A live table reflected without its key (a view, say): the
            # version table's key is T's key followed by revision_id.
            live_key = [c.name for c in version_table.primary_key.columns
                        if c.name != REVISION_ID]
        self.key_names: list[str] = live_key
        self.fields: list[str] = [
            c.name for c in table.columns
            if c.name in version_table.c and c.name not in BOOKKEEPING_COLUMNS
        ]
        #: The table as the core's SQL knows it (columns by their names).
        self.record = TableRecord(
            name=table.name, table=table.name, version_table=version_table.name,
            key_columns=tuple(self.key_names), columns={f: f for f in self.fields},
            stateful=STATE in self.fields,
        )
        #: How :mod:`vdm.tablereading` reads it on this database.
        self.reading = VersionTable(
            self.record, tuple(self.fields),
            decode=_decoders(version_table.columns, dialect),
            encode=_encoders(version_table.columns, dialect),
            quote=dialect.identifier_preparer.quote,
        )

    def __repr__(self) -> str:
        return f"<ReflectedHistory {self.name}>"

    @property
    def name(self) -> str:
        """The live table's name, as messages use it."""
        return self.table.name

    def describe(self, key: Key) -> str:
        """``book(id=1)``: how messages name one row."""
        return self.reading.describe(key)

    def key_dict(self, key: Key) -> dict[str, Any]:
        """``{"id": 1}``: a key with its column names."""
        return dict(zip(self.key_names, key, strict=True))

    def parse_key(self, text: str) -> Key:
        """The key written as ``text`` (values comma-separated, in key order).

        Each value is converted to its column's type; raises
        :class:`MalformedKeyError` when the count or a value does not fit.
        """
        parts = [part.strip() for part in text.split(",")]
        names = ", ".join(self.key_names)
        if len(parts) != len(self.key_names):
            raise MalformedKeyError(
                f"malformed key {text!r} for table {self.name}: expected "
                f"{len(self.key_names)} comma-separated value(s), one for each "
                f"key column ({names})", table=self.name, key=text,
            )
        key = []
        for name, part in zip(self.key_names, parts, strict=True):
            try:
                key.append(_convert(self.version_table.c[name], part))
            except (TypeError, ValueError, decimal.InvalidOperation):
                raise MalformedKeyError(
                    f"malformed key {text!r} for table {self.name}: {part!r} is "
                    f"not a value of column {name} ({self.version_table.c[name].type})",
                    table=self.name, key=text, field=name,
                ) from None
        return tuple(key)


def _convert(column: Column[Any], text: str) -> Any:
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return text
    if python_type is bool:
        lowered = text.lower()
        if lowered not in ("0", "1", "true", "false"):
            raise ValueError(text)
        return lowered in ("1", "true")
    if python_type in (dt.datetime, dt.date, dt.time):
        return python_type.fromisoformat(text)
    if python_type is decimal.Decimal:
        return decimal.Decimal(text)
    if python_type in (int, float, str):
        return python_type(text)
    return text


class ReflectedModel(TableHistories[ReflectedHistory]):
    """The history tables of one vdm database, found by reflection and read
    by the core (:class:`vdm.tablereading.TableHistories`).

    Raises :class:`NotVdmDatabaseError` when the database has no
    ``revision`` table.
    """

    def __init__(self, connection: Connection) -> None:
        dialect = connection.dialect
        names = set(inspect(connection).get_table_names())
        if REVISION_TABLE not in names:
            raise NotVdmDatabaseError(
                "it has no revision table, so vdm never wrote to it"
            )
        candidates = sorted(t for t in names if revision_table_name(t) in names)
        self.metadata = MetaData()
        self.metadata.reflect(
            connection,
            only=[REVISION_TABLE, *candidates, *(revision_table_name(t) for t in candidates)],
        )
        tables = self.metadata.tables
        #: The ``revision`` table.
        self.revision_table: Table = tables[REVISION_TABLE]
        histories = {
            name: ReflectedHistory(tables[name], tables[revision_table_name(name)], dialect)
            for name in candidates
            if {EXPIRED_ID, OPERATION_TYPE} <= set(tables[revision_table_name(name)].c.keys())
        }
        super().__init__(connection, RevisionTable(
            tuple(c.name for c in self.revision_table.columns),
            decode=_decoders(self.revision_table.columns, dialect),
            encode=_encoders(self.revision_table.columns, dialect),
            quote=dialect.identifier_preparer.quote,
        ), histories)

    def verify(self) -> list[Violation]:
        """Check the history invariants of every versioned table (``Repository.verify``)."""
        # verify_history reads only what a ReflectedHistory has in common
        # with a Versioning (table, version_table, key_names, name, describe).
        histories = cast("list[Versioning]", self.histories)
        return verify_history(self.connection, histories)
