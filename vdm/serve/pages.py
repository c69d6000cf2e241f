"""What each page of ``vdm serve`` shows, as plain data.

A page function takes the reflected model and the request's parameters and
returns a :class:`Page`: the template that renders it for people and the
data that ``?format=json`` returns as it is.  The reading is done by the
command line's history readers (the tables found by
:mod:`vdm.sqlalchemy.reflection`, read by the core's :mod:`vdm.tablereading`
into :mod:`vdm.changes`'s results); each page issues
a fixed number of queries, each an index lookup or a bounded index walk.
Object pages (history, diff, rows as of a revision) are in
:mod:`vdm.serve.objects`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vdm.changes import RevisionRecord
from vdm.cli.commands import _revision_id, _when
from vdm.cli.opening import CommandError
from vdm.naming import REVISION_TABLE
from vdm.serve.links import (
    key_text,
    log_url,
    model_url,
    object_url,
    revision_url,
)
from vdm.serve.source import PageError
from vdm.sql import scalar
from vdm.sqlalchemy.reflection import ReflectedModel

#: Revisions on one page of the log unless ``limit`` says otherwise.
LOG_PAGE = 50
#: The most revisions one page of the log shows.
LOG_PAGE_MAX = 500


@dataclass
class Page:
    """One page: its template, its title and its data (also its JSON)."""

    template: str
    title: str
    data: dict[str, Any]


def bad_request(message: str) -> PageError:
    """A parameter that is not what the page takes (400)."""
    return PageError(400, "Bad request", message)


def revision_param(text: str) -> int:
    """``3`` or ``r3`` from an address; 400 otherwise."""
    try:
        return _revision_id(text)
    except CommandError as exc:
        raise bad_request(str(exc)) from None


def int_param(params: Mapping[str, str], name: str, default: int,
              low: int = 0, high: int | None = None) -> int:
    """The whole number ``name`` of the query string, within ``low``..``high``."""
    text = params.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise bad_request(f"{name}={text!r} is not a whole number") from None
    if value < low or (high is not None and value > high):
        allowed = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise bad_request(f"{name}={value} is out of range; give {allowed}")
    return value


def revision_summary(record: RevisionRecord) -> dict[str, Any]:
    """A revision as pages list it, with its permalink."""
    return {**record.as_dict(), "url": revision_url(record.id)}


# -- the revision log -----------------------------------------------------


def log_page(model: ReflectedModel, params: Mapping[str, str]) -> Page:
    """Revisions newest first, filtered by author, time and table, paged by id."""
    author = params.get("author", "").strip() or None
    table = params.get("table", "").strip() or None
    since_text = params.get("since", "").strip() or None
    until_text = params.get("until", "").strip() or None
    try:
        since = _when("since", since_text)
        until = _when("until", until_text)
    except CommandError as exc:
        raise bad_request(str(exc)) from None
    before_text = params.get("before", "").strip()
    before = revision_param(before_text) if before_text else None
    limit = int_param(params, "limit", LOG_PAGE, 1, LOG_PAGE_MAX)
    if table is not None:
        model.history(table)  # an unknown table is a 404, not an empty log
    # One more than the page: whether there is a next page, without a count.
    found = model.revisions(limit=limit + 1, author=author, since=since, until=until,
                            before=before, table=table)
    page, more = found[:limit], len(found) > limit
    counts = model.change_counts([r.id for r in page])
    filters = {"author": author, "since": since_text, "until": until_text,
               "table": table, "limit": limit if limit != LOG_PAGE else None}
    revisions = [{**revision_summary(r), "changes": counts[r.id],
                  "model_url": model_url(r.id)} for r in page]
    return Page("log.html", "Revision log", {
        "filters": {k: v for k, v in filters.items() if k != "limit"} | {"limit": limit},
        "tables": [h.name for h in model.histories],
        "revisions": revisions,
        "first_url": log_url(**filters) if before is not None else None,
        "next_url": log_url(**filters, before=page[-1].id) if more else None,
    })


# -- one revision -----------------------------------------------------------


def revision_page(model: ReflectedModel, revision_text: str) -> Page:
    """Everything one revision created, changed, deleted or undeleted."""
    revision_id = revision_param(revision_text)
    record = model.revision(revision_id)
    changes: list[dict[str, Any]] = []
    for change in model.row_changes(revision_id):
        created = change.kind == "created"
        changes.append({
            "table": change.table,
            "key": change.key_dict(),
            "key_text": key_text(change.key),
            "kind": change.kind,
            "url": object_url(change.table, change.key),
            "fields": [{"name": name, "old": None if created else old, "new": new}
                       for name, (old, new) in change.fields.items()
                       if not (created and (name in change.key_names or new is None))],
        })
    kinds: dict[str, int] = {}
    for entry in changes:
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    previous_id, next_id = neighbours(model, revision_id)
    return Page("revision.html", f"Revision r{revision_id}", {
        "revision": revision_summary(record),
        "changes": changes,
        "counts": kinds,
        "model_url": model_url(revision_id),
        "previous_url": revision_url(previous_id) if previous_id is not None else None,
        "next_url": revision_url(next_id) if next_id is not None else None,
    })


def neighbours(model: ReflectedModel, revision_id: int) -> tuple[int | None, int | None]:
    """The ids of the revisions just before and after ``revision_id``: two seeks."""
    sql, params = model.sql, {"rid": revision_id}
    before = scalar(sql, f"SELECT MAX(id) FROM {REVISION_TABLE} WHERE id < :rid", params)
    after = scalar(sql, f"SELECT MIN(id) FROM {REVISION_TABLE} WHERE id > :rid", params)
    return (None if before is None else int(before)), (None if after is None else int(after))


def youngest(model: ReflectedModel) -> int:
    """The id of the latest revision; 404 when there is none."""
    found = scalar(model.sql, f"SELECT MAX(id) FROM {REVISION_TABLE}")
    if found is None:
        raise PageError(404, "No revisions", "the database has no revision yet; "
                        "commit one first")
    return int(found)


# -- verify -----------------------------------------------------------------


def verify_page(model: ReflectedModel) -> Page:
    """The history invariant check (``vdm verify``) and what it found.

    Unlike the other pages this reads every table whole: checking all of
    history is what it is asked to do.
    """
    violations = model.verify()
    keys = {h.name: h.key_names for h in model.histories}
    found = []
    for v in violations:
        key = tuple(v.key) if v.key else None
        found.append({
            "kind": v.kind, "table": v.table,
            "key": dict(zip(keys[v.table], key, strict=True)) if key else None,
            "revision_id": v.revision_id, "detail": v.detail,
            "url": object_url(v.table, key) if key else None,
            "revision_url": revision_url(v.revision_id) if v.revision_id is not None else None,
        })
    return Page("verify.html", "Verify", {
        "sound": not violations,
        "tables": list(keys),
        "violations": found,
    })
