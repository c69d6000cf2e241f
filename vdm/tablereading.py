"""Reading history from the tables alone: any caller with :class:`TableRecord`s.

The backends read versions as their ORM's objects; a tool that has no
Python model (the ``vdm`` command line, ``vdm serve``) reads the same
tables as plain rows.  What those rows mean -- which versions a revision
wrote or expired, which rows were live as of a revision, a row's versions
-- is written here once, as SQL text over the shared schema run through a
:class:`vdm.sql.Sql`, and classified by :mod:`vdm.changes`::

    tables = [VersionTable.of(record) for record in records]
    row_changes(sql, tables, 2)          # [RowChange(table, key, kind, fields)]
    diff_tables(sql, tables, 1, 3)       # [TableDiff(table, added, removed, changed)]
    blame_row(sql, revisions, book, (1,))  # RowBlame: field -> RevisionRecord

Each reads a constant number of set-based queries per versioned table.
Values come back as the database driver gives them unless the
:class:`VersionTable` carries a decoder for the column (SQLite keeps dates
as text, say); names are written into the SQL as the table's ``quote``
gives them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from vdm.changes import (
    FieldBlame,
    Key,
    RevisionRecord,
    RowBlame,
    RowChange,
    TableDiff,
    blame_fields,
    classify_change,
    diff_table,
)
from vdm.errors import RevisionNotFoundError, UnknownRowError, UnknownTableError
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, REVISION_TABLE
from vdm.operations import Operation
from vdm.repository import naive_utc
from vdm.sql import Sql, scalar, sql_of
from vdm.tables import TableRecord
from vdm.versionreading import current_as_of

#: A LIMIT that keeps every row: the three databases want one before an OFFSET.
_NO_LIMIT = 2**62

#: Column name -> how to turn what the driver returns into the column's value.
Decoders = Mapping[str, Callable[[Any], Any]]


def _same(name: str) -> str:
    return name


def _coded(codecs: Decoders, name: str, value: Any) -> Any:
    # NULL is NULL in every type: codecs only see values.
    codec = codecs.get(name)
    return codec(value) if codec is not None and value is not None else value


@dataclass(frozen=True)
class VersionTable:
    """One versioned table as this module reads it: its record, the fields
    compared (column names, key and ``state`` included), and how to decode
    and encode values and quote names for this database."""

    record: TableRecord
    fields: tuple[str, ...]
    #: Decoders of values read, by column name.
    decode: Decoders = field(default_factory=dict)
    #: Encoders of values bound as parameters (a key's parts), by column name.
    encode: Decoders = field(default_factory=dict)
    #: How SQL writes a table or column name.
    quote: Callable[[str], str] = _same

    @classmethod
    def of(cls, record: TableRecord, **options: Any) -> VersionTable:
        """The table of ``record``, comparing each of its columns."""
        return cls(record, tuple(record.columns.values()), **options)

    @property
    def name(self) -> str:
        """The live table's name, as messages use it."""
        return self.record.table

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The key's column names, in key order."""
        return self.record.key_columns

    def describe(self, key: Key) -> str:
        """``book(id=1)``: how messages name one row."""
        pairs = ", ".join(f"{n}={v!r}" for n, v in zip(self.key_columns, key, strict=True))
        return f"{self.name}({pairs})"

    @property
    def _read(self) -> tuple[str, ...]:
        return (*self.fields, REVISION_ID, EXPIRED_ID, OPERATION_TYPE)

    def select(self, where: str, order_by_key: bool = False, limit: int | None = None,
               offset: int = 0) -> str:
        """SQL: this table's versions that match ``where`` (names as :attr:`quote`
        writes them), in key order if asked, at most ``limit`` past ``offset``."""
        q = self.quote
        columns = ", ".join(q(c) for c in self._read)
        order = ""
        if order_by_key:
            order = " ORDER BY " + ", ".join(q(c) for c in (*self.key_columns, REVISION_ID))
        if limit is not None or offset:
            order += f" LIMIT {_NO_LIMIT if limit is None else int(limit)} OFFSET {int(offset)}"
        return f"SELECT {columns} FROM {q(self.record.version_table)} WHERE {where}{order}"

    def key_where(self, key: Key, columns: Sequence[str] | None = None,
                  prefix: str = "vdm_key") -> tuple[str, dict[str, Any]]:
        """SQL condition and parameters: ``columns`` (default: the key's) hold ``key``."""
        columns = self.key_columns if columns is None else columns
        terms, params = [], {}
        for i, (column, value) in enumerate(zip(columns, key, strict=True)):
            terms.append(f"{self.quote(column)} = :{prefix}_{i}")
            params[f"{prefix}_{i}"] = _coded(self.encode, column, value)
        return " AND ".join(terms), params

    def read(self, sql: Sql, where: str, params: Mapping[str, Any] | None = None,
             order_by_key: bool = False, limit: int | None = None,
             offset: int = 0) -> list[VersionRow]:
        """The versions ``where`` selects (see :meth:`select`), as :class:`VersionRow`s."""
        names = self._read
        found = []
        for raw in sql.rows(self.select(where, order_by_key, limit, offset), params):
            row = {name: _coded(self.decode, name, value)
                   for name, value in zip(names, raw, strict=True)}
            found.append(VersionRow(self, row))
        return found


class VersionRow(Mapping[str, Any]):
    """One row of a version table: its columns by name (bookkeeping included)."""

    __slots__ = ("_row", "_table")

    def __init__(self, table: VersionTable, row: dict[str, Any]) -> None:
        self._table = table
        self._row = row

    def __getitem__(self, name: str) -> Any:
        return self._row[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)

    def __repr__(self) -> str:
        return f"<VersionRow {self._table.describe(self.key)} r{self.revision_id}>"

    @property
    def key(self) -> Key:
        """The row's key, in key order."""
        return tuple(self._row[c] for c in self._table.key_columns)

    @property
    def revision_id(self) -> int:
        """The revision that wrote this version."""
        return int(self._row[REVISION_ID])

    @property
    def operation_type(self) -> Operation:
        """What the write was (a delete version holds the row's last values)."""
        return Operation(self._row[OPERATION_TYPE])

    def valid_at(self, revision_id: int) -> bool:
        """Whether this version is the row's as of ``revision_id`` (a delete too)."""
        expired = self._row[EXPIRED_ID]
        return self.revision_id <= revision_id and (expired is None or expired > revision_id)

    @property
    def field_values(self) -> dict[str, Any] | None:
        """``{field: value}``, or None when this version records a delete."""
        if self.operation_type == Operation.DELETE:
            return None
        return {name: self._row[name] for name in self._table.fields}


class _AsVersion:
    # A row as vdm.changes reads a version: fields as attributes (a field may
    # be called ``key`` or ``values``, which a Mapping already means).
    __slots__ = ("_fields", "operation_type", "revision_id")

    def __init__(self, row: VersionRow) -> None:
        self.operation_type = row.operation_type
        self.revision_id = row.revision_id
        self._fields = row

    def __getattr__(self, name: str) -> Any:
        return self._fields[name]


def values_of(row: VersionRow | None) -> dict[str, Any] | None:
    """A version's values; None when there is none or it records a delete."""
    return None if row is None else row.field_values


# -- reading versions --------------------------------------------------------


def versions_written(sql: Sql, table: VersionTable, revision_id: int) -> list[VersionRow]:
    """The versions revision ``revision_id`` wrote in ``table``, in key order."""
    found = table.read(sql, f"{REVISION_ID} = :vdm_rid", {"vdm_rid": revision_id})
    return sorted(found, key=lambda row: row.key)


def versions_expired(sql: Sql, table: VersionTable, revision_id: int) -> dict[Key, VersionRow]:
    """``{key: version}`` of the versions revision ``revision_id`` replaced in ``table``."""
    found = table.read(sql, f"{EXPIRED_ID} = :vdm_rid", {"vdm_rid": revision_id})
    return {row.key: row for row in found}


def rows_as_of(sql: Sql, table: VersionTable, revision_id: int) -> dict[Key, dict[str, Any]]:
    """``{key: values}`` of every row of ``table`` live as of ``revision_id``, in key order."""
    found = {row.key: row.field_values for row in table.read(sql, current_as_of(revision_id))}
    return {k: v for k, v in sorted(found.items()) if v is not None}


def live_rows_as_of(sql: Sql, table: VersionTable, revision_id: int,
                    key: Key | None = None, columns: Sequence[str] | None = None,
                    limit: int | None = None, offset: int = 0) -> list[VersionRow]:
    """The versions of ``table`` live as of ``revision_id``, in key order: all
    of them, or those whose ``columns`` (default: the key's) hold ``key``;
    at most ``limit`` past ``offset``."""
    where = current_as_of(revision_id)
    params: dict[str, Any] = {}
    if key is not None:
        matching, params = table.key_where(key, columns)
        where = f"{matching} AND {where}"
    return table.read(sql, where, params, order_by_key=True, limit=limit, offset=offset)


def versions_where(sql: Sql, table: VersionTable, columns: Sequence[str],
                   key: Key) -> list[VersionRow]:
    """Every version of ``table`` whose ``columns`` hold ``key`` (the rows that
    refer to one row, say), in key order, each row's oldest first."""
    where, params = table.key_where(key, columns)
    return table.read(sql, where, params, order_by_key=True)


def row_versions(sql: Sql, table: VersionTable, key: Key) -> list[VersionRow]:
    """Every version of the row ``key``, oldest first: one primary-key range read.

    Raises :class:`UnknownRowError` when no revision ever wrote that key.
    """
    where, params = table.key_where(key)
    found = table.read(sql, where, params, order_by_key=True)
    if not found:
        raise UnknownRowError(
            f"{table.describe(key)} has no history: no revision ever wrote that key",
            table=table.name, key=key,
        )
    return found


def change_counts(sql: Sql, tables: Iterable[VersionTable],
                  ids: Sequence[int]) -> dict[int, int]:
    """``{revision id: versions it wrote}``: one grouped query per table."""
    counts = dict.fromkeys(ids, 0)
    if not ids:
        return counts
    params = {f"vdm_r{i}": rid for i, rid in enumerate(ids)}
    wanted = ", ".join(f":{name}" for name in params)
    for table in tables:
        for revision_id, count in sql.rows(
                f"SELECT {REVISION_ID}, COUNT(*) FROM {table.quote(table.record.version_table)} "
                f"WHERE {REVISION_ID} IN ({wanted}) GROUP BY {REVISION_ID}", params):
            counts[int(revision_id)] += int(count)
    return counts


# -- revisions ---------------------------------------------------------------


@dataclass(frozen=True)
class RevisionTable:
    """The ``revision`` table as this module reads it: the columns it has and
    how to decode their values."""

    columns: tuple[str, ...]
    decode: Decoders = field(default_factory=dict)
    #: Encoders of values bound as parameters, by column name (``timestamp``).
    encode: Decoders = field(default_factory=dict)
    quote: Callable[[str], str] = _same

    def _filters(self, author: str | None, since: dt.datetime | None,
                 until: dt.datetime | None) -> tuple[list[str], dict[str, Any]]:
        terms: list[str] = []
        params: dict[str, Any] = {}
        for name, column, test, value in (
                ("vdm_author", "author", "=", author),
                ("vdm_since", "timestamp", ">=", naive_utc(since) if since else None),
                ("vdm_until", "timestamp", "<=", naive_utc(until) if until else None)):
            if value is not None:
                terms.append(f"{self.quote(column)} {test} :{name}")
                params[name] = _coded(self.encode, column, value)
        return terms, params

    def page(self, sql: Sql, limit: int | None = None, offset: int = 0,
             author: str | None = None, since: dt.datetime | None = None,
             until: dt.datetime | None = None, before: int | None = None,
             wrote: VersionTable | None = None) -> list[RevisionRecord]:
        """Revisions, newest first, filtered by author and time (UTC, inclusive).

        ``before`` keeps the revisions with a smaller id (paging by key, an
        index walk however deep the page); ``wrote`` those that wrote a
        version of that table.
        """
        terms, params = self._filters(author, since, until)
        if before is not None:
            terms.append("id < :vdm_before")
            params["vdm_before"] = before
        if wrote is not None:
            vt = wrote.quote(wrote.record.version_table)
            terms.append(f"EXISTS (SELECT 1 FROM {vt} WHERE {vt}.{REVISION_ID} = "
                         f"{self.quote(REVISION_TABLE)}.id)")
        text = (f"SELECT {', '.join(self.quote(c) for c in self.columns)} "
                f"FROM {self.quote(REVISION_TABLE)}")
        if terms:
            text += f" WHERE {' AND '.join(terms)}"
        text += " ORDER BY id DESC"
        if limit is not None or offset:
            text += f" LIMIT {_NO_LIMIT if limit is None else int(limit)} OFFSET {int(offset)}"
        return self.records(sql.rows(text, params))

    def count(self, sql: Sql, author: str | None = None, since: dt.datetime | None = None,
              until: dt.datetime | None = None) -> int:
        """How many revisions the filters keep."""
        terms, params = self._filters(author, since, until)
        where = f" WHERE {' AND '.join(terms)}" if terms else ""
        return int(scalar(sql, f"SELECT COUNT(*) FROM {self.quote(REVISION_TABLE)}{where}",
                          params))

    def records(self, rows: Iterable[Sequence[Any]]) -> list[RevisionRecord]:
        """The :class:`RevisionRecord` of each row read with :attr:`columns`."""
        found = []
        for raw in rows:
            found.append(RevisionRecord.from_row(
                {name: _coded(self.decode, name, value)
                 for name, value in zip(self.columns, raw, strict=True)}))
        return found

    def by_id(self, sql: Sql, ids: Iterable[int]) -> dict[int, RevisionRecord]:
        """``{id: revision}`` for these ids, all of which must exist: one query.

        Raises :class:`RevisionNotFoundError` naming the smallest missing id.
        """
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        params = {f"vdm_r{i}": rid for i, rid in enumerate(wanted)}
        columns = ", ".join(self.quote(c) for c in self.columns)
        rows = sql.rows(f"SELECT {columns} FROM {self.quote(REVISION_TABLE)} "
                        f"WHERE id IN ({', '.join(f':{p}' for p in params)})", params)
        found = {record.id: record for record in self.records(rows)}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise RevisionNotFoundError(
                f"there is no revision {missing[0]} in the database; "
                f"`vdm log` lists the revisions",
                revision=missing[0],
            )
        return found


# -- what changed --------------------------------------------------------------


def row_changes(sql: Sql, tables: Iterable[VersionTable], revision_id: int) -> list[RowChange]:
    """Every row ``revision_id`` changed, table by table, in key order: two
    queries per table (the second only where it wrote something)."""
    found: list[RowChange] = []
    for table in tables:
        written = versions_written(sql, table, revision_id)
        if not written:
            continue
        before = versions_expired(sql, table, revision_id)
        for row in written:
            found.append(classify_change(
                table.name, table.name, row.key, table.fields,
                values_of(before.get(row.key)), row.field_values, key_names=table.key_columns))
    return found


def diff_tables(sql: Sql, tables: Iterable[VersionTable], a: int, b: int) -> list[TableDiff]:
    """How each table differs from revision ``a`` to ``b`` (unchanged ones left out)."""
    found: list[TableDiff] = []
    for table in tables:
        diff = diff_table(table.name, table.key_columns, rows_as_of(sql, table, a),
                          rows_as_of(sql, table, b), table.fields)
        if diff:
            found.append(diff)
    return found


def blame_row(sql: Sql, revisions: RevisionTable, table: VersionTable, key: Key) -> RowBlame:
    """For each field of the row ``key``, the revision that set its latest
    value (as :func:`vdm.changes.blame_fields` decides): two queries.

    Raises :class:`UnknownRowError` when no revision ever wrote that key.
    """
    versions = row_versions(sql, table, key)
    setters: dict[str, int] = blame_fields([_AsVersion(row) for row in versions],
                                           table.fields, lambda row: row.revision_id)
    last = versions[-1]
    destroyed_by = last.revision_id if last.operation_type == Operation.DELETE else None
    values = next(v for v in map(values_of, reversed(versions)) if v is not None)
    wanted = [*setters.values(), *([destroyed_by] if destroyed_by is not None else [])]
    records = revisions.by_id(sql, wanted)
    return RowBlame(
        table.name, table.key_columns, key,
        [FieldBlame(name, values[name], records[setters[name]]) for name in table.fields],
        records[destroyed_by] if destroyed_by is not None else None,
    )



# -- one database's history tables ------------------------------------------


class ReadTable(Protocol):
    """One versioned table of a :class:`TableHistories`: its name and reading."""

    @property
    def name(self) -> str:
        """The live table's name."""

    @property
    def reading(self) -> VersionTable:
        """How its version table is read."""


H = TypeVar("H", bound=ReadTable)


class TableHistories(Generic[H]):
    """The history tables of one vdm database, read as tables: what ``vdm log``,
    ``show``, ``diff``, ``blame`` and ``vdm serve`` ask of it.

    ``source`` is anything :func:`vdm.sql.sql_of` runs SQL on (a tool may
    swap it per request); ``histories`` maps each versioned table's name to
    its :class:`ReadTable`.  A backend finds the tables (by reflection, say)
    and says how their values decode; the questions are answered here.
    """

    def __init__(self, source: Any, revision_reading: RevisionTable,
                 histories: Mapping[str, H]) -> None:
        self.connection = source
        #: How the ``revision`` table is read.
        self.revision_reading = revision_reading
        #: Every versioned table, by name.
        self.by_name: dict[str, H] = dict(histories)

    @property
    def sql(self) -> Sql:
        """The source as the core reads it."""
        return sql_of(self.connection)

    @property
    def histories(self) -> list[H]:
        """Every versioned table, by name."""
        return list(self.by_name.values())

    def _readings(self) -> list[VersionTable]:
        return [h.reading for h in self.histories]

    def history(self, name: str) -> H:
        """The versioned table called ``name``; :class:`UnknownTableError` if none."""
        found = self.by_name.get(name)
        if found is None:
            known = ", ".join(self.by_name) or "none"
            raise UnknownTableError(
                f"there is no versioned table {name!r} in the database "
                f"(versioned tables: {known})", table=name,
            )
        return found

    def revisions(
        self,
        limit: int | None = None,
        offset: int = 0,
        author: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        before: int | None = None,
        table: str | None = None,
    ) -> list[RevisionRecord]:
        """Revisions, newest first, paged and filtered as ``Repository.history``.

        ``before`` keeps the revisions with a smaller id (paging by key,
        which stays an index walk however deep the page); ``table`` those
        that wrote a version of that versioned table.
        """
        wrote = self.history(table).reading if table is not None else None
        return self.revision_reading.page(self.sql, limit, offset, author, since, until,
                                          before, wrote)

    def count_revisions(self, author: str | None = None, since: dt.datetime | None = None,
                        until: dt.datetime | None = None) -> int:
        """How many revisions the filters keep."""
        return self.revision_reading.count(self.sql, author, since, until)

    def revision(self, revision_id: int) -> RevisionRecord:
        """The revision ``revision_id``; :class:`RevisionNotFoundError` if none."""
        return self.revisions_by_id([revision_id])[revision_id]

    def revisions_by_id(self, ids: Iterable[int]) -> dict[int, RevisionRecord]:
        """``{id: revision}`` for these ids, all of which must exist: one query."""
        return self.revision_reading.by_id(self.sql, ids)

    def change_counts(self, ids: Sequence[int]) -> dict[int, int]:
        """``{revision id: versions it wrote}``: one grouped query per table."""
        return change_counts(self.sql, self._readings(), ids)

    def row_changes(self, revision_id: int) -> list[RowChange]:
        """Every row ``revision_id`` changed (:func:`row_changes`);
        :class:`RevisionNotFoundError` for an unknown revision."""
        self.revision(revision_id)
        return row_changes(self.sql, self._readings(), revision_id)

    def rows_as_of(self, history: H, revision_id: int) -> dict[Key, dict[str, Any]]:
        """Every row of ``history``'s table as of ``revision_id``: one query."""
        return rows_as_of(self.sql, history.reading, revision_id)

    def diff_tables(self, a: int, b: int) -> list[TableDiff]:
        """How each table differs from revision ``a`` to ``b`` (:func:`diff_tables`);
        :class:`RevisionNotFoundError` for an unknown revision."""
        self.revisions_by_id([a, b])
        return diff_tables(self.sql, self._readings(), a, b)

    def blame_row(self, history: H, key: Key) -> RowBlame:
        """Blame of the row ``key`` of ``history``'s table (:func:`blame_row`);
        :class:`UnknownRowError` when the table never held that key."""
        return blame_row(self.sql, self.revision_reading, history.reading, key)

__all__ = [
    "Decoders",
    "ReadTable",
    "TableHistories",
    "RevisionTable",
    "VersionRow",
    "VersionTable",
    "blame_row",
    "change_counts",
    "diff_tables",
    "live_rows_as_of",
    "row_changes",
    "row_versions",
    "rows_as_of",
    "values_of",
    "versions_expired",
    "versions_where",
    "versions_written",
]
