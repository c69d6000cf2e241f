"""The flush hooks: how changes to versioned objects become history.

vdm listens to public ORM events on every :class:`~sqlalchemy.orm.Session`:

* ``before_flush`` checks that versioned changes have a revision
  (``session.revision``), writes the revision row (with
  :data:`DEFERRED_REVISION_IDS`, under a provisional id on PostgreSQL and
  MariaDB) and has the flush's own ``UPDATE`` and ``DELETE`` statements
  check that no changed object was changed meanwhile by another revision
  (:class:`vdm.ConflictError`, :func:`vdm.sqlalchemy.conflicts.expect_unchanged`);
* mapper events stamp ``revision_id`` on the rows written and record which
  keys were inserted, updated or deleted;
* ``after_flush`` writes their versions, a few statements per table
  (:mod:`vdm.versionwrite`, on the tables :mod:`vdm.sqlalchemy.writer` names);
* ``before_commit`` takes back what changed nothing and, for a
  provisional id, runs the final step that gives the revision its real id
  (:mod:`vdm.sqlalchemy.commit`);
* the end of the transaction clears ``session.revision``; a rollback also
  forgets the revision's id, so nothing of it remains.

A session may opt into automatic revisions with a default author::

    Session = sessionmaker(engine, info={AUTO_REVISION_AUTHOR: "importer"})

and, on PostgreSQL and MariaDB, into revision ids taken at commit::

    Session = sessionmaker(engine, info={DEFERRED_REVISION_IDS: True})
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import (
    Mapper,
    ORMExecuteState,
    Session,
    SessionTransaction,
    UOWTransaction,
    make_transient,
    make_transient_to_detached,
    object_session,
)
from sqlalchemy.orm import attributes as orm_attributes
from sqlalchemy.orm import base as orm_base

from vdm.errors import (
    InvalidInputError,
    NoRevisionError,
    ReadOnlyError,
    UnversionedChangeError,
    bookkeeping_message,
)
from vdm.naming import REVISION_ID, STATE
from vdm.noopversions import drop_net_no_ops
from vdm.operations import Operation
from vdm.revisionlife import allocate_provisional_revision, refuse_written
from vdm.revisions import is_provisional, revision_metadata
from vdm.sqlalchemy import native
from vdm.sqlalchemy.associations import (
    affected_associations,
    pending_association_changes,
    write_association_versions,
)
from vdm.sqlalchemy.columns import RevisionedColumns as Revisioned
from vdm.sqlalchemy.commit import defers_revision_id, end_revision
from vdm.sqlalchemy.conflicts import (
    check_duplicate_links,
    check_exist,
    check_no_new_references,
    end_expectations,
    expect_unchanged,
    referenced_objects,
)
from vdm.sqlalchemy.registry import Key, Versioning, versioning_of
from vdm.sqlalchemy.revision import Revision, allocate_revision
from vdm.sqlalchemy.typedsession import set_revision
from vdm.sqlalchemy.writer import CHUNK, versioned_table
from vdm.states import State
from vdm.versionreading import VersionReading as Version
from vdm.versionwrite import TableChanges, write_versions

#: ``Session.info`` key: author of automatic revisions (opt-in).
AUTO_REVISION_AUTHOR = "vdm.auto_revision_author"
#: ``Session.info`` key: on PostgreSQL and MariaDB, take revision ids in
#: the final step of the commit (opt-in), so that writers of different rows
#: do not wait for each other's commits (:mod:`vdm.sqlalchemy.commit`).
#: Writers that change several rows in different orders may then deadlock
#: (the database's error, to be retried like a conflict); without it a
#: revision takes its id, and the sequence lock, at its first versioned
#: flush, and writers take turns from there.
DEFERRED_REVISION_IDS = "vdm.deferred_revision_ids"
_STATE_KEY = "vdm.transaction"
_UNSET = object()


@dataclass
class TransactionState:
    """What vdm tracks for one session transaction."""

    revision: Revision | None = None
    #: Per versioned table, the keys this revision versioned and how.
    written: dict[Versioning, dict[Key, Operation]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    #: Objects before_flush found changed, so before_update need not look again.
    changed: set[Any] = field(default_factory=set)
    #: Keys changed by the flush under way.
    pending: dict[Versioning, TableChanges] = field(
        default_factory=lambda: defaultdict(TableChanges)
    )
    committed: bool = False
    #: The revision's metadata as last written (compared at commit).
    stored: dict[str, Any] = field(default_factory=dict)
    #: The revision changed nothing in the end: its row was taken back.
    empty: bool = False
    #: Tables that may hold a version equal to the previous one (a key
    #: versioned again by a later flush, a row updated with equal values).
    suspects: set[Versioning] = field(default_factory=set)
    #: Per base versioning, the ``revision_id`` the stale check found on
    #: rows this revision changes: the revision of their current version.
    current: dict[Versioning, dict[Key, Any]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    #: MariaDB/MySQL: keys whose previous version the final step of the
    #: commit closes (:func:`vdm.versionwrite.expire_previous`).
    expire_later: dict[Versioning, set[Key]] = field(
        default_factory=lambda: defaultdict(set)
    )
    #: Snapshots taken when savepoints begin, restored if they roll back.
    savepoints: dict[int, tuple[Revision | None, dict[Versioning, dict[Key, Operation]]]] = field(
        default_factory=dict
    )
    #: Database triggers write this revision's versions (vdm.sqlalchemy.native).
    native: bool = False
    #: The connection whose flush checks stale writes in its own statements
    #: (:func:`vdm.sqlalchemy.conflicts.expect_unchanged`).
    checking: Connection | None = None


def transaction_state(session: Session) -> TransactionState:
    """vdm's state for ``session``'s current transaction."""
    state = session.info.get(_STATE_KEY)
    if state is None:
        state = session.info[_STATE_KEY] = TransactionState()
    return state


def current_revision(session: Session) -> Revision | None:
    """The revision ``session`` will write changes under, if any.

    For the session behind an ``AsyncSession``, the revision may be set on
    either (``async_session.revision = ...``).
    """
    revision = getattr(session, "revision", None)
    if revision is None:
        proxy = async_proxy(session)
        revision = getattr(proxy, "revision", None)
    return revision


def async_proxy(session: Session) -> Any:
    """The ``AsyncSession`` that proxies ``session``, or None.

    Only looked up when SQLAlchemy's asyncio extension is loaded (else no
    ``AsyncSession`` can exist), so that vdm never imports it itself.
    """
    extension = sys.modules.get("sqlalchemy.ext.asyncio")
    return None if extension is None else extension.async_session(session)


def describe(obj: Any) -> str:
    """``Book(id=1)`` for a versioned object, ``repr`` otherwise."""
    versioning = versioning_of(obj)
    if versioning is None:
        # An unversioned object changing a versioned association.
        state = orm_attributes.instance_state(obj)
        if state.identity is None:
            return repr(obj)
        pairs = zip(state.mapper.primary_key, state.identity, strict=True)
        return f"{type(obj).__name__}({', '.join(f'{c.key}={v!r}' for c, v in pairs)})"
    try:
        key = versioning.key_of(obj)
    except Exception:  # noqa: BLE001 - a transient object has no key to show
        return f"a new {versioning.name}"
    if all(k is None for k in key):
        return f"a new {versioning.name}"
    return versioning.describe(key)


def _column_changed(obj: Any, versioning: Versioning, relations: bool = True) -> bool:
    """True when a column of ``obj`` (other than ``revision_id``) really changed.

    SQLAlchemy keeps the value a changed attribute had when loaded in
    ``committed_state``; the old-value listeners (``watch_old_values``) make
    sure it is there, so equal values count as no change.
    """
    state = orm_attributes.instance_state(obj)
    committed = state.committed_state
    if not committed:
        return False
    # A new many-to-one target changes a foreign key column at flush time.
    if relations and any(key in committed for key in versioning.many_to_one_keys):
        return True
    current = state.dict
    for key in versioning.column_keys:
        if key in committed:
            old = committed[key]
            if old is orm_base.NO_VALUE or old != current.get(key, orm_base.NO_VALUE):
                return True
    return False


def ensure_revision(
    session: Session, connection: Connection, changed: list[Any] | None = None
) -> int:
    """Write the transaction's revision row (once) and return its id.

    ``changed`` names the objects that need it, for the error message.
    """
    tx = transaction_state(session)
    if tx.revision is not None and tx.revision.id is not None:
        return tx.revision.id
    revision = current_revision(session)
    if revision is None:
        author = session.info.get(AUTO_REVISION_AUTHOR)
        if author is None:
            names = [describe(o) for o in (changed or [])[:3]]
            more = len(changed or []) - len(names)
            what = ", ".join(names) + (f" and {more} more" if more > 0 else "")
            raise NoRevisionError(
                f"{what or 'versioned objects'} changed but the session has no "
                "revision; set session.revision = Revision(author=..., "
                "message=...) before flushing or committing (with "
                "scoped_session: Session().revision = ...)",
                obj=(changed or [None])[0],
            )
        revision = Revision(author=author, message="automatic revision")
        set_revision(session, revision)
    if not isinstance(revision, Revision):
        raise InvalidInputError(
            f"session.revision must be a vdm.sqlalchemy.Revision, not "
            f"{type(revision).__name__}"
        )
    refuse_written(revision)
    if revision in session:
        session.expunge(revision)
    tx.native = native.covers(changed, connection)
    if tx.native:
        native.begin_revision(connection, revision)
    elif session.info.get(DEFERRED_REVISION_IDS) and defers_revision_id(connection):
        allocate_provisional_revision(connection, revision)
    else:
        allocate_revision(connection, revision)
    make_transient_to_detached(revision)
    tx.revision = revision
    tx.stored = revision_metadata(revision)
    assert revision.id is not None
    return revision.id


def _adopt_added_revision(session: Session, revision: Revision) -> None:
    """``session.add(rev)`` (vdm 0.15 style): make ``rev`` the session's revision.

    vdm writes the revision row itself, when the first versioned change
    needs it; the ORM must not insert it (it has no id yet).
    """
    session.expunge(revision)
    current = current_revision(session)
    if current is None:
        set_revision(session, revision)
    elif current is not revision:
        raise InvalidInputError(
            f"{revision!r} was added to a session whose revision is already "
            f"{current!r}; a session writes one revision per transaction: set "
            f"session.revision to the one you mean instead of adding revisions",
            revision=revision,
        )


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    new: list[Any] = []
    deleted: list[Any] = []
    dirty: list[Any] = []
    changed_dirty: list[Any] = []
    for obj in list(session.new):
        if isinstance(obj, Revision):
            _adopt_added_revision(session, obj)
            continue
        _refuse_version(obj, "add")
        if versioning_of(obj) is not None:
            _refuse_bookkeeping(obj, new=True)
            new.append(obj)
    for obj in session.deleted:
        _refuse_version(obj, "delete")
        if versioning_of(obj) is not None:
            deleted.append(obj)
    for obj in session.dirty:
        _refuse_version(obj, "change")
        versioning = versioning_of(obj)
        if versioning is not None:
            _refuse_bookkeeping(obj, new=False)
            dirty.append(obj)
            if _column_changed(obj, versioning):
                changed_dirty.append(obj)
    changed = new + deleted + changed_dirty
    if not changed:
        linked = pending_association_changes(session)
        if linked:
            ensure_revision(session, session.connection(), linked)
        return
    tx = transaction_state(session)
    tx.changed = {orm_attributes.instance_state(o) for o in changed}
    connection = session.connection()
    revision_id = ensure_revision(session, connection, changed)
    owners, targets = referenced_objects(session, new, dirty)
    check_exist(session, owners)
    check_exist(session, targets, shared=True)
    if deleted:
        check_no_new_references(session, deleted)
    if deleted or changed_dirty:
        # Checked by the flush's own UPDATE and DELETE statements.
        expect_unchanged(connection, deleted + changed_dirty, revision_id, tx.current)
        tx.checking = connection


def _refuse_version(obj: Any, verb: str) -> None:
    if isinstance(obj, Version):
        raise ReadOnlyError(
            f"cannot {verb} {obj!r}: versions are read-only; change the live "
            f"object instead", obj=obj,
        )


_revision_id_keys: dict[Versioning, str | None] = {}


def _revision_id_key(versioning: Versioning) -> str | None:
    """The attribute key ``revision_id`` is mapped under (None if unmapped)."""
    if versioning not in _revision_id_keys:
        try:
            prop = versioning.mapper.get_property_by_column(versioning.table.c[REVISION_ID])
            _revision_id_keys[versioning] = prop.key
        except Exception:  # noqa: BLE001 - an unmapped column cannot be written
            _revision_id_keys[versioning] = None
    return _revision_id_keys[versioning]


def _refuse_bookkeeping(obj: Any, new: bool) -> None:
    """Refuse ``revision_id`` written by user code (only vdm stamps it), and bad states.

    Every change to ``state`` is versioned, so any real state may be set.
    """
    versioning = versioning_of(obj)
    assert versioning is not None
    # What is in the instance's dict only: reading an expired attribute here
    # would cost a SELECT per object.
    state = orm_attributes.instance_state(obj)
    state_value = state.dict.get(STATE) if versioning.stateful else None
    if state_value is not None:
        try:
            State.coerce(state_value)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{describe(obj)}: {exc}", obj=obj) from None
    key = _revision_id_key(versioning)
    if key is None:
        return
    if new:
        written = state.dict.get(key) is not None
    else:
        # Set on an expired object, the old value is unknown (NO_VALUE): a write.
        old = state.committed_state.get(key, _UNSET)
        written = old is not _UNSET and (old is orm_base.NO_VALUE
                                         or old != state.dict.get(key))
    if written:
        raise ReadOnlyError(bookkeeping_message(describe(obj), REVISION_ID), obj=obj)


def _session_for(target: Any) -> Session:
    session = object_session(target)
    assert session is not None
    return session


@event.listens_for(Revisioned, "before_insert", propagate=True)
def _before_insert(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    versioning = versioning_of(target)
    assert versioning is not None
    setattr(target, versioning.revision_id_key,
            ensure_revision(_session_for(target), connection, [target]))


@event.listens_for(Revisioned, "before_update", propagate=True)
def _before_update(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    versioning = versioning_of(target)
    assert versioning is not None
    session = _session_for(target)
    state = orm_attributes.instance_state(target)
    # A foreign key set by the flush itself (a moved child) is only seen here.
    if state not in transaction_state(session).changed and not _column_changed(target, versioning):
        return
    setattr(target, versioning.revision_id_key, ensure_revision(session, connection, [target]))
    if not _column_changed(target, versioning, relations=False):
        # E.g. a many-to-one set to the target it had: the version may equal
        # the previous one, which the commit then takes back.
        transaction_state(session).suspects.update(versioning.writers)
    old_key = tuple(state.key[1]) if state.key is not None else None
    new_key = versioning.key_of(target)
    # In mapped inheritance each table of the class gets its version.
    for writer in versioning.writers:
        changes = transaction_state(session).pending[writer]
        if old_key is not None and old_key != new_key:
            # A new primary key is a new object: the old one ends here.
            changes.deleted.add(old_key)
            changes.inserted.add(new_key)
        else:
            changes.updated.add(new_key)


@event.listens_for(Revisioned, "after_insert", propagate=True)
def _after_insert(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    versioning = versioning_of(target)
    assert versioning is not None
    pending = transaction_state(_session_for(target)).pending
    for writer in versioning.writers:
        pending[writer].inserted.add(versioning.key_of(target))


@event.listens_for(Revisioned, "after_update", propagate=True)
def _after_update(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    if orm_attributes.instance_state(target).key is not None:
        return
    # A new object written as an UPDATE: SQLAlchemy's "row switch", when a
    # flush deletes an object and inserts another with the same key.  Only
    # before_insert and after_update fire; record the delete and the insert.
    versioning = versioning_of(target)
    assert versioning is not None
    changes = transaction_state(_session_for(target)).pending[versioning]
    key = versioning.key_of(target)
    changes.deleted.add(key)
    changes.inserted.add(key)


@event.listens_for(Revisioned, "before_delete", propagate=True)
def _before_delete(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    ensure_revision(_session_for(target), connection, [target])


@event.listens_for(Revisioned, "after_delete", propagate=True)
def _after_delete(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    versioning = versioning_of(target)
    assert versioning is not None
    state = orm_attributes.instance_state(target)
    key = tuple(state.key[1]) if state.key is not None else versioning.key_of(target)
    pending = transaction_state(_session_for(target)).pending
    for writer in versioning.writers:
        pending[writer].deleted.add(key)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    tx = transaction_state(session)
    checking, tx.checking = tx.checking, None
    end_expectations(session, checking)
    linked = affected_associations(session)
    if not tx.pending and not linked:
        return
    pending, tx.pending = tx.pending, defaultdict(TableChanges)
    tx.changed = set()
    if tx.revision is None or tx.revision.id is None:
        return
    connection = session.connection()
    inserted = {v: c.inserted for v, c in pending.items() if c.inserted}
    if tx.native:
        # The triggers wrote the versions; what this flush created is new.
        native.after_flush(session, pending)
        written: dict[Any, dict[Key, Operation]] = {
            v: dict.fromkeys(keys, Operation.INSERT) for v, keys in inserted.items()}
    else:
        _write_flush_versions(connection, tx, linked, pending)
        written = tx.written
    # Either way, two writers linking one owner to one target are refused.
    check_duplicate_links(connection, inserted, written)


def _write_flush_versions(connection: Connection, tx: TransactionState,
                          linked: dict[Any, Any], pending: dict[Versioning, TableChanges]
                          ) -> None:
    """Write the versions of one flush's changes (the Python mode)."""
    assert tx.revision is not None and tx.revision.id is not None
    for association, sides in linked.items():
        write_association_versions(
            connection, association, sides, tx.revision.id,
            tx.written[association],
        )
    for versioning, changes in pending.items():
        earlier = tx.written[versioning]
        if any(k in earlier for keys in (changes.inserted, changes.updated, changes.deleted)
               for k in keys):
            tx.suspects.add(versioning)
        if changes:
            write_versions(
                connection, versioned_table(connection.dialect, versioning), changes,
                tx.revision.id, tx.written[versioning], tx.current.get(versioning.root),
                tx.expire_later[versioning] if is_provisional(tx.revision.id) else None,
                CHUNK,
            )


@event.listens_for(Session, "after_transaction_create")
def _after_transaction_create(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        tx = transaction_state(session)
        tx.savepoints[id(transaction)] = (
            tx.revision, {v: dict(keys) for v, keys in tx.written.items()}
        )


@event.listens_for(Session, "after_soft_rollback")
def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    tx = transaction_state(session)
    tx.pending = defaultdict(TableChanges)
    checking, tx.checking = tx.checking, None
    end_expectations(session, checking, flushed=False)
    snapshot = tx.savepoints.pop(id(previous_transaction), None)
    if previous_transaction.nested and snapshot is not None:
        revision, written = snapshot
        if tx.revision is not None and revision is None:
            _forget(tx.revision)
        tx.revision = revision
        tx.written = defaultdict(dict, written)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    # The last changes first, so that what the revision leaves is final.
    session.flush()
    tx = session.info.get(_STATE_KEY)
    if tx is not None and tx.native and tx.revision is not None and tx.revision.id is not None:
        tx.empty = not native.finish_revision(
            session.connection(), tx.revision, revision_metadata(tx.revision) != tx.stored)
    elif tx is not None and tx.revision is not None and tx.revision.id is not None:
        take_back_net_no_ops(session, tx)
        # Taken back if nothing is left; else the final id (under the
        # sequence lock the commit releases) or the metadata as it is now.
        provisional = tx.revision.id
        tx.empty, tx.stored = end_revision(session.connection(), tx.revision, tx.written,
                                           tx.stored, tx.expire_later)
        if not tx.empty and tx.revision.id != provisional:
            _show_final_id(session, tx.revision, provisional)


def _show_final_id(session: Session, revision: Revision, provisional: int) -> None:
    """Make the session's objects show ``revision``'s final id instead of ``provisional``."""
    make_transient(revision)
    make_transient_to_detached(revision)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Revision):
            if obj.id == provisional:
                session.expunge(obj)
            continue
        versioning = versioning_of(obj)
        if versioning is None:
            continue
        state = orm_attributes.instance_state(obj)
        if state.dict.get(versioning.revision_id_key) == provisional:
            orm_attributes.set_committed_value(obj, versioning.revision_id_key, revision.id)
            if "revision" in state.dict:
                session.expire(obj, ["revision"])


def take_back_net_no_ops(session: Session, tx: TransactionState) -> None:
    """Drop the versions that changed nothing (the revision goes too if nothing
    is left: :func:`vdm.revisionlife.end_revision`).

    A change undone within the revision (a value set and set back in two
    flushes, a link removed and re-added) stores nothing.
    """
    assert tx.revision is not None and tx.revision.id is not None
    connection = session.connection()
    for versioning in tx.suspects:
        if versioning.joined_hierarchy:
            # One table's version may equal its previous one while another
            # table of the object changed: taking it back alone would break
            # the hierarchy's versions apart, so they all stay.
            continue
        written = tx.written[versioning]
        found = drop_net_no_ops(connection, versioned_table(connection.dialect, versioning),
                                tx.revision.id, written)
        for key in found:
            obj = session.identity_map.get(session.identity_key(versioning.cls, key))
            if obj is not None:
                orm_attributes.set_committed_value(obj, REVISION_ID, found[key])
                session.expire(obj, ["revision"])


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    transaction_state(session).committed = True
    native.after_commit(session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None or transaction.nested:
        return
    tx = session.info.pop(_STATE_KEY, None)
    if tx is not None and (tx.empty or not tx.committed) and tx.revision is not None:
        _forget(tx.revision)
    if hasattr(session, "revision"):
        session.revision = None
    proxy = async_proxy(session)
    if hasattr(proxy, "revision"):
        proxy.revision = None


def _forget(revision: Revision) -> None:
    """Make a rolled-back revision transient again, so it can be reused."""
    make_transient(revision)
    revision.id = None
    revision.timestamp = None


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    if native.versions_statement(state):
        ensure_revision(state.session, state.session.connection(), native.statement_targets(state))
        return
    for mapper in state.all_mappers:
        cls = mapper.class_
        if versioning_of(cls) is not None or issubclass(cls, Version):
            verb = "UPDATE" if state.is_update else "DELETE" if state.is_delete else "INSERT"
            raise UnversionedChangeError(
                f"a bulk {verb} statement on {cls.__name__} would bypass its "
                f"history; load the objects and change them through the "
                f"session (session.add / attribute changes / session.delete)",
                cls=cls,
            )
