"""Native versioning: database triggers write the versions (PostgreSQL).

Opt in per metadata, before ``create_all``::

    from vdm.sqlalchemy import native
    native.enable(Base.metadata)
    Base.metadata.create_all(engine)   # tables, then the triggers

From then on triggers on each versioned table write its ``<table>_revision``
rows in the same statement, with the same schema and guarantees as the
Python mode, so Core statements, ORM bulk ``update()``/``delete()``, raw
SQL and other programs are versioned too.  The session still gives the
revision its author, message and extra (``session.revision = Revision(...)``);
a write from outside vdm gets an automatic revision (author: the database
user, or ``outside_author``) or is refused (``outside_writes="refuse"``).

For a database that already exists, :func:`install` (also the upgrade)
and :func:`remove` take a connection, e.g. ``op.get_bind()`` in an Alembic
migration.  :func:`problems` (and so ``verify()``) reports a versioned
table whose triggers are missing or stale.

The triggers' SQL is the core's (:mod:`vdm.nativetriggers`); this module
describes the metadata's versioned tables to it, installs the result on a
connection and ties the session's revision to the database's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Connection, MetaData, Table, bindparam, event, select
from sqlalchemy import func as sa_func
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import UnboundExecutionError
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.elements import ClauseElement

from vdm.errors import ConfigurationError, UnsupportedDatabaseError
from vdm.naming import EXPIRED_ID, OPERATION_TYPE, REVISION_TABLE, revision_table_name
from vdm.nativetriggers import (
    FINALIZE_FUNCTION,
    OUTSIDE_WRITES,
    NativeMode,
    install_script,
    installed_hash,
    remove_script,
    trigger_problems,
    trigger_record,
)
from vdm.sqlalchemy.registry import versioning_of
from vdm.sqlalchemy.revision import Revision, revision_table
from vdm.sqlalchemy.sqlrunner import SessionSql
from vdm.tables import TableRecord
from vdm.violations import Violation

__all__ = ["NativeMode", "disable", "enable", "install", "install_sql", "is_native",
           "problems", "remove", "remove_sql", "versioned_tables"]

#: ``MetaData.info`` key holding the :class:`NativeMode` of a native metadata.
INFO_KEY = "vdm.native"
#: ``Session.info`` key: objects whose stamps to reload after commit.
_FLUSHED = "vdm.native_flushed"
#: ``Session.info`` key: objects of the flush under way.
_FLUSHING = "vdm.native_flushing"
#: Databases native versioning supports.
DIALECTS = ("postgresql",)


def enable(metadata: MetaData, *, outside_writes: str = "automatic",
           outside_author: str | None = None) -> NativeMode:
    """Version ``metadata``'s tables with database triggers.

    ``create_all`` then installs the triggers after creating the tables
    (and ``drop_all`` removes them).  Call it before the first session
    writes.  Raises :class:`vdm.ConfigurationError` for an unknown
    ``outside_writes``.
    """
    if outside_writes not in OUTSIDE_WRITES:
        raise ConfigurationError(
            f"outside_writes must be one of {', '.join(map(repr, OUTSIDE_WRITES))}, "
            f"not {outside_writes!r}")
    mode = NativeMode(outside_writes, outside_author)
    first = INFO_KEY not in metadata.info
    metadata.info[INFO_KEY] = mode
    if first:
        event.listen(metadata, "after_create", _after_create)
        event.listen(metadata, "before_drop", _before_drop)
    return mode


def disable(metadata: MetaData) -> None:
    """Go back to the Python mode for ``metadata`` (in this process).

    The triggers stay in the database until :func:`remove`; while they
    are there they keep versioning, so remove them first.
    """
    metadata.info.pop(INFO_KEY, None)


def mode_of(metadata: MetaData | None) -> NativeMode | None:
    """The :class:`NativeMode` of ``metadata`` (None: Python mode)."""
    if metadata is None:
        return None
    found: NativeMode | None = metadata.info.get(INFO_KEY)
    return found


def is_native(target: Any) -> bool:
    """True when ``target`` (a table, metadata, versioned class or object) is native."""
    if isinstance(target, MetaData):
        return INFO_KEY in target.info
    table = getattr(target, "table", None)
    if table is None:
        versioning = getattr(target, "__versioning__", None)
        table = getattr(versioning, "table", None)
    if table is None and isinstance(target, Table):
        table = target
    return table is not None and INFO_KEY in table.metadata.info


def versioned_tables(metadata: MetaData) -> list[tuple[Table, Table]]:
    """``(live, version)`` pairs of ``metadata``'s versioned tables."""
    pairs = []
    for table in metadata.sorted_tables:
        if table.name == REVISION_TABLE:
            continue
        name = revision_table_name(table.name)
        key = name if table.schema is None else f"{table.schema}.{name}"
        version = metadata.tables.get(key)
        if (version is not None and version is not table and EXPIRED_ID in version.c
                and OPERATION_TYPE in version.c):
            pairs.append((table, version))
    return pairs


def table_record(live: Table, version: Table) -> TableRecord:
    """What the core's trigger SQL needs to know of one versioned table."""
    return trigger_record(
        live.name, version.name, live.schema, {c.key: c.name for c in live.c},
        [c.name for c in version.primary_key.columns],
        # PostgreSQL's json has no equality operator (jsonb has).
        [c.name for c in live.c
         if isinstance(c.type, JSON) and not isinstance(c.type, postgresql.JSONB)])


def table_records(metadata: MetaData) -> list[TableRecord]:
    """:func:`table_record` of each of ``metadata``'s versioned tables."""
    return [table_record(live, version) for live, version in versioned_tables(metadata)]


def _check_dialect(connection: Connection) -> None:
    if connection.dialect.name not in DIALECTS:
        raise UnsupportedDatabaseError(
            f"native versioning needs PostgreSQL, not {connection.dialect.name}: "
            f"MariaDB/MySQL triggers cannot write the table that fired them nor "
            f"run at commit, and SQLite has no commit-time trigger; use the "
            f"Python mode (do not call vdm.sqlalchemy.native.enable) there")


def install_sql(metadata: MetaData, mode: NativeMode | None = None) -> str:
    """The SQL :func:`install` runs (for a migration script written offline)."""
    return install_script(table_records(metadata), mode or mode_of(metadata) or NativeMode())


def remove_sql(metadata: MetaData) -> str:
    """The SQL :func:`remove` runs."""
    return remove_script(table_records(metadata))


def install(connection: Connection, metadata: MetaData, mode: NativeMode | None = None) -> None:
    """Install (or upgrade) the triggers of ``metadata``'s versioned tables.

    Idempotent: every function is replaced and every trigger re-created, so
    it is also the upgrade after vdm or the model changed.  ``mode``
    defaults to the one given to :func:`enable` (or the defaults).  Raises
    :class:`vdm.UnsupportedDatabaseError` on a database other than
    PostgreSQL.
    """
    _check_dialect(connection)
    _run_script(connection, install_sql(metadata, mode))


def _run_script(connection: Connection, sql: str) -> None:
    # Straight to the driver: PL/pgSQL bodies hold '%', which a driver
    # given (even empty) parameters would read as placeholders.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def remove(connection: Connection, metadata: MetaData) -> None:
    """Remove the triggers and functions :func:`install` created.

    The tables and their history stay; vdm's Python mode can take over.
    """
    _check_dialect(connection)
    _run_script(connection, remove_sql(metadata))


def _after_create(metadata: MetaData, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name in DIALECTS and is_native(metadata):
        install(connection, metadata)


def _before_drop(metadata: MetaData, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name in DIALECTS and is_native(metadata) and installed_hash(
            SessionSql(connection), FINALIZE_FUNCTION, None) is not None:
        remove(connection, metadata)


def problems(connection: Connection, metadata: MetaData) -> list[Violation]:
    """Versioned tables of a native ``metadata`` whose triggers are missing or stale.

    Reported as :class:`vdm.violations.Violation` of kind
    ``missing-trigger`` or ``stale-trigger``; empty on other databases.
    """
    if connection.dialect.name not in DIALECTS:
        return []
    return trigger_problems(SessionSql(connection), table_records(metadata))


# -- the session's side ---------------------------------------------------------

_BEGIN = select(sa_func.vdm_begin_revision(
    bindparam("author", type_=revision_table.c.author.type),
    bindparam("message", type_=revision_table.c.message.type),
    bindparam("state", type_=revision_table.c.state.type),
    bindparam("extra", type_=revision_table.c.extra.type),
))
_COMMIT = select(sa_func.vdm_commit_revision(
    bindparam("changed"),
    bindparam("author", type_=revision_table.c.author.type),
    bindparam("message", type_=revision_table.c.message.type),
    bindparam("state", type_=revision_table.c.state.type),
    bindparam("extra", type_=revision_table.c.extra.type),
).table_valued("final_id", "final_timestamp").render_derived())


def begin_revision(connection: Connection, revision: Revision) -> None:
    """Give the database the transaction's revision; set its provisional id.

    Also called again at commit: it then stores the revision's current
    author, message, state and extra.
    """
    revision.id = connection.execute(_BEGIN, {
        "author": revision.author, "message": revision.message,
        "state": revision.state, "extra": revision.extra}).scalar_one()


def finish_revision(connection: Connection, revision: Revision, changed: bool) -> bool:
    """Run the final step now; give ``revision`` its final id and timestamp.

    ``changed``: the revision's metadata changed since :func:`begin_revision`
    (it is stored first).  One round trip.  Returns False when the revision
    changed nothing in the end (it left no row).
    """
    row = connection.execute(_COMMIT, {
        "changed": changed, "author": revision.author, "message": revision.message,
        "state": revision.state, "extra": revision.extra}).first()
    if row is None:
        return False
    revision.id, revision.timestamp = row
    return True


def bypass(session: Session) -> None:
    """Let vdm's maintenance (purge) rewrite rows untouched by the triggers.

    Pending changes are flushed (and versioned) first; the setting lasts
    until the transaction ends, which maintenance does by committing.
    """
    session.flush()
    connection = session.connection()
    if connection.dialect.name in DIALECTS:
        connection.exec_driver_sql("SELECT set_config('vdm.bypass', '1', true)")


def covers(changed: list[Any] | None, connection: Connection) -> bool:
    """True when the triggers write the versions of these changes.

    That is, the changed objects (or classes) belong to a native metadata
    and ``connection`` is a database with native versioning; elsewhere
    (SQLite, MariaDB) the Python mode writes them.  One revision is
    written one way: the way of the first change that needs it.
    """
    if connection.dialect.name not in DIALECTS:
        return False
    for obj in changed or []:
        versioning = versioning_of(obj)
        if versioning is not None:
            return is_native(versioning.table)
        mapper = getattr(sa_inspect(obj, raiseerr=False), "mapper", None)
        if mapper is not None and any(is_native(t) for t in mapper.tables):
            return True
    return False


def after_flush(session: Session, pending: dict[Any, Any]) -> None:
    """The triggers wrote the versions; refresh what the flush cannot know.

    The trigger may have kept a row's ``revision_id`` (a no-op update, a
    change set back), and the commit replaces the provisional id by the
    final one: the stamps of the flushed objects are reloaded when next
    read (once the flush is done), also after a commit with
    ``expire_on_commit=False``.
    """
    # An inserted row holds the id the ORM sent; an updated one may not
    # (the trigger keeps the old stamp of a change set back).
    flushing = session.info.setdefault(_FLUSHING, [])
    flushed = session.info.setdefault(_FLUSHED, [])
    keep_new = not session.expire_on_commit
    for obj in [*session.dirty, *(session.new if keep_new else ())]:
        versioning = versioning_of(obj)
        if versioning is not None:
            flushing.append((obj, versioning))
            if keep_new:
                flushed.append((obj, versioning))


@event.listens_for(Session, "after_flush_postexec")
def _after_flush_postexec(session: Session, flush_context: Any) -> None:
    for obj, versioning in session.info.pop(_FLUSHING, []):
        _expire_stamp(session, obj, versioning)


def after_commit(session: Session) -> None:
    """Reload the stamps of the objects the committed revision wrote.

    Only needed with ``expire_on_commit=False``: the final id replaced
    the provisional one the objects hold.
    """
    for obj, versioning in session.info.pop(_FLUSHED, []):
        if obj in session:
            _expire_stamp(session, obj, versioning)


def _expire_stamp(session: Session, obj: Any, versioning: Any) -> None:
    if not sa_inspect(obj).persistent:
        return
    keys = [versioning.revision_id_key]
    if "revision" in versioning.mapper.relationships:
        keys.append("revision")
    session.expire(obj, keys)


def statement_targets(state: ORMExecuteState) -> list[Any]:
    """The versioned classes or tables a statement writes (for messages)."""
    targets: list[Any] = [m.class_ for m in state.all_mappers]
    table = getattr(state.statement, "table", None)
    if not targets and table is not None:
        targets.append(table)
    return targets


def versions_statement(state: ORMExecuteState) -> bool:
    """True when a bulk or Core write through the session is versioned by triggers."""
    try:
        clause = state.statement if isinstance(state.statement, ClauseElement) else None
        bind = state.session.get_bind(mapper=state.bind_mapper, clause=clause)
    except UnboundExecutionError:
        return False  # execute() reports it
    if bind.dialect.name not in DIALECTS:
        return False
    mappers = list(state.all_mappers)
    if mappers:
        return all(any(is_native(t) for t in m.tables) for m in mappers)
    table = getattr(state.statement, "table", None)
    return isinstance(table, Table) and is_native(table) and any(
        live is table for live, _ in versioned_tables(table.metadata))
