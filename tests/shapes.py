"""A reference recorder for the model-shape tests (tests/test_shapes_*.py).

A shape test tells a revision story on models declared the way an
application declares them.  After each commit the :class:`Recorder` reads
what is live, in a fresh session, as plain ``{key: {field: value}}`` per
class: that is what the model looked like as of that revision.  Then
:meth:`Recorder.check` asks vdm every history question it answers (as-of
reads, versions, changesets, diffs, the whole-model view, changes of a
revision, verify) and compares each answer with the recording.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, MetaData, select
from sqlalchemy.orm import Session

from vdm import Operation, State
from vdm.sqlalchemy import Repository, Revision, as_of

Key = tuple[Any, ...]
Snapshot = dict[type, dict[Key, dict[str, Any]]]


def fields_of(obj: Any) -> dict[str, Any]:
    """A live object's versioned fields."""
    return {f: getattr(obj, f) for f in type(obj).__versioning__.fields}


@dataclass
class Recorder:
    """What was live after each revision of a story, for comparison with history."""

    engine: Engine
    metadata: MetaData
    classes: list[type]
    snapshots: dict[int, Snapshot] = field(default_factory=dict)

    def snapshot(self) -> Snapshot:
        """Every live object of the classes, read in a fresh session."""
        with Session(self.engine) as session:
            return {cls: {cls.__versioning__.key_of(obj): fields_of(obj)
                          for obj in session.scalars(select(cls))}
                    for cls in self.classes}

    def record(self, revision: Revision) -> int:
        """Remember the live model as of ``revision`` (just committed)."""
        revision_id = revision.id
        assert revision_id is not None, "the revision was not written"
        self.snapshots[revision_id] = self.snapshot()
        return revision_id

    @contextmanager
    def revision(self, session: Session, message: str) -> Iterator[Revision]:
        """``with recorder.revision(session, "msg"):`` a change, committed and recorded."""
        rev = Revision(author="shapes", message=message)
        session.revision = rev  # type: ignore[attr-defined]
        yield rev
        session.commit()
        self.record(rev)

    # -- checks -------------------------------------------------------

    def expected_versions(self, cls: type, key: Key) -> list[tuple[int, dict[str, Any] | None]]:
        """``[(revision, values or None for a delete)]`` the recording implies."""
        found: list[tuple[int, dict[str, Any] | None]] = []
        before: dict[str, Any] | None = None
        for rev in sorted(self.snapshots):
            now = self.snapshots[rev][cls].get(key)
            if now != before:
                found.append((rev, now))
            before = now
        return found

    def keys(self, cls: type) -> set[Key]:
        """Every key of ``cls`` the story ever had."""
        return {k for snap in self.snapshots.values() for k in snap[cls]}

    def check(self) -> None:
        """Compare every history answer of vdm with the recording."""
        with Session(self.engine) as session:
            repo = Repository(self.metadata, session)
            assert repo.verify() == []
            revisions = sorted(self.snapshots)
            for rev in revisions:
                self._check_revision(session, repo, rev, revisions)
            for cls in self.classes:
                for key in self.keys(cls):
                    self._check_object(session, cls, key)

    def _check_revision(self, session: Session, repo: Repository, rev: int,
                        revisions: list[int]) -> None:
        view = as_of(session, rev)
        snap = self.snapshots[rev]
        for cls in self.classes:
            got = {v.object_key: v.field_values for v in view.all(cls)}
            assert got == snap[cls], f"{cls.__name__} as of {rev}"
            self._check_query(view, cls, snap[cls])
            for key in self.keys(cls):
                version = view.get(cls, key)
                values = version.field_values if version is not None else None
                assert values == snap[cls].get(key), f"{cls.__name__}{key} as of {rev}"
        index = revisions.index(rev)
        if index == 0:
            return
        prev = revisions[index - 1]
        diff = repo.diff(prev, rev)
        changes = repo.changes(rev)
        changed_objects = {(c.class_name, c.key) for c in changes.objects}
        expected_changed = set()
        for cls in self.classes:
            old, new = self.snapshots[prev][cls], snap[cls]
            class_diff = diff.classes.get(cls.__name__)
            added = sorted(set(new) - set(old), key=repr)
            removed = sorted(set(old) - set(new), key=repr)
            changed = {k: {f for f in new[k] if new[k][f] != old[k][f]}
                       for k in set(old) & set(new) if new[k] != old[k]}
            expected_changed |= {(cls.__name__, k) for k in [*added, *removed, *changed]}
            if class_diff is None:
                assert not (added or removed or changed), f"{cls.__name__} diff {prev}->{rev}"
                continue
            assert sorted(class_diff.added, key=repr) == added
            assert sorted(class_diff.removed, key=repr) == removed
            assert {k: set(c) for k, c in class_diff.changed.items()} == changed
        assert changed_objects == expected_changed, f"changes of revision {rev}"

    @staticmethod
    def _check_query(view: Any, cls: Any, rows: dict[Key, dict[str, Any]]) -> None:
        """A filtered, ordered query on the live class, run as of the revision."""
        versioning = cls.__versioning__
        names = [f for f in versioning.fields if f != "state" and f not in versioning.key_names
                 and all(isinstance(r[f], str | int) for r in rows.values())]
        if not names or not rows:
            return
        name = names[0]
        value = next(iter(rows.values()))[name]
        expected = {k for k, r in rows.items() if r[name] == value}
        attr = getattr(cls, name)
        found = view.scalars(select(cls).where(attr == value).order_by(attr))
        assert {v.object_key for v in found} == expected, f"{cls.__name__}.{name} == {value!r}"

    def _check_object(self, session: Session, cls: Any, key: Key) -> None:
        expected = self.expected_versions(cls, key)
        versioning = cls.__versioning__
        vcls = cls.__revision_class__
        stored = list(session.scalars(
            select(vcls).where(versioning.version_key_clause([key]))
            .order_by(vcls.revision_id)))
        got = [(v.revision_id,
                None if v.operation_type == Operation.DELETE else v.field_values)
               for v in stored]
        assert got == expected, f"versions of {cls.__name__}{key}"
        before: dict[str, Any] | None = None
        for version, (_, values) in zip(stored, expected, strict=True):
            if values is None:
                # A delete version keeps the last values the object had in
                # its revision (changed then deleted: the changed ones).
                last = version.field_values
                assert version.changeset == {f: [v, None] for f, v in last.items()
                                             if v is not None}
                assert last.keys() == (before or last).keys()
            else:
                assert version.changeset == {
                    f: [(before or {}).get(f), v] for f, v in values.items()
                    if (before or {}).get(f) != v}, f"changeset of {version!r}"
            before = values
        live = session.get(cls, key if len(key) > 1 else key[0])
        if live is None:
            return
        assert [v.revision_id for v in live.versions] == [r for r, _ in expected]
        revisions = sorted(self.snapshots)
        for rev in revisions:
            version = live.get_as_of(rev)
            values = version.field_values if version is not None else None
            assert values == self.snapshots[rev][cls].get(key), f"{live!r}.get_as_of({rev})"
        first, last = expected[0][0], expected[-1][0]
        if first != last and expected[-1][1] is not None and expected[0][1] is not None:
            changed = {f for f, v in expected[-1][1].items() if expected[0][1][f] != v}
            assert set(live.diff(last, first)) == changed


def _attr_of(cls: Any, column: Any) -> str:
    """The attribute key of a column of versioned ``cls``."""
    for attr, key in cls.__versioning__.fields.items():
        if key == column.key:
            return attr
    raise KeyError(column)


def check_relationships(recorder: Recorder, cls: Any, names: list[str]) -> None:
    """Each relationship of each version, as of each revision, against the recording.

    A many-to-one gives the target as it was then (its version, or the live
    object of an unversioned class); a collection lists the targets that
    pointed at the object then (active ones, for a stateful target); a
    dynamic or write-only relationship gives a query listing the same.
    """
    from sqlalchemy.orm import RelationshipDirection

    mapper = cls.__mapper__
    with Session(recorder.engine) as session:
        for rev in sorted(recorder.snapshots):
            snap = recorder.snapshots[rev]
            for version in as_of(session, rev).all(cls):
                for name in names:
                    prop = mapper.relationships[name]
                    target = prop.mapper.class_
                    got = getattr(version, name)
                    if prop.lazy in ("dynamic", "write_only"):
                        got = list(session.scalars(got))
                    pairs = prop.local_remote_pairs
                    if prop.direction is RelationshipDirection.MANYTOONE:
                        fk = tuple(snap[cls][version.object_key][_attr_of(cls, local)]
                                   for local, _ in pairs)
                        if all(v is None for v in fk):
                            assert got is None, f"{version!r}.{name}"
                            continue
                        assert got is not None, f"{version!r}.{name}"
                        if target in recorder.classes:
                            assert got.object_key == fk
                            assert got.field_values == snap[target][fk]
                        else:
                            assert tuple(target.__mapper__.primary_key_from_instance(got)) == fk
                        continue
                    own = dict(zip(cls.__versioning__.key_names, version.object_key,
                                   strict=True))
                    stateful = target.__versioning__.stateful
                    expected = {
                        key for key, values in snap[target].items()
                        if all(values[_attr_of(target, remote)] == own[local.key]
                               for local, remote in pairs)
                        and (not stateful or values["state"] == State.ACTIVE)
                    }
                    items = got if prop.uselist else [got] if got is not None else []
                    assert {v.object_key for v in items} == expected, (
                        f"{version!r}.{name} as of {rev}")
