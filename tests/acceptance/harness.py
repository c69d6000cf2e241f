"""A small harness per backend, so one acceptance suite runs on both.

The stories speak to a :class:`Harness`: begin a revision, create, change,
delete, commit or roll back, read history.  What the objects and versions
*are* is each backend's own (attribute names are the same in both models:
``book.title``, ``version.license.name``, ``package.tags``); only how a
backend is driven differs, and that is all a harness hides.

Two models: ``story`` (books, authors, licenses: :mod:`models` and
:mod:`sqlobject_models`) and ``links`` (packages, tags, extras:
:mod:`link_models` and the link classes of :mod:`sqlobject_models`).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session as SASession

from vdm.states import State
from vdm.violations import Violation


def expect_drift(request: pytest.FixtureRequest, harness: Harness, backend: str,
                 reason: str) -> None:
    """Mark this run a known drift (strict xfail) when ``harness`` is ``backend``.

    The story's assertions stay as they are: where one backend still
    answers differently, the run on it is expected to fail, and must.
    """
    name = "sqlalchemy-native" if getattr(harness, "native", False) else harness.backend
    if name == backend:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"drift: {reason}"))


class Harness:
    """What the acceptance stories need from a backend."""

    backend: str

    def __init__(self, engine: Engine, model: str) -> None:
        self.engine = engine
        self.model = model
        self.others: list[Harness] = []

    # -- revisions ----------------------------------------------------------

    def begin(self, message: str = "change", author: str = "tester") -> Any:
        """Start a revision on this harness's session; return it."""
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def revise(self, message: str, change: Any) -> None:
        """Begin, run ``change()``, commit."""
        self.begin(message)
        change()
        self.commit()

    def other(self) -> Harness:
        """A second session on the same database (closed with this one)."""
        harness = self._other()
        self.others.append(harness)
        return harness

    def _other(self) -> Harness:
        raise NotImplementedError

    def close(self) -> None:
        for harness in self.others:
            harness.close()
        self._close()

    def _close(self) -> None:
        raise NotImplementedError

    # -- objects --------------------------------------------------------------

    def create(self, cls_name: str, **values: Any) -> Any:
        """A new object of the model's class ``cls_name`` in the session."""
        raise NotImplementedError

    def find(self, cls_name: str, **filters: Any) -> Any:
        """The one live object matching ``filters`` (read in the session), or None."""
        raise NotImplementedError

    def update(self, obj: Any, **values: Any) -> None:
        raise NotImplementedError

    def destroy(self, obj: Any) -> None:
        """The hard delete."""
        raise NotImplementedError

    def soft_delete(self, obj: Any) -> None:
        obj.delete()

    def undelete(self, obj: Any) -> None:
        obj.undelete()

    def new_link(self, package: Any, tag: Any) -> Any:
        """A new PackageTag from ``package`` to ``tag``, as the backend's users make one."""
        raise NotImplementedError

    # -- history --------------------------------------------------------------

    def repository(self) -> Any:
        raise NotImplementedError

    def history(self) -> list[str]:
        """Messages of the revisions, newest first."""
        return [r.message for r in self.repository().history()]

    def list_changes(self, revision: int) -> dict[str, list[tuple[Any, int, str]]]:
        """``{class name: [(id, operation, state)]}`` of the classes one revision changed.

        (``Repository.list_changes`` also lists the unchanged classes, with [].)
        """
        return {
            cls.__name__: sorted((self.key(v), int(v.operation_type), State(v.state).value)
                                 for v in versions)
            for cls, versions in self.repository().list_changes(revision).items()
            if versions
        }

    def key(self, version: Any) -> Any:
        raise NotImplementedError

    def purge_revision(self, revision: int, leave_record: bool = False) -> None:
        raise NotImplementedError

    def verify(self) -> list[Violation]:
        raise NotImplementedError

    def purge(self, obj: Any) -> None:
        """``Repository.purge(obj)``, committed."""

    def undo(self, revision: int) -> None:
        """Undo ``revision`` in the current revision (may raise ConflictError)."""
        raise NotImplementedError

    def restore(self, revision: int) -> None:
        """Bring the whole model back to ``revision``, in the current revision."""
        raise NotImplementedError

    # -- links ------------------------------------------------------------------

    def extras_history(self, package: Any, key: str) -> list[tuple[int, str, str]]:
        """``(revision id, value, state)`` of each version of one map key."""
        return [(v.revision_id, v.value, State(v.state).value)
                for v in package.extras.history(key)]

    # -- what the fuzz compares -------------------------------------------------------

    def flush(self) -> None:
        """Send pending changes (so new objects have their keys)."""

    def revisions(self) -> list[tuple[int, str]]:
        """``(id, message)`` of every revision, oldest first."""
        return [(int(r.id), str(r.message)) for r in reversed(self.repository().history())]

    def versions_as_of(self, cls_name: str, revision: int) -> list[dict[str, Any]]:
        """``{column: value}`` of every object of a class as of ``revision``."""
        view = self.repository().as_of(revision)
        return [self.column_values(cls_name, v.field_values)
                for v in view.all(self.classes[cls_name])]

    def column_values(self, cls_name: str, field_values: dict[str, Any]) -> dict[str, Any]:
        """A version's ``field_values`` keyed by column name (states as text)."""
        columns = self.fields(cls_name)
        return {columns[f]: State(v).value if f == "state" else v
                for f, v in field_values.items()}

    def fields(self, cls_name: str) -> dict[str, str]:
        """``{attribute: column}`` of a class's versioned fields (both backends' record)."""
        return dict(self.classes[cls_name].__versioning__.fields)

    def model_diff(self, a: int, b: int) -> dict[str, tuple[list[Any], list[Any], list[Any]]]:
        """``{table: (added, removed, changed keys)}`` of the classes that differ."""
        found = {}
        for name, diff in self.repository().diff(a, b).classes.items():
            if diff:
                table = self.table_of(name)
                found[table] = tuple(sorted(k[0] if isinstance(k, tuple) else k for k in keys)
                                     for keys in (diff.added, diff.removed, list(diff.changed)))
        return found  # type: ignore[return-value]

    def table_of(self, cls_name: str) -> str:
        raise NotImplementedError

    def field_history(self, obj: Any, field: str) -> list[tuple[int, Any, Any]]:
        """``(revision id, old, new)`` of each change of one field."""
        raise NotImplementedError

    # -- the database -------------------------------------------------------------

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of raw SQL, read outside every session."""
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]

    def break_history(self, sql: str) -> None:
        """Run ``sql`` past the foreign keys, as a broken tool would."""
        with self.engine.begin() as conn:
            if self.engine.dialect.name in ("mysql", "mariadb"):
                conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            elif self.engine.dialect.name == "postgresql":
                # LOCAL: the setting must not outlive the transaction on a pooled
                # connection (it also turns off native versioning triggers).
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(sql))


class SQLAlchemyHarness(Harness):
    """vdm.sqlalchemy: declarative classes, a plain Session."""

    backend = "sqlalchemy"

    def __init__(self, engine: Engine, model: str, create: bool = True,
                 native: bool = False) -> None:
        super().__init__(engine, model)
        self.native = native
        if model == "story":
            import models

            self.classes = {c: getattr(models, c) for c in ("Book", "Author", "License")}
            self.metadata = models.Base.metadata
        else:
            import link_models

            self.classes = {c: getattr(link_models, c) for c in (
                "Package", "Tag", "PackageTag", "PackageExtra", "License", "Group",
                "PackageGroup")}
            self.metadata = link_models.LinkBase.metadata
        if native:
            from vdm.sqlalchemy import native as native_mode

            native_mode.enable(self.metadata)
        if create:
            self.metadata.create_all(engine)
        self.session = SASession(engine)

    def begin(self, message: str = "change", author: str = "tester") -> Any:
        from vdm.sqlalchemy import Revision

        revision = Revision(author=author, message=message)
        self.session.revision = revision  # type: ignore[attr-defined]
        return revision

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def _other(self) -> Harness:
        return SQLAlchemyHarness(self.engine, self.model, create=False, native=self.native)

    def _close(self) -> None:
        self.session.close()
        if self.native:
            from vdm.sqlalchemy import native as native_mode

            native_mode.disable(self.metadata)

    def create(self, cls_name: str, **values: Any) -> Any:
        obj = self.classes[cls_name](**values)
        self.session.add(obj)
        return obj

    def find(self, cls_name: str, **filters: Any) -> Any:
        query = select(self.classes[cls_name]).filter_by(**filters)
        return self.session.scalars(query).one_or_none()

    def update(self, obj: Any, **values: Any) -> None:
        for name, value in values.items():
            setattr(obj, name, value)
        self.session.flush()

    def destroy(self, obj: Any) -> None:
        self.session.delete(obj)
        self.session.flush()

    def new_link(self, package: Any, tag: Any) -> Any:
        # Not yet in the package's list: appending it to a view puts it there.
        return self.classes["PackageTag"](tag=tag)

    def repository(self) -> Any:
        from vdm.sqlalchemy import Repository

        return Repository(self.metadata, self.session)

    def key(self, version: Any) -> Any:
        return version.id

    def purge_revision(self, revision: int, leave_record: bool = False) -> None:
        self.repository().purge_revision(revision, leave_record=leave_record)

    def verify(self) -> list[Violation]:
        self.session.rollback()
        return self.repository().verify()  # type: ignore[no-any-return]

    def purge(self, obj: Any) -> None:
        self.repository().purge(obj)

    def undo(self, revision: int) -> None:
        self.repository().undo(revision)

    def flush(self) -> None:
        self.session.flush()

    def table_of(self, cls_name: str) -> str:
        return str(self.classes[cls_name].__table__.name)

    def field_history(self, obj: Any, field: str) -> list[tuple[int, Any, Any]]:
        from vdm.sqlalchemy import field_history

        return [(int(c.revision.id), c.old, c.new) for c in field_history(obj, field)]

    def restore(self, revision: int) -> None:
        self.repository().restore(revision)


class SQLObjectHarness(Harness):
    """vdm.sqlobject: SQLObject classes, a vdm Session over one transaction."""

    backend = "sqlobject"

    def __init__(self, engine: Engine, model: str, uri: str | None = None,
                 connection: Any = None) -> None:
        super().__init__(engine, model)
        import sqlobject_models as so
        from sqlobject import connectionForURI

        from vdm.sqlobject import Session, create_tables

        if model == "story":
            self.classes = {"Book": so.Book, "Author": so.Author, "License": so.License}
            self.all_classes = so.STORY
        else:
            self.classes = {"Package": so.Package, "Tag": so.Tag, "PackageTag": so.PackageTag,
                            "PackageExtra": so.PackageExtra, "License": so.LinkLicense,
                            "Group": so.Group, "PackageGroup": so.PackageGroup}
            self.all_classes = so.LINKS
        self.owns_connection = connection is None
        if connection is None:
            assert uri is not None
            connection = connectionForURI(uri)
            create_tables(connection, self.all_classes)
        self.connection = connection
        self.session = Session(connection)

    def begin(self, message: str = "change", author: str = "tester") -> Any:
        from vdm.sqlobject import Revision

        revision = Revision(author=author, message=message)
        self.session.revision = revision
        return revision

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def _other(self) -> Harness:
        return SQLObjectHarness(self.engine, self.model, connection=self.connection)

    def _close(self) -> None:
        if not self.session.transaction._obsolete:
            self.session.close()
        if self.owns_connection:
            self.connection.close()

    def create(self, cls_name: str, **values: Any) -> Any:
        return self.classes[cls_name](connection=self.session.transaction, **values)

    def find(self, cls_name: str, **filters: Any) -> Any:
        found = list(self.classes[cls_name].selectBy(connection=self.session.transaction,
                                                     **filters))
        assert len(found) <= 1
        return found[0] if found else None

    def update(self, obj: Any, **values: Any) -> None:
        obj.set(**values)

    def destroy(self, obj: Any) -> None:
        obj.destroySelf()

    def new_link(self, package: Any, tag: Any) -> Any:
        # An SQLObject row exists from its creation: it names its package.
        return self.classes["PackageTag"](package=package, tag=tag,
                                          connection=self.session.transaction)

    def repository(self) -> Any:
        from vdm.sqlobject import Repository

        return Repository(self.connection, self.all_classes)

    def key(self, version: Any) -> Any:
        return version.id

    def purge_revision(self, revision: int, leave_record: bool = False) -> None:
        # Like the SQLAlchemy repository: the session's work is committed
        # first, and the session reads the rewritten history afterwards.
        self.session.commit()
        self.repository().purge_revision(revision, leave_record=leave_record)
        self.session.rollback()

    def verify(self) -> list[Violation]:
        self.session.rollback()
        return self.repository().verify()  # type: ignore[no-any-return]

    def purge(self, obj: Any) -> None:
        self.repository().purge(obj)

    def undo(self, revision: int) -> None:
        self.repository().undo(revision, self.session)

    def restore(self, revision: int) -> None:
        self.repository().restore(revision, self.session)

    def table_of(self, cls_name: str) -> str:
        return next(str(c.sqlmeta.table) for c in self.classes.values()
                    if c.__name__ == cls_name)

    def field_history(self, obj: Any, field: str) -> list[tuple[int, Any, Any]]:
        from vdm.sqlobject import field_history

        return [(int(c.revision.id), c.old, c.new) for c in field_history(obj, field)]
