"""A differential fuzz: random revisions against a plain-Python model of history.

A hypothesis state machine edits a small catalogue (licenses, packages,
tags through a versioned link, extras through a versioned map) through
the acceptance harness, so it runs on both backends: create, change, soft
and hard delete, undelete, link and unlink, commit or roll back, undo,
restore and purge_revision.  The reference model keeps, per object, the
values each revision wrote (``None``: destroyed); after every step with
no revision open it compares with what vdm reports: the revision list,
HEAD, every class as of every committed revision, the objects' own views
(links and map keys), model diffs, field history and ``verify()``.

CI runs a small budget; ``VDM_FUZZ_EXAMPLES`` (examples per database and
backend) and ``VDM_FUZZ_STEPS`` (steps per example) raise it for a long
run.  A failure found is kept as a plain test in
:mod:`tests.acceptance.test_accept_consistency`.
"""

from __future__ import annotations

import os
from copy import deepcopy
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from vdm import ConflictError, IntegrityViolation

from .conftest import _open
from .harness import Harness

EXAMPLES = int(os.environ.get("VDM_FUZZ_EXAMPLES", "3"))
STEPS = int(os.environ.get("VDM_FUZZ_STEPS", "25"))

#: Reference identity: (table, key); links and map entries by their content.
Ident = tuple[str, Any]
Values = dict[str, Any]

#: The harness class of each table of the catalogue, and the fields compared.
CLASSES = {"license": "License", "package": "Package", "tag": "Tag",
           "package_tag": "PackageTag", "package_extra": "PackageExtra"}
FIELDS = {"license": ("name",), "package": ("name", "license_id", "state"),
          "tag": ("name", "state"), "package_tag": ("state",),
          "package_extra": ("value", "state")}
OBJECT_TABLES = ("license", "package", "tag")
TABLES = ("package_extra", "package_tag", "package_group", "package", "tag", "grp",
          "license")


def ident_of(table: str, row: dict[str, Any]) -> tuple[Ident, Values]:
    """The reference identity and compared values of a row read from vdm."""
    values = {f: row[f] for f in FIELDS[table]}
    if table == "package_tag":
        return (table, (row["package_id"], row["tag_id"])), values
    if table == "package_extra":
        return (table, (row["package_id"], row.get("key", row.get("extra_key")))), values
    return (table, row["id"]), values


def tags_of(model: dict[Ident, Values], package: Any) -> list[Any]:
    """Keys of the tags ``package`` is actively linked to in ``model`` (tags that exist)."""
    return sorted(k[1] for (t, k), v in model.items()
                  if t == "package_tag" and k[0] == package and v["state"] == "active"
                  and ("tag", k[1]) in model)


def extras_of(model: dict[Ident, Values], package: Any) -> dict[str, Any]:
    """The active map entries of ``package`` in ``model``."""
    return {k[1]: v["value"] for (t, k), v in model.items()
            if t == "package_extra" and k[0] == package and v["state"] == "active"}


def wipe(h: Harness) -> None:
    """Empty every table of the catalogue and the revisions (keys keep counting)."""
    for table in TABLES:
        h.break_history(f"DELETE FROM {table}_revision")
        h.break_history(f"DELETE FROM {table}")
    h.break_history("DELETE FROM revision")


class History(RuleBasedStateMachine):
    """The machine; ``open_harness`` is set per database and backend."""

    open_harness: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.h: Harness = type(self).open_harness()
        wipe(self.h)
        self.hist: dict[Ident, list[tuple[int, Values | None]]] = {}
        self.revs: list[tuple[int, str]] = []
        self.work: dict[Ident, Values] | None = None
        self.counter = 0

    def teardown(self) -> None:
        try:
            if self.work is None:
                self.check_objects_as_of()
        finally:
            self.h.close()

    # -- the reference model --------------------------------------------------

    def as_of(self, revision: int | None) -> dict[Ident, Values]:
        found = {}
        for ident, entries in self.hist.items():
            kept = [v for r, v in entries if revision is None or r <= revision]
            if kept and kept[-1] is not None:
                found[ident] = kept[-1]
        return found

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def keys(self, table: str) -> list[Any]:
        assert self.work is not None
        return sorted(k for t, k in self.work if t == table)

    def obj(self, table: str, key: Any) -> Any:
        if self.h.backend == "sqlobject":
            cls: Any = self.h.classes[CLASSES[table]]  # type: ignore[attr-defined]
            return cls.get(key, connection=self.h.session.transaction)  # type: ignore[attr-defined]
        found = self.h.find(CLASSES[table], id=key)
        assert found is not None, (table, key)
        return found

    # -- revisions ---------------------------------------------------------------

    @precondition(lambda self: self.work is None)
    @rule()
    def begin(self) -> None:
        self.message = self.fresh("m")
        self.h.begin(self.message)
        self.work = deepcopy(self.as_of(None))

    @precondition(lambda self: self.work is not None)
    @rule()
    def commit(self) -> None:
        assert self.work is not None
        self.h.commit()
        head = self.as_of(None)
        changed = {i for i in set(head) | set(self.work) if head.get(i) != self.work.get(i)}
        revisions = self.h.revisions()
        if changed:
            assert revisions[:-1] == self.revs and revisions[-1][1] == self.message, revisions
            rid = revisions[-1][0]
            self.revs.append(revisions[-1])
            for ident in changed:
                self.hist.setdefault(ident, []).append((rid, deepcopy(self.work.get(ident))))
        else:
            assert revisions == self.revs, "a revision that changed nothing left a row"
        self.work = None

    @precondition(lambda self: self.work is not None)
    @rule()
    def rollback(self) -> None:
        self.h.rollback()
        self.work = None

    # -- objects --------------------------------------------------------------------

    @precondition(lambda self: self.work is not None)
    @rule(kind=st.sampled_from(["license", "tag", "package"]), data=st.data())
    def create(self, kind: str, data: st.DataObject) -> None:
        assert self.work is not None
        values: Values = {"name": self.fresh(kind[0])}
        if kind == "package":
            licenses = self.keys("license")
            license_id = data.draw(st.sampled_from([None, *licenses]))
            extra = {} if license_id is None else {"license": self.obj("license", license_id)}
            obj = self.h.create("Package", name=values["name"], **extra)
            values["license_id"] = license_id
        else:
            obj = self.h.create(CLASSES[kind], name=values["name"])
        if kind != "license":
            values["state"] = "active"
        self.h.flush()
        ident = (kind, obj.id)
        self.work[ident] = values

    def pick(self, data: st.DataObject, tables: list[str]) -> Ident | None:
        assert self.work is not None
        choices = sorted((i for i in self.work if i[0] in tables), key=repr)
        if not choices:
            return None
        return data.draw(st.sampled_from(choices))

    @precondition(lambda self: self.work is not None)
    @rule(data=st.data())
    def rename(self, data: st.DataObject) -> None:
        ident = self.pick(data, ["license", "tag", "package"])
        if ident is None:
            return
        assert self.work is not None
        name = self.fresh(ident[0][0])
        self.h.update(self.obj(*ident), name=name)
        self.work[ident]["name"] = name

    @precondition(lambda self: self.work is not None)
    @rule(data=st.data())
    def relicense(self, data: st.DataObject) -> None:
        ident = self.pick(data, ["package"])
        if ident is None:
            return
        assert self.work is not None
        license_id = data.draw(st.sampled_from([None, *self.keys("license")]))
        pkg = self.obj(*ident)
        # Assigning the license it has is a form posted back unchanged.
        pkg.license = None if license_id is None else self.obj("license", license_id)
        self.h.flush()
        self.work[ident]["license_id"] = license_id

    @precondition(lambda self: self.work is not None)
    @rule(data=st.data(), delete=st.booleans())
    def soft_delete_or_undelete(self, data: st.DataObject, delete: bool) -> None:
        ident = self.pick(data, ["tag", "package"])
        if ident is None:
            return
        assert self.work is not None
        obj = self.obj(*ident)
        if delete:
            self.h.soft_delete(obj)
        else:
            self.h.undelete(obj)
        self.h.flush()
        self.work[ident]["state"] = "deleted" if delete else "active"

    @precondition(lambda self: self.work is not None)
    @rule(data=st.data())
    def destroy(self, data: st.DataObject) -> None:
        ident = self.pick(data, ["license", "tag", "package"])
        if ident is None:
            return
        assert self.work is not None
        table, key = ident
        for (t, k), values in self.work.items():
            if (table == "license" and t == "package" and values["license_id"] == key) or (
                    table == "package" and t in ("package_tag", "package_extra")
                    and k[0] == key) or (table == "tag" and t == "package_tag"
                                         and k[1] == key):
                return  # still referred to
        self.h.destroy(self.obj(*ident))
        del self.work[ident]

    # -- links and maps -------------------------------------------------------------

    @precondition(lambda self: self.work is not None)
    @rule(data=st.data())
    def tag_or_untag(self, data: st.DataObject) -> None:
        assert self.work is not None
        packages, tags = self.keys("package"), self.keys("tag")
        if not packages or not tags:
            return
        p = data.draw(st.sampled_from(packages))
        t = data.draw(st.sampled_from(tags))
        ident = ("package_tag", (p, t))
        pkg, tag = self.obj("package", p), self.obj("tag", t)
        current = self.work.get(ident)
        if current is not None and current["state"] == "active":
            if ident not in self.as_of(None):
                return  # added in this revision: removing it is another story
            pkg.tags.remove(tag)
            self.work[ident] = {"state": "deleted"}
        else:
            pkg.tags.append(tag)
            self.work[ident] = {"state": "active"}
        self.h.flush()

    @precondition(lambda self: self.work is not None)
    @rule(data=st.data(), key=st.sampled_from(["a", "b"]), remove=st.booleans())
    def set_or_delete_extra(self, data: st.DataObject, key: str, remove: bool) -> None:
        assert self.work is not None
        packages = self.keys("package")
        if not packages:
            return
        p = data.draw(st.sampled_from(packages))
        ident = ("package_extra", (p, key))
        pkg = self.obj("package", p)
        current = self.work.get(ident)
        if remove:
            if current is None or current["state"] != "active" or ident not in self.as_of(None):
                return
            del pkg.extras[key]
            self.work[ident] = {"value": current["value"], "state": "deleted"}
        else:
            value = self.fresh("v")
            pkg.extras[key] = value
            self.work[ident] = {"value": value, "state": "active"}
        self.h.flush()

    # -- undo, restore, purge ---------------------------------------------------------

    def whole_revision_op(self) -> bool:
        return self.work is not None and bool(self.revs)

    @precondition(whole_revision_op)
    @rule(data=st.data())
    def undo(self, data: st.DataObject) -> None:
        assert self.work is not None
        rid = data.draw(st.sampled_from([r for r, _ in self.revs]))
        try:
            self.h.undo(rid)
            self.h.flush()
        except ConflictError:
            self.h.rollback()
            self.work = None
            return
        for ident, entries in self.hist.items():
            written = [v for r, v in entries if r == rid]
            if not written:
                continue
            before = [v for r, v in entries if r < rid]
            old = before[-1] if before else None
            new = written[0]
            if old is None or new is None:
                if old is None:
                    self.work.pop(ident, None)
                else:
                    self.work[ident] = deepcopy(old)
            else:
                for name in old:
                    if old[name] != new[name]:
                        self.work[ident][name] = old[name]

    @precondition(whole_revision_op)
    @rule(data=st.data())
    def restore(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from([r for r, _ in self.revs]))
        self.h.restore(rid)
        self.h.flush()
        self.work = deepcopy(self.as_of(rid))

    @precondition(lambda self: self.work is None and bool(self.revs))
    @rule(data=st.data(), leave_record=st.booleans())
    def purge_revision(self, data: st.DataObject, leave_record: bool) -> None:
        rid = data.draw(st.sampled_from([r for r, _ in self.revs]))
        try:
            self.h.purge_revision(rid, leave_record=leave_record)
        except IntegrityViolation:
            return  # refused: the checks below see that nothing changed
        for entries in self.hist.values():
            entries[:] = [(r, v) for r, v in entries if r != rid]
        if not leave_record:
            self.revs = [(r, m) for r, m in self.revs if r != rid]

    # -- what vdm reports -----------------------------------------------------------------

    def read_as_of(self, revision: int) -> dict[Ident, Values]:
        found = {}
        for table, cls_name in CLASSES.items():
            for row in self.h.versions_as_of(cls_name, revision):
                ident, values = ident_of(table, row)
                found[ident] = values
        return found

    def read_head(self) -> dict[Ident, Values]:
        found = {}
        quote = self.h.engine.dialect.identifier_preparer.quote
        for table in CLASSES:
            names = ["id", *FIELDS[table]]
            if table == "package_tag":
                names += ["package_id", "tag_id"]
            if table == "package_extra":
                names += ["package_id", self.h.fields("PackageExtra")["key"]]
            columns = ", ".join(quote(n) for n in names)
            for row in self.h.rows(f"SELECT {columns} FROM {table}"):
                values = dict(zip(names, row, strict=True))
                ident, compared = ident_of(table, values)
                found[ident] = compared
        return found

    @invariant()
    def history_matches(self) -> None:
        if self.work is not None:
            return
        assert self.h.revisions() == self.revs
        expected_head = self.as_of(None)
        assert self.read_head() == expected_head
        for rid, _ in self.revs:
            assert self.read_as_of(rid) == self.as_of(rid), f"as of revision {rid}"
        assert self.h.verify() == [], self.h.rows(
            "SELECT id, package_id, tag_id, state, revision_id, expired_id, operation_type "
            "FROM package_tag_revision ORDER BY id, revision_id")
        for table, key in expected_head:
            if table != "package":
                continue
            pkg = self.obj(table, key)
            assert sorted(tag.id for tag in pkg.tags) == tags_of(expected_head, key)
            assert dict(pkg.extras) == extras_of(expected_head, key)
        if len(self.revs) >= 2:
            (a, _), (b, _) = self.revs[-2], self.revs[-1]
            reported = {t: d for t, d in self.h.model_diff(a, b).items() if t in OBJECT_TABLES}
            assert reported == self.reference_diff(a, b)

    def reference_diff(self, a: int, b: int) -> dict[str, tuple[list[Any], ...]]:
        """The model diff of the objects (links and map entries are keyed by row in vdm)."""
        old, new = self.as_of(a), self.as_of(b)
        found: dict[str, tuple[list[Any], ...]] = {}
        for table in OBJECT_TABLES:
            o = {k: v for (t, k), v in old.items() if t == table}
            n = {k: v for (t, k), v in new.items() if t == table}
            diff = (sorted(set(n) - set(o)), sorted(set(o) - set(n)),
                    sorted(k for k in set(o) & set(n) if o[k] != n[k]))
            if any(diff):
                found[table] = diff
        return found

    def check_objects_as_of(self) -> None:
        """Each live object's own as-of views and field history (at the end)."""
        for table, key in self.as_of(None):
            if table not in ("package", "tag"):
                continue
            obj = self.obj(table, key)
            entries = self.hist[(table, key)]
            for rid, _ in self.revs:
                expected = self.as_of(rid).get((table, key))
                version = obj.get_as_of(rid)
                if expected is None:
                    assert version is None, (table, key, rid)
                    continue
                assert version is not None, (table, key, rid)
                assert version.name == expected["name"]
                if table == "package":
                    then = self.as_of(rid)
                    assert sorted(tag.id for tag in version.tags) == tags_of(then, key), (key, rid)
                    assert dict(version.extras) == extras_of(then, key), (key, rid)
            expected_history = []
            previous = None
            for rid, value in entries:
                if value is None:
                    previous = None
                    continue
                if previous is None or value["name"] != previous["name"]:
                    expected_history.append(
                        (rid, None if previous is None else previous["name"], value["name"]))
                previous = value
            assert self.h.field_history(obj, "name") == expected_history, (table, key)


@pytest.mark.parametrize("backend", ["sqlalchemy", "sqlobject", "sqlalchemy-native"])
def test_history_holds_after_any_sequence_of_edits(backend: str, db: Any, engine: Any) -> None:
    class Machine(History):
        @staticmethod
        def open_harness() -> Harness:  # type: ignore[override]
            return _open(backend, db, engine, "links")

    run_state_machine_as_test(Machine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        suppress_health_check=list(HealthCheck), derandomize="VDM_FUZZ_EXAMPLES" not in os.environ,
    ))
