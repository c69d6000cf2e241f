"""Purging, once: ``purge_revision`` and ``purge`` as SQL on the shared schema.

Both backends purge through these functions; each hands over a
:class:`vdm.sql.Sql` and describes its tables as :class:`PurgeTable` and
its foreign keys as :class:`Reference` (finding them is the ORM's
business), then forgets whatever its identity map or cache holds of the
rows erased.

* :func:`purge_revision` reads the histories of the keys the revision
  wrote, lets :func:`vdm.purgeplan.plan_purge` recompute their chains of
  validity intervals, refuses when a kept version would refer to an object
  that no longer exists then, and writes the differences back with a few
  statements per table.  Live rows that fall back (or come back) are copied
  from their new current version inside the database, so no value makes a
  round trip through Python.
* :func:`purge_object` erases one object, the versioned link rows that
  refer to it and all their versions, unless other rows refer to them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from vdm.errors import IntegrityViolation
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_ID, REVISION_TABLE, STATE
from vdm.operations import Operation
from vdm.purgeplan import PurgePlan, plan_purge, purge_dependant_error, still_referenced_message
from vdm.sql import MYSQL, Params, Sql
from vdm.states import State
from vdm.tables import TableRecord
from vdm.verifying import check_links
from vdm.versionwrite import CHUNK, chunks, keys_in

#: A row's key: its key columns' values, in key order.
Key = tuple[Any, ...]



@dataclass(frozen=True, eq=False)
class PurgeTable:
    """One table purging reads or rewrites, as a backend describes it."""

    #: Its names (``record.name`` is how messages name its rows).
    record: TableRecord
    #: Every column of the live table (its version table copies them all).
    live_columns: tuple[str, ...] = ()
    #: The class errors carry (None for a table no class is mapped to).
    cls: type | None = None
    #: Live columns the database computes; rows written back leave them out.
    computed: frozenset[str] = frozenset()
    #: The schema holding the tables, None for the connection's default.
    schema: str | None = None
    #: False for a table without history (only refusals read it).
    versioned: bool = True
    #: How messages name the key columns, when not by their column names
    #: (SQLAlchemy names them by column key).
    key_labels: tuple[str, ...] | None = None

    @property
    def ident(self) -> tuple[str | None, str]:
        """What tells two descriptions of one table apart from other tables."""
        return (self.schema, self.record.table)

    def describe(self, key: Key) -> str:
        """``Book(id=1)``: how messages name one row."""
        labels = self.record.key_columns if self.key_labels is None else self.key_labels
        pairs = ", ".join(f"{n}={v!r}" for n, v in zip(labels, key, strict=True))
        return f"{self.record.name}({pairs})"


@dataclass(frozen=True, eq=False)
class Reference:
    """A foreign key: ``columns`` of ``source`` refer to ``referred`` of ``target``."""

    source: PurgeTable
    target: PurgeTable
    columns: tuple[str, ...]
    referred: tuple[str, ...]


#: Asked after the rewrite with the tables it changed: an owner with two
#: active links to one target, as (owner class, what is wrong), or None.
DuplicateLinks = Callable[[list[PurgeTable]], "tuple[type | None, str] | None"]


class _Names:
    """``sql``, and whether the names of its tables are written quoted."""

    def __init__(self, sql: Sql, quoted: bool) -> None:
        self.sql, self.dialect, self.quoted = sql, sql.dialect, quoted

    def rows(self, text: str, params: Params = None) -> list[tuple[Any, ...]]:
        """See :meth:`vdm.sql.Sql.rows`."""
        return self.sql.rows(text, params)

    def execute(self, text: str, params: Params = None) -> int:
        """See :meth:`vdm.sql.Sql.execute`."""
        return self.sql.execute(text, params)


def quote(sql: Sql, name: str) -> str:
    """``name`` as a quoted identifier of ``sql``'s database.

    Every name is quoted (reserved words and mixed case are table and
    column names like any other), unless the backend writes its names
    unquoted (:func:`purge_revision`'s ``quoted``): then they mean what
    its own SQL means by them.
    """
    if not getattr(sql, "quoted", True):
        return name
    mark = "`" if sql.dialect == MYSQL else '"'
    return mark + name.replace(mark, mark * 2) + mark


def _table(sql: Sql, t: PurgeTable, name: str) -> str:
    qualified = quote(sql, name)
    return qualified if t.schema is None else f"{quote(sql, t.schema)}.{qualified}"


def _columns(sql: Sql, names: Iterable[str], prefix: str = "") -> str:
    return ", ".join(prefix + quote(sql, n) for n in names)


def key_in(sql: Sql, columns: Sequence[str], keys: Sequence[Key],
           prefix: str = "") -> tuple[str, dict[str, Any]]:
    """``columns IN keys`` as SQL text and its parameters (composite keys too),
    the columns named as :func:`quote` names them."""
    return keys_in(tuple(quote(sql, c) for c in columns), keys, prefix)


def _equals(sql: Sql, columns: Sequence[str], key: Key) -> tuple[str, dict[str, Any]]:
    params = {f"_e{i}": value for i, value in enumerate(key)}
    terms = [f"{quote(sql, c)} = :_e{i}" for i, c in enumerate(columns)]
    return " AND ".join(terms), params


# -- purge_revision ----------------------------------------------------------


def duplicate_links_among(source: Any, owners: Callable[[], Iterable[Any]]) -> DuplicateLinks:
    """The :data:`DuplicateLinks` of a model whose owner classes are ``owners()``.

    Each owner record lists its versioned links in ``links`` (specs whose
    ``link`` carries a ``tables_record``); after a purge the links of the
    tables it changed are checked with :func:`vdm.verifying.check_links`,
    and the first owner left with two active links to one target is named.
    """
    def first(changed: list[PurgeTable]) -> tuple[type | None, str] | None:
        idents = {t.ident for t in changed}
        for owner in list(owners()):
            for spec in owner.links.values():
                record = spec.link.tables_record
                if (record.schema, record.table) not in idents:
                    continue
                found = check_links(source, spec)
                if found:
                    return owner.cls, found[0].detail
        return None
    return first

@dataclass(frozen=True)
class PurgeSubjects:
    """What a backend tells :func:`purge_revision` of its model: the tables,
    the foreign keys among them, how to find duplicate links a purge would
    leave, and whether its SQL quotes names."""

    tables: list[PurgeTable]
    references: list[Reference]
    duplicate_links: DuplicateLinks
    quoted: bool = True


def purge_revision(sql: Sql, tables: Sequence[PurgeTable], references: Sequence[Reference],
                   revision_id: int, leave_record: bool,
                   duplicate_links: DuplicateLinks, quoted: bool = True) -> list[PurgeTable]:
    """Remove ``revision_id`` from the history of ``tables``; the tables changed.

    ``references`` are the foreign keys among the model's tables: rows
    still referring to an object the purge makes vanish refuse it with
    :class:`vdm.IntegrityViolation`, and tables are written parents first.
    With ``leave_record`` the revision row stays, marked deleted.
    ``quoted`` False writes table and column names as they are (for a
    backend whose own SQL does).
    """
    sql = _Names(sql, quoted)
    plans: dict[PurgeTable, PurgePlan] = {}
    for t in tables:
        plan = _plan_table(sql, t, revision_id)
        if plan is not None:
            plans[t] = plan
    _refuse_dangling(sql, plans, references, revision_id)
    order = parents_first(list(plans), references)
    for t in order:
        _apply_versions(sql, t, plans[t])
        _apply_live_upserts(sql, t, plans[t])
    for t in reversed(order):
        for batch in chunks(plans[t].remove_live, CHUNK):
            where, params = key_in(sql, t.record.key_columns, batch)
            sql.execute(f"DELETE FROM {_table(sql, t, t.record.table)} WHERE {where}", params)
    found = duplicate_links(order)
    if found is not None:
        owner, detail = found
        raise IntegrityViolation(
            f"cannot purge revision {revision_id}: afterwards {detail}; "
            f"purge the revision that added the later link first",
            cls=owner,
        )
    if leave_record:
        sql.execute(f"UPDATE {quote(sql, REVISION_TABLE)} SET {quote(sql, STATE)} = :state "
                    f"WHERE id = :id", {"state": State.DELETED.value, "id": revision_id})
    else:
        sql.execute(f"DELETE FROM {quote(sql, REVISION_TABLE)} WHERE id = :id",
                    {"id": revision_id})
    return order


def parents_first(tables: Sequence[PurgeTable],
                  references: Sequence[Reference]) -> list[PurgeTable]:
    """``tables`` ordered so that a table comes after those it refers to
    (foreign keys hold on every database when rows are written in this
    order, and removed in the reverse one); cycles are broken anywhere."""
    by_ident = {t.ident: t for t in tables}
    parents: dict[tuple[str | None, str], list[PurgeTable]] = defaultdict(list)
    for ref in references:
        parent = by_ident.get(ref.target.ident)
        if parent is not None and ref.source.ident != parent.ident:
            parents[ref.source.ident].append(parent)
    done: list[PurgeTable] = []

    def visit(t: PurgeTable, path: tuple[tuple[str | None, str], ...]) -> None:
        if t in done or t.ident in path:
            return
        for parent in parents.get(t.ident, []):
            visit(parent, (*path, t.ident))
        done.append(t)

    for t in tables:
        visit(t, ())
    return done


def _plan_table(sql: Sql, t: PurgeTable, revision_id: int) -> PurgePlan | None:
    key_columns = t.record.key_columns
    vt, keys_sql = _table(sql, t, t.record.version_table), _columns(sql, key_columns)
    keys = sql.rows(f"SELECT {keys_sql} FROM {vt} WHERE {REVISION_ID} = :rev",
                    {"rev": revision_id})
    if not keys:
        return None
    names = [*key_columns, REVISION_ID, EXPIRED_ID, OPERATION_TYPE]
    n = len(key_columns)
    histories: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for batch in chunks(keys, CHUNK):
        where, params = key_in(sql, key_columns, batch)
        for row in sql.rows(f"SELECT {_columns(sql, names)} FROM {vt} WHERE {where} "
                            f"ORDER BY {keys_sql}, {REVISION_ID}", params):
            histories[tuple(row[:n])].append(dict(zip(names, row, strict=True)))
    return plan_purge(histories, revision_id, key_columns)


def _refuse_dangling(sql: Sql, plans: dict[PurgeTable, PurgePlan],
                     references: Sequence[Reference], revision_id: int) -> None:
    """Raise if a version kept by the purge refers to an object that would not exist then."""
    vanishing = {t.ident: (t, plan) for t, plan in plans.items() if plan.vanished}
    for ref in references:
        found = vanishing.get(ref.target.ident)
        if found is None or not ref.source.versioned:
            continue
        target, plan = found
        if sorted(ref.referred) != sorted(target.record.key_columns):
            continue
        by_referred = dict(zip(ref.referred, ref.columns, strict=True))
        columns = [by_referred[n] for n in target.record.key_columns]
        child = ref.source
        # One query per span of revisions the vanished objects lived in (a
        # revision's new objects share one) and batch of keys, not per object.
        spans: dict[tuple[int, int | None], list[Key]] = defaultdict(list)
        for gone in plan.vanished:
            spans[(gone.start, gone.end)].append(gone.key)
        width = len(child.record.key_columns)
        for (start, end), keys in spans.items():
            for batch in chunks(keys, CHUNK):
                where, params = key_in(sql, columns, batch)
                before = "" if end is None else f" AND {REVISION_ID} < :end"
                row = sql.rows(
                    f"SELECT {_columns(sql, [*child.record.key_columns, *columns])}, "
                    f"{REVISION_ID} FROM {_table(sql, child, child.record.version_table)} "
                    f"WHERE {where} AND {REVISION_ID} <> :rev "
                    f"AND {OPERATION_TYPE} <> :delete "
                    f"AND ({EXPIRED_ID} IS NULL OR {EXPIRED_ID} > :start){before} "
                    f"ORDER BY {REVISION_ID} LIMIT 1",
                    {**params, "rev": revision_id, "delete": int(Operation.DELETE),
                     "start": start, **({} if end is None else {"end": end})})
                if row:
                    hit = row[0]
                    raise IntegrityViolation(
                        purge_dependant_error(
                            revision_id, target.describe(tuple(hit[width:-1])),
                            child.describe(tuple(hit[:width])), hit[-1]),
                        cls=target.cls,
                    )


def _apply_versions(sql: Sql, t: PurgeTable, plan: PurgePlan) -> None:
    vt, key_columns = _table(sql, t, t.record.version_table), t.record.key_columns
    dropped: dict[int, list[Key]] = defaultdict(list)
    for ref in plan.drop:
        dropped[ref.revision_id].append(ref.key)
    for rid, keys in dropped.items():
        for batch in chunks(keys, CHUNK):
            where, params = key_in(sql, key_columns, batch)
            sql.execute(f"DELETE FROM {vt} WHERE {REVISION_ID} = :rev AND {where}",
                        {**params, "rev": rid})
    relinked: dict[tuple[int, int | None, int], list[Key]] = defaultdict(list)
    for r in plan.relink:
        relinked[(r.revision_id, r.expired_id, int(r.operation))].append(r.key)
    for (rid, expired, op), keys in relinked.items():
        for batch in chunks(keys, CHUNK):
            where, params = key_in(sql, key_columns, batch)
            sql.execute(f"UPDATE {vt} SET {EXPIRED_ID} = :expired, {OPERATION_TYPE} = :op "
                        f"WHERE {REVISION_ID} = :rev AND {where}",
                        {**params, "rev": rid, "expired": expired, "op": op})


def _apply_live_upserts(sql: Sql, t: PurgeTable, plan: PurgePlan) -> None:
    """Copy each fallen-back (or returning) row's new current version to the live table."""
    key_columns = t.record.key_columns
    live, vt = _table(sql, t, t.record.table), _table(sql, t, t.record.version_table)
    written = [c for c in t.live_columns if c not in t.computed]
    current = f"v.{EXPIRED_ID} IS NULL"
    restore = [tuple(values[c] for c in key_columns) for values in plan.restore]
    same_key = " AND ".join(f"v.{quote(sql, c)} = {live}.{quote(sql, c)}" for c in key_columns)
    assignments = ", ".join(
        f"{quote(sql, c)} = (SELECT v.{quote(sql, c)} FROM {vt} v WHERE {same_key} "
        f"AND {current})"
        for c in written if c not in key_columns)
    for batch in chunks(restore, CHUNK):
        if not assignments:
            break
        where, params = key_in(sql, key_columns, batch)
        sql.execute(f"UPDATE {live} SET {assignments} WHERE {where}", params)
    recreate = [tuple(values[c] for c in key_columns) for values in plan.recreate]
    for batch in chunks(recreate, CHUNK):
        where, params = key_in(sql, key_columns, batch, prefix="v.")
        sql.execute(f"INSERT INTO {live} ({_columns(sql, written)}) "
                    f"SELECT {_columns(sql, written, 'v.')} FROM {vt} v "
                    f"WHERE {current} AND {where}", params)


# -- purge (one object) ------------------------------------------------------


def purge_object(sql: Sql, writers: Sequence[PurgeTable], key: Key,
                 references: Sequence[Reference],
                 link_tables: Collection[PurgeTable],
                 quoted: bool = True) -> dict[PurgeTable, list[Key]]:
    """Erase the object ``key`` (its row in each of ``writers``, base table
    first), the rows of ``link_tables`` referring to it, and all their
    versions; the keys erased, by table, for the backend to forget.

    Rows of other tables referring to the object or to one of those links
    (``references``: the model's foreign keys) make it refuse with
    :class:`vdm.IntegrityViolation` naming them, before anything is erased.
    ``quoted``: as for :func:`purge_revision`.
    """
    sql = _Names(sql, quoted)
    own = writers[-1]
    links: dict[PurgeTable, list[Key]] = {}
    for ref in references:
        if (ref.source not in link_tables or ref.target.ident != own.ident
                or ref.source.ident == own.ident
                or not set(ref.referred) <= set(own.record.key_columns)):
            continue
        values = dict(zip(own.record.key_columns, key, strict=True))
        same, params = _equals(sql, ref.columns, tuple(values[n] for n in ref.referred))
        rows = sql.rows(f"SELECT {_columns(sql, ref.source.record.key_columns)} "
                        f"FROM {_table(sql, ref.source, ref.source.record.table)} "
                        f"WHERE {same}", params)
        if rows:
            links.setdefault(ref.source, []).extend(tuple(r) for r in rows)
    linked = {t.ident for t in links}
    for writer in writers:
        _refuse_if_referenced(sql, writer, [key], references,
                              linked | {w.ident for w in writers})
    for link, link_keys in links.items():
        _refuse_if_referenced(sql, link, link_keys, references, linked)
    for link, link_keys in links.items():
        erase(sql, link, link_keys)
    for writer in reversed(writers):
        erase(sql, writer, [key])
    return {**links, **{w: [key] for w in writers}}


def _refuse_if_referenced(sql: Sql, target: PurgeTable, keys: list[Key],
                          references: Sequence[Reference],
                          skip: set[tuple[str | None, str]]) -> None:
    for ref in references:
        source = ref.source
        if (ref.target.ident != target.ident or source.ident in skip
                or source.ident == target.ident
                or not set(ref.referred) <= set(target.record.key_columns)):
            continue
        table = _table(sql, source, source.record.table)
        for key in keys:
            values = dict(zip(target.record.key_columns, key, strict=True))
            same, params = _equals(sql, ref.columns, tuple(values[n] for n in ref.referred))
            count = int(sql.rows(f"SELECT COUNT(*) FROM {table} WHERE {same}", params)[0][0])
            if not count:
                continue
            source_keys = source.record.key_columns
            if source_keys:
                shown = [source.describe(tuple(r)) for r in sql.rows(
                    f"SELECT {_columns(sql, source_keys)} FROM {table} WHERE {same} "
                    f"ORDER BY {_columns(sql, source_keys)} LIMIT 3", params)]
            else:
                shown = [f"{source.record.name}()"] * min(count, 3)
            raise IntegrityViolation(
                still_referenced_message(target.describe(key), source.record.table, count,
                                         shown),
                cls=target.cls,
            )


def erase(sql: Sql, t: PurgeTable, keys: Sequence[Key]) -> None:
    """Delete the live rows ``keys`` of ``t`` and all their versions."""
    for batch in chunks(keys, CHUNK):
        where, params = key_in(sql, t.record.key_columns, batch)
        sql.execute(f"DELETE FROM {_table(sql, t, t.record.version_table)} WHERE {where}",
                    params)
        sql.execute(f"DELETE FROM {_table(sql, t, t.record.table)} WHERE {where}", params)
