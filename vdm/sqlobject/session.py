"""The vdm session: one SQLObject transaction, one revision at a time.

SQLObject has no unit of work, so vdm gives it one: a :class:`Session`
owns one SQLObject ``Transaction``; objects created, read and changed
through it (``connection=session.transaction``) are written inside it, and
``commit()`` makes them permanent together with their revision::

    session = Session(connectionForURI("sqlite:/tmp/books.db"))
    session.revision = Revision(author="me", message="first")
    Book(name="warandpeace", title="War and Peacee",
         connection=session.transaction)
    session.commit()

How changes become history, through SQLObject's public events:

* ``RowCreateSignal`` / ``RowUpdateSignal`` / ``RowDestroySignal`` (before
  the row is written) check there is a revision (else
  :class:`vdm.NoRevisionError`, and nothing is written), allocate it once
  (which locks the revision sequence until commit), check that the object
  was not changed meanwhile by another revision (else
  :class:`vdm.ConflictError`) and stamp ``revision_id`` on the row (on
  creation, in the very INSERT SQLObject is about to run);
* the ids changed are recorded, and :meth:`Session.flush` (run by
  ``commit()`` and before any history read) writes their versions a few
  statements per table (:mod:`vdm.versionwrite`), then takes back what a
  later change undid (:mod:`vdm.noopversions`);
* ``rollback()`` leaves no trace, and forgets the revision's id.

SQLObject caches objects per connection; values cached by this session
could be stale once other sessions commit, so every instance this session
cached is expired when its transaction ends, and a write based on a stale
read is refused by the conflict check.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlobject import events
from sqlobject.dbconnection import Transaction

from vdm.errors import (
    InvalidInputError,
    MissingTableError,
    NoRevisionError,
    ReadOnlyError,
    RevisionInUseError,
    UnsupportedDatabaseError,
    bookkeeping_message,
)
from vdm.naming import REVISION_ID, REVISION_SEQUENCE_TABLE, REVISION_TABLE, STATE
from vdm.noopversions import drop_net_no_ops
from vdm.operations import Operation
from vdm.revisionlife import (
    allocate_provisional_revision,
    allocate_revision,
    defers_revision_id,
    end_revision,
    refuse_written,
)
from vdm.revisions import is_provisional, revision_metadata
from vdm.sql import register_source
from vdm.sqlobject._compat import sqlobject
from vdm.sqlobject.dialect import MYSQL, db_name, literal, table_exists
from vdm.sqlobject.linkguard import check_new_link, check_no_new_links
from vdm.sqlobject.registry import Versioning, versioning_of
from vdm.sqlobject.revision import DEFER_ON_SERVERS, Revision
from vdm.sqlobject.sqlrunner import ConnectionSql
from vdm.stalewrites import check_unchanged, locked_revisions
from vdm.states import State
from vdm.versionwrite import TableChanges, write_versions

_SESSION_KEY = "_vdm_session"
#: Sessions opened on each SQLite :memory: connection (by id).
_memory_sessions: dict[int, list[Session]] = {}
_UNKNOWN = object()
#: How an SQLObject session reads a changed object again.
_ADVICE = "roll back, read it again (obj.expire() or a new session)"


class Session:
    """A unit of work over one SQLObject transaction, with a revision.

    ``connection`` is an SQLObject connection (``connectionForURI(...)``).
    Pass ``connection=session.transaction`` to SQLObject calls (creating,
    ``get``, ``select``) so that they run in this session.  With
    ``auto_revision_author`` set, changes made without a revision get an
    automatic one by that author instead of raising
    :class:`vdm.NoRevisionError`.

    Use ``sqlite:`` *files*: SQLite ``:memory:`` databases give every
    transaction the same connection, so sessions would not be isolated.
    """

    def __init__(self, connection: Any, auto_revision_author: str | None = None) -> None:
        if isinstance(connection, Transaction):
            raise InvalidInputError(
                "Session takes an SQLObject connection (connectionForURI), "
                "not a Transaction; the session opens its own transaction"
            )
        if getattr(connection, "_memory", False):
            open_sessions = _memory_sessions.setdefault(id(connection), [])
            if any(not s.transaction._obsolete for s in open_sessions):
                raise UnsupportedDatabaseError(
                    "an SQLite :memory: database gives every SQLObject "
                    "transaction the same connection, so a second session "
                    "would share the first one's transaction; close the "
                    "other session first, or use an SQLite file"
                )
            open_sessions.append(self)
        self.connection = connection
        self.auto_revision_author = auto_revision_author
        self.transaction: Any = connection.transaction()
        self.transaction.__dict__[_SESSION_KEY] = self
        self._revision: Revision | None = None
        self._reset()

    def _reset(self) -> None:
        self._allocated: Revision | None = None
        #: The allocated revision's metadata as last written (compared at commit).
        self._stored: dict[str, Any] = {}
        self._written: dict[Versioning, dict[Any, Operation]] = defaultdict(dict)
        self._pending: dict[Versioning, TableChanges] = defaultdict(TableChanges)
        #: Ids updated again since the last flush after an earlier update in
        #: this revision: the only ones whose changes may cancel out.
        self._again: dict[Versioning, set[Any]] = defaultdict(set)
        #: Link rows this transaction read, per (link class, owner attribute,
        #: owner id): what a destroy of the owner is judged against.
        self._links_seen: dict[tuple[Versioning, str, Any], set[Any]] = {}
        #: Per class, the ``revision_id`` the stale check found on rows this
        #: revision changes: the revision of their current version.
        self._current: dict[Versioning, dict[Any, Any]] = defaultdict(dict)
        #: MySQL: ids whose previous version the final step closes.
        self._expire_later: dict[Versioning, set[Any]] = defaultdict(set)

    # -- the revision -----------------------------------------------------

    @property
    def revision(self) -> Revision | None:
        """The revision this session's changes are written under."""
        return self._revision

    @revision.setter
    def revision(self, revision: Revision | None) -> None:
        if revision is not None and not isinstance(revision, Revision):
            raise InvalidInputError(
                f"session.revision must be a vdm.sqlobject.Revision, not "
                f"{type(revision).__name__}"
            )
        if self._allocated is not None and revision is not self._allocated:
            raise RevisionInUseError(
                f"this session already wrote changes under "
                f"{self._allocated!r}; commit or roll back before starting "
                f"another revision", revision=self._allocated,
            )
        self._revision = revision

    def _raise_if_missing(self, tables: list[str], changed: str, exc: Exception) -> None:
        """Turn a failed write into :class:`vdm.MissingTableError` if vdm's tables are missing.

        Tables made without vdm (raw SQL, another tool) would otherwise fail
        with the database's own "no such table".  Looked at only after a
        failure, through the connection (the session's transaction may be
        aborted by then), so a sound database pays nothing.
        """
        missing = [t for t in tables if not table_exists(self.connection, t)]
        if missing:
            raise MissingTableError(
                f"cannot version {changed}: the database lacks "
                f"{', '.join(repr(t) for t in missing)}; create vdm's tables with "
                f"vdm.sqlobject.create_tables(connection, [your classes]) or each "
                f"class's createTable(), then roll back and write again",
            ) from exc

    def ensure_revision(self, changed: str | None = None) -> int:
        """Write this transaction's revision row (once) and return its id.

        ``changed`` names the object that needs it, for the error message.
        """
        if self._allocated is not None:
            assert self._allocated.id is not None
            return self._allocated.id
        revision = self._revision
        if revision is None:
            if self.auto_revision_author is None:
                raise NoRevisionError(
                    f"{changed or 'versioned objects'} changed but the session "
                    "has no revision; set session.revision = Revision(author=..., "
                    "message=...) before changing them"
                )
            revision = self._revision = Revision(
                author=self.auto_revision_author, message="automatic revision"
            )
        refuse_written(revision)
        try:
            if DEFER_ON_SERVERS and defers_revision_id(self.transaction):
                allocate_provisional_revision(self.transaction, revision)
            else:
                allocate_revision(self.transaction, revision)
        except Exception as exc:
            self._raise_if_missing([REVISION_TABLE, REVISION_SEQUENCE_TABLE],
                                   changed or "versioned objects", exc)
            raise
        self._allocated = revision
        self._stored = revision_metadata(revision)
        assert revision.id is not None
        return revision.id

    # -- the transaction --------------------------------------------------

    def flush(self) -> None:
        """Write the versions of the changes made since the last flush."""
        if not any(self._pending.values()):
            return
        pending, self._pending = self._pending, defaultdict(TableChanges)
        again, self._again = self._again, defaultdict(set)
        assert self._allocated is not None and self._allocated.id is not None
        rid = self._allocated.id
        for versioning, changes in pending.items():
            try:
                self._write(versioning, changes, again.get(versioning, set()), rid)
            except Exception as exc:
                self._raise_if_missing([versioning.version_table], versioning.name, exc)
                raise

    def _write(self, versioning: Versioning, changes: TableChanges, again: set[Any],
               rid: int) -> None:
        written = self._written[versioning]
        # A single real update cannot end where it started: only a key
        # updated again, or destroyed and created again, may be no change.
        candidates = {k for k in again if k in changes.updated
                      and k not in changes.inserted and k not in changes.deleted
                      and written.get(k) in (None, Operation.UPDATE)}
        candidates |= {k for k in changes.inserted if written.get(k) is Operation.DELETE}
        if changes:
            deferred = is_provisional(rid) and db_name(self.transaction) == MYSQL
            write_versions(self.transaction, versioning, changes, rid, written,
                           self._current.get(versioning),
                           self._expire_later[versioning] if deferred else None)
        if candidates:
            self._restamp(versioning, drop_net_no_ops(
                self.transaction, versioning, rid, written, candidates))

    def _restamp(self, versioning: Versioning, revision_ids: dict[Any, int]) -> None:
        """Give cached instances the ``revision_id`` their rows went back to."""
        for key, revision_id in revision_ids.items():
            instance = self.transaction.cache.tryGet(key, versioning.cls)
            if instance is not None:
                instance.__dict__[f"_SO_val_{REVISION_ID}"] = revision_id

    def commit(self) -> None:
        """Write pending versions and commit; clears ``session.revision``.

        A revision whose changes cancelled out (objects created and
        destroyed again, values set back, ``delete()`` then ``undelete()``)
        leaves no row, as if nothing had been written.
        """
        self.flush()
        allocated, empty = self._allocated, False
        if allocated is not None:
            provisional = allocated.id
            empty, self._stored = end_revision(self.transaction, allocated, self._written,
                                               self._stored, self._expire_later)
            if not empty and allocated.id != provisional:
                self._show_final_id(provisional, allocated.id)
        self.transaction.commit()
        if empty:
            assert allocated is not None
            allocated.id = None
            allocated.timestamp = None
        self._end()

    def _show_final_id(self, provisional: Any, final: Any) -> None:
        """Cached instances stamped with the provisional id show the final one."""
        attr = f"_SO_val_{REVISION_ID}"
        for instance in self.transaction.cache.getAll():
            if instance.__dict__.get(attr) == provisional:
                instance.__dict__[attr] = final

    def rollback(self) -> None:
        """Undo everything since the last commit, the revision included.

        Also after the database dropped the connection (the server rolled
        back already): the revision forgets its id either way.
        """
        try:
            self.transaction.rollback()
            self.transaction.begin()
        except Exception:  # noqa: BLE001 - any driver's "connection is gone"
            # A dead connection cannot roll back, and needs not: the server
            # discarded its transaction.  Retire it so nothing uses it again.
            self.transaction._obsolete = True
        finally:
            if self._allocated is not None:
                self._allocated.id = None
                self._allocated.timestamp = None
            self._end()

    def close(self) -> None:
        """Roll back what is not committed and give the connection back."""
        try:
            self.rollback()
        finally:
            if not getattr(self.transaction, "_obsolete", False):
                self.transaction.commit(close=True)

    def _end(self) -> None:
        self._reset()
        self._revision = None
        # Other sessions may commit before this one reads again: forget
        # every value cached here (SQLObject only expires its base cache).
        # Expiring drops an instance from SQLObject's cache; put it back so
        # that the objects the application holds stay the ones get() returns.
        for instance in self.transaction.cache.getAll():
            instance.expire()
            # A class that does not cache values keeps only the revision it
            # was read at (see Revisioned._SO_getValue): forget it too.
            instance.__dict__.pop(f"_SO_val_{REVISION_ID}", None)
            self.transaction.cache.put(instance.id, type(instance), instance)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def new_revision(self, author: str | None = None, message: str | None = None,
                     extra: Any = None) -> Revision:
        """Start a revision on this session and return it; :meth:`commit`
        writes it.

        For a block that commits at its end and rolls back on an exception,
        use :func:`vdm.sqlobject.revision_scope`.
        """
        revision = Revision(author=author, message=message, extra=extra)
        self.revision = revision
        return revision

    # -- SQLObject's view -------------------------------------------------

    def get(self, cls: type[Any], id: Any) -> Any:
        """``cls.get(id)`` in this session."""
        return cls.get(id, connection=self.transaction)

    def select(self, cls: type[Any], *args: Any, **kw: Any) -> Any:
        """``cls.select(...)`` in this session."""
        return cls.select(*args, connection=self.transaction, **kw)

    def check_stale(self, instance: Any, versioning: Versioning) -> None:
        """Refuse a write to ``instance`` if another revision changed it since it was read.

        The row is read with ``SELECT ... FOR UPDATE`` so that the latest
        committed ``revision_id`` is compared, on every isolation level, and
        stays locked until commit (a second writer waits, then finds it
        changed).  The ``revision_id`` found is kept: on MySQL it closes the
        previous version by its full primary key.
        """
        loaded = instance.__dict__.get(f"_SO_val_{REVISION_ID}", _UNKNOWN)
        if loaded is _UNKNOWN:
            return
        if self._allocated is not None and loaded == self._allocated.id:
            return  # stamped by this revision: checked when first stamped
        found = locked_revisions(self.transaction, versioning.table,
                                 (versioning.id_name,), [instance.id])
        if (instance.id,) in found:
            self._current[versioning][instance.id] = found[(instance.id,)]
        check_unchanged({(instance.id,): (instance, loaded)}, found,
                        lambda key: versioning.describe(key[0]), _ADVICE)

    def stamp(self, instance: Any, versioning: Versioning) -> None:
        """Set ``revision_id`` of ``instance``'s row to this revision (once).

        A statement of its own: SQLObject's ``set()`` holds a non-reentrant
        lock while it runs the setters, so vdm cannot add the column to the
        statement SQLObject is about to run.
        """
        assert self._allocated is not None
        rid = self._allocated.id
        attr = f"_SO_val_{REVISION_ID}"
        if instance.__dict__.get(attr) == rid:
            return
        conn = self.transaction
        conn.query(
            f"UPDATE {versioning.table} SET {REVISION_ID} = {rid} WHERE "
            f"{versioning.id_name} = {literal(conn, instance.id)}"
        )
        instance.__dict__[attr] = rid

    def record(self, versioning: Versioning, kind: str, key: Any) -> None:
        """Note that ``key`` of ``versioning``'s class was inserted/updated/deleted.

        The write plan (:func:`vdm.writeplan.plan_versions`) knows one
        order per flush: a key both deleted and inserted was destroyed,
        then created again.  Other orders are flushed apart: a change to a
        row created since the last flush needs nothing more (its insert
        copies the latest values), and re-creating a destroyed id flushes
        the destroy first (:func:`_row_destroy` flushes before destroying
        a row changed since the last flush).
        """
        pending = self._pending[versioning]
        if kind == "updated" and key in pending.inserted:
            return
        if kind == "updated" and (key in pending.updated or
                                  self._written[versioning].get(key) is Operation.UPDATE):
            self._again[versioning].add(key)
        if kind == "inserted" and key in pending.deleted:
            self.flush()
            pending = self._pending[versioning]
        getattr(pending, kind).add(key)

    def saw_links(self, link: Versioning, owner_attr: str, owner_id: Any,
                  link_ids: list[Any]) -> None:
        """Note that this transaction read the ``link`` rows of an owner."""
        self._links_seen.setdefault((link, owner_attr, owner_id), set()).update(link_ids)

    def links_seen(self, link: Versioning, owner_attr: str, owner_id: Any) -> set[Any] | None:
        """The ``link`` rows of an owner this transaction read, or None if it never did."""
        return self._links_seen.get((link, owner_attr, owner_id))

    def created_here(self, versioning: Versioning, key: Any) -> bool:
        """Whether the revision under way created object ``key`` of the class."""
        pending = self._pending.get(versioning)
        if pending is not None and key in pending.inserted:
            return True
        return self._written.get(versioning, {}).get(key) is Operation.INSERT

    def flush_before_destroy(self, versioning: Versioning, key: Any) -> None:
        """Write the pending version of ``key`` while its live row still exists."""
        pending = self._pending.get(versioning)
        if pending is not None and (key in pending.inserted or key in pending.updated):
            self.flush()


def session_of(conn: Any) -> Session | None:
    """The vdm session owning SQLObject connection/transaction ``conn``."""
    if conn is None:
        return None
    return vars(conn).get(_SESSION_KEY) if hasattr(conn, "__dict__") else None


def require_session(conn: Any, instance: Any, verb: str) -> Session:
    """The vdm session owning ``conn``; refused, naming what to do, without one."""
    session = session_of(conn)
    if session is None:
        raise NoRevisionError(
            f"cannot {verb} {type(instance).__name__} outside a vdm session: "
            f"versioned changes need a revision; create "
            f"session = vdm.sqlobject.Session(connection), set "
            f"session.revision = Revision(...) and pass "
            f"connection=session.transaction",
            obj=instance,
        )
    return session


def _reload_expired(instance: Any) -> None:
    """Read an expired instance's row again, without SQLObject's write lock.

    ``set()`` holds the instance's non-reentrant lock while it sends
    ``RowUpdateSignal``; reading an expired attribute there would take the
    lock again and hang.  An expired instance held no values, so nothing it
    showed can be stale: its row is simply read now.
    """
    meta = instance.sqlmeta
    if all(f"_SO_val_{c.name}" in instance.__dict__ for c in meta.columnList):
        return
    results = instance._connection._SO_selectOne(
        instance, [c.dbName for c in meta.columnList])
    if results:
        instance._SO_selectInit(results)
        meta.expired = False


def _assigns_new_values(instance: Any, kwargs: dict[str, Any]) -> bool:
    columns = instance.sqlmeta.columns
    state = instance._SO_validatorState
    if instance.sqlmeta.cacheValues:
        _reload_expired(instance)
    for name, value in kwargs.items():
        if name not in columns or name == REVISION_ID:
            continue
        from_python = getattr(instance, f"_SO_from_python_{name}", None)
        to_python = getattr(instance, f"_SO_to_python_{name}", None)
        db_value = from_python(value, state) if from_python else value
        new = to_python(db_value, state) if to_python else db_value
        if getattr(instance, name) != new:
            return True
    return False


def _check_bookkeeping(instance: Any, versioning: Versioning, kwargs: dict[str, Any],
                       described: str, current: Any = None) -> None:
    """Refuse ``revision_id`` written by user code, and states that are not states.

    ``current`` is the row's ``revision_id`` (None for a new row): writing
    the same value again changes nothing and is let through.  Every write
    to ``state`` is versioned, so any real state may be set.
    """
    if REVISION_ID in kwargs and kwargs[REVISION_ID] != current:
        raise ReadOnlyError(bookkeeping_message(described, REVISION_ID), obj=instance)
    if versioning.stateful and kwargs.get(STATE) is not None:
        try:
            State.coerce(kwargs[STATE])
        except InvalidInputError as exc:
            raise InvalidInputError(f"{described}: {exc}", obj=instance) from None


def _row_create(instance: Any, kwargs: dict[str, Any], post_funcs: list[Any]) -> None:
    versioning = versioning_of(instance)
    if versioning is None:
        return
    _check_bookkeeping(instance, versioning, kwargs, f"a new {versioning.name}")
    conn = kwargs.get("connection") or type(instance)._connection
    session = require_session(conn, instance, "create")
    kwargs[REVISION_ID] = session.ensure_revision(f"a new {versioning.name}")
    check_new_link(session.transaction, versioning, kwargs)
    post_funcs.append(lambda inst: session.record(versioning, "inserted", inst.id))


def _read_is_stale(instance: Any) -> bool:
    """Whether the row changed since this session read it (classes not caching values).

    Such a class reads every value afresh, so comparing the new value with
    the database would hide a write based on an older read (A reads 0, B
    writes 1, A writes 0 + 1): compare the revision it was read at instead.
    """
    if instance.sqlmeta.cacheValues:
        return False
    seen = instance.__dict__.get(f"_SO_val_{REVISION_ID}", _UNKNOWN)
    if seen is _UNKNOWN:
        return False
    row = instance._connection._SO_selectOne(instance, [REVISION_ID])
    return not row or row[0] != seen


def _row_update(instance: Any, kwargs: dict[str, Any]) -> None:
    versioning = versioning_of(instance)
    if versioning is None:
        return
    if REVISION_ID in kwargs or STATE in kwargs:
        if instance.sqlmeta.cacheValues:
            _reload_expired(instance)
        _check_bookkeeping(instance, versioning, kwargs, versioning.describe(instance.id),
                           getattr(instance, REVISION_ID))
    if not _assigns_new_values(instance, kwargs) and not _read_is_stale(instance):
        return
    session = require_session(instance._connection, instance, "change")
    session.ensure_revision(versioning.describe(instance.id))
    session.check_stale(instance, versioning)
    session.stamp(instance, versioning)
    session.record(versioning, "updated", instance.id)


def _row_destroy(instance: Any, post_funcs: list[Any]) -> None:
    versioning = versioning_of(instance)
    if versioning is None:
        return
    session = require_session(instance._connection, instance, "destroy")
    session.ensure_revision(versioning.describe(instance.id))
    session.check_stale(instance, versioning)
    key = instance.id
    if versioning.links:
        check_no_new_links(session, versioning, key)
    session.flush_before_destroy(versioning, key)
    post_funcs.append(lambda inst: session.record(versioning, "deleted", key))


def register_handlers(cls: type) -> None:
    """Listen to ``cls``'s row events, strongly (weak receivers can vanish)."""
    events.listen(_row_create, cls, events.RowCreateSignal, weak=False)
    events.listen(_row_update, cls, events.RowUpdateSignal, weak=False)
    events.listen(_row_destroy, cls, events.RowDestroySignal, weak=False)


register_source(Session, lambda session: ConnectionSql(session.transaction))

__all__ = ["Session", "register_handlers", "session_of", "sqlobject"]
