"""The object pages of ``vdm serve``: one object's history, a diff, the model as of R.

An object is one row of a versioned table, named by its table and key.
Its versions are read by the core (:mod:`vdm.tablereading`) in one query
on the version table's primary key (key columns, then ``revision_id``);
what they changed is classified by :func:`vdm.changes.classify_change` and
blamed by :func:`vdm.tablereading.blame_row`, as ``vdm show`` and
``vdm blame`` do.  Rows as of a revision use the same as-of predicate as
every history read (:func:`vdm.versionreading.current_as_of`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vdm.changes import classify_change
from vdm.naming import REVISION_ID, STATE
from vdm.serve.links import (
    Reference,
    diff_url,
    incoming,
    key_text,
    model_url,
    object_url,
    outgoing,
    revision_url,
)
from vdm.serve.pages import Page, int_param, revision_param, revision_summary
from vdm.serve.source import PageError
from vdm.serve.worddiff import word_diff
from vdm.sqlalchemy.reflection import Key, ReflectedHistory, ReflectedModel
from vdm.states import State
from vdm.tablereading import (
    VersionRow,
    live_rows_as_of,
    row_versions,
    values_of,
    versions_where,
)

#: Rows on one page of a table as of a revision.
TABLE_PAGE = 50

#: A row of a version table, by column name.
Row = VersionRow


def _versions(model: ReflectedModel, history: ReflectedHistory, key: Key) -> list[Row]:
    """Every version of one object, oldest first: one primary-key range read."""
    return row_versions(model.sql, history.reading, key)


def _as_of(rows: Sequence[Row], revision_id: int) -> dict[str, Any] | None:
    for row in rows:
        if row.valid_at(revision_id):
            return values_of(row)
    return None


def _lookup(model: ReflectedModel, table: str, key: str) -> tuple[ReflectedHistory, Key]:
    history = model.history(table)
    return history, history.parse_key(key)


def _field_links(model: ReflectedModel, history: ReflectedHistory,
                 values: Mapping[str, Any] | None, revision_id: int) -> dict[str, str]:
    """``{column: address}`` for the foreign keys of a row, as of ``revision_id``."""
    found: dict[str, str] = {}
    if values is None:
        return found
    for reference in outgoing(model, history):
        target = reference.key_in(values)
        if target is not None:
            for column in reference.columns:
                found[column] = model_url(revision_id, reference.target.name, target)
    return found


# -- one object's history --------------------------------------------------


def object_page(model: ReflectedModel, table: str, key_param: str) -> Page:
    """One object: its timeline, blame per field, and its links as of each revision.

    The timeline has an entry for each version of the object and for each
    revision that changed only a row linking to it (kind ``links changed``).
    """
    history, key = _lookup(model, table, key_param)
    rows = _versions(model, history, key)
    linked = _linked_versions(model, history, key)
    written = [row[REVISION_ID] for row in rows]
    # Revisions that changed only the object's links get an entry too.
    link_only = sorted({link[REVISION_ID] for _, links in linked for link in links}
                       - set(written))
    records = model.revisions_by_id([*written, *link_only])
    timeline: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    for index, row in enumerate(rows):
        revision_id = row[REVISION_ID]
        values = values_of(row)
        change = classify_change(history.name, history.name, key, history.fields,
                                 previous, values, key_names=history.key_names)
        timeline.append({
            "revision": revision_summary(records[revision_id]),
            "kind": change.kind,
            "fields": [{"name": n, "old": o, "new": v} for n, (o, v) in change.fields.items()],
            "links": _links_at(linked, revision_id),
            "as_of_url": model_url(revision_id, history.name, key) if values else None,
            "diff_url": (diff_url(history.name, key, written[index - 1], revision_id)
                         if index else None),
        })
        previous = values
    for revision_id in link_only:
        alive = _as_of(rows, revision_id) is not None
        timeline.append({
            "revision": revision_summary(records[revision_id]),
            "kind": "links changed", "fields": [],
            "links": _links_at(linked, revision_id),
            "as_of_url": model_url(revision_id, history.name, key) if alive else None,
            "diff_url": None,
        })
    timeline.sort(key=lambda entry: entry["revision"]["id"])
    blame = model.blame_row(history, key)
    latest = rows[-1][REVISION_ID]
    current = values_of(rows[-1])
    return Page("object.html", history.describe(key), {
        "table": history.name,
        "key": history.key_dict(key),
        "key_text": key_text(key),
        "url": object_url(history.name, key),
        "exists": current is not None,
        "state": current.get(STATE) if current else None,
        "fields": history.fields,
        "values": current,
        "field_links": _field_links(model, history, current, latest),
        "versions": len(rows),
        "timeline": list(reversed(timeline)),
        "blame": [{"field": f.name, "value": f.value, "revision": revision_summary(f.revision)}
                  for f in blame.fields],
        "destroyed_by": revision_summary(blame.destroyed_by) if blame.destroyed_by else None,
        "diff_url": diff_url(history.name, key),
    })


def _linked_versions(model: ReflectedModel, history: ReflectedHistory,
                     key: Key) -> list[tuple[Reference, list[Row]]]:
    """Every version of every row that refers to this object: one query per referring table.

    The version tables have no index on the referring columns, so each of
    these reads the referring table's history (links are few per object).
    """
    found: list[tuple[Reference, list[Row]]] = []
    for reference in incoming(model, history):
        found.append((reference, versions_where(model.sql, reference.source.reading,
                                                reference.columns, key)))
    return found


def _links_at(linked: list[tuple[Reference, list[Row]]], revision_id: int) -> list[dict[str, Any]]:
    """The rows referring to the object as of ``revision_id`` (deleted links marked)."""
    found = []
    for reference, rows in linked:
        for row in rows:
            values = values_of(row) if row.valid_at(revision_id) else None
            if values is None:
                continue
            found.append(_link_entry(reference, row, values, revision_id))
    return found


def _link_entry(reference: Reference, row: Row, values: Mapping[str, Any],
                revision_id: int) -> dict[str, Any]:
    """A row referring to the object (a link), as of ``revision_id``."""
    source = reference.source
    link_key = tuple(row[n] for n in source.key_names)
    return {
        "table": source.name, "via": list(reference.columns),
        "key": source.key_dict(link_key), "key_text": key_text(link_key),
        "deleted": values.get(STATE) == State.DELETED,
        "url": model_url(revision_id, source.name, link_key),
        "targets": _other_ends(source, values, revision_id, reference),
    }


def _other_ends(source: ReflectedHistory, values: Mapping[str, Any],
                       revision_id: int, via: Reference) -> dict[str, dict[str, Any]]:
    # The other ends of a link row (a tag for a package_tag), as of the revision.
    found: dict[str, dict[str, Any]] = {}
    for constraint in source.table.foreign_key_constraints:
        columns = [e.parent.name for e in constraint.elements]
        if tuple(columns) == via.columns or sorted(columns) == sorted(via.columns):
            continue
        target = tuple(values.get(c) for c in columns)
        if any(v is None for v in target):
            continue
        name = constraint.referred_table.name
        found[",".join(columns)] = {"table": name, "key_text": key_text(target),
                                    "url": model_url(revision_id, name, target)}
    return found


# -- a diff between two revisions of one object ----------------------------


def diff_page(model: ReflectedModel, table: str, key_param: str,
              params: Mapping[str, str]) -> Page:
    """One object as of two revisions, side by side, word by word for text."""
    history, key = _lookup(model, table, key_param)
    rows = _versions(model, history, key)
    written = [row[REVISION_ID] for row in rows]
    b = revision_param(params["to"]) if params.get("to") else written[-1]
    if params.get("from"):
        a = revision_param(params["from"])
    else:
        earlier = [r for r in written if r < b]
        a = earlier[-1] if earlier else b
    records = model.revisions_by_id([*written, a, b])
    old, new = _as_of(rows, a), _as_of(rows, b)
    fields = []
    for name in history.fields:
        before = old.get(name) if old else None
        after = new.get(name) if new else None
        entry: dict[str, Any] = {"name": name, "old": before, "new": after,
                                 "changed": (old is None) != (new is None) or before != after}
        if entry["changed"] and isinstance(before, str) and isinstance(after, str):
            left, right = word_diff(before, after)
            entry["old_words"] = [s.as_dict() for s in left]
            entry["new_words"] = [s.as_dict() for s in right]
        fields.append(entry)
    return Page("diff.html", f"{history.describe(key)}: r{a} against r{b}", {
        "table": history.name, "key": history.key_dict(key), "key_text": key_text(key),
        "object_url": object_url(history.name, key),
        "url": diff_url(history.name, key, a, b),
        "from": revision_summary(records[a]), "to": revision_summary(records[b]),
        "from_exists": old is not None, "to_exists": new is not None,
        "fields": fields,
        "versions": [revision_summary(records[r]) for r in reversed(written)],
    })


# -- the model as of a revision ---------------------------------------------


def model_page(model: ReflectedModel, revision_text: str) -> Page:
    """The versioned tables, to browse as of one revision."""
    revision_id = revision_param(revision_text)
    record = model.revision(revision_id)
    return Page("model.html", f"The model as of r{revision_id}", {
        "revision": revision_summary(record),
        "tables": [{"name": h.name, "url": model_url(revision_id, h.name),
                    "key": h.key_names, "fields": h.fields} for h in model.histories],
    })


def table_page(model: ReflectedModel, revision_text: str, table: str,
               params: Mapping[str, str]) -> Page:
    """The rows of one table as of a revision, in key order, one page at a time."""
    revision_id = revision_param(revision_text)
    history = model.history(table)
    record = model.revision(revision_id)
    offset = int_param(params, "offset", 0)
    found = live_rows_as_of(model.sql, history.reading, revision_id,
                            limit=TABLE_PAGE + 1, offset=offset)
    rows = []
    for row in found[:TABLE_PAGE]:
        row_key = row.key
        values = values_of(row)
        rows.append({"key": history.key_dict(row_key), "key_text": key_text(row_key),
                     "values": values,
                     "url": model_url(revision_id, history.name, row_key),
                     "field_links": _field_links(model, history, values, revision_id)})
    more = len(found) > TABLE_PAGE
    return Page("table.html", f"{history.name} as of r{revision_id}", {
        "revision": revision_summary(record),
        "table": history.name, "fields": history.fields, "rows": rows,
        "offset": offset,
        "previous_url": (model_url(revision_id, history.name, offset=max(0, offset - TABLE_PAGE))
                         if offset else None),
        "next_url": model_url(revision_id, history.name, offset=offset + TABLE_PAGE)
        if more else None,
    })


def row_page(model: ReflectedModel, revision_text: str, table: str, key_param: str) -> Page:
    """One row as it was as of a revision, its foreign keys and links followed."""
    revision_id = revision_param(revision_text)
    history, key = _lookup(model, table, key_param)
    record = model.revision(revision_id)
    found = live_rows_as_of(model.sql, history.reading, revision_id, key)
    row = found[0] if found else None
    if row is None:
        raise PageError(404, "Not found", (
            f"{history.describe(key)} did not exist as of revision {revision_id}; "
            f"its history is at {object_url(history.name, key)}"))
    values = values_of(row)
    links = []
    for reference in incoming(model, history):
        for link in live_rows_as_of(model.sql, reference.source.reading, revision_id, key,
                                    reference.columns):
            links.append(_link_entry(reference, link, values_of(link) or {}, revision_id))
    return Page("row.html", f"{history.describe(key)} as of r{revision_id}", {
        "revision": revision_summary(record),
        "table": history.name, "key": history.key_dict(key), "key_text": key_text(key),
        "fields": history.fields, "values": values,
        "written_by": revision_url(row[REVISION_ID]),
        "field_links": _field_links(model, history, values, revision_id),
        "links": links,
        "object_url": object_url(history.name, key),
    })
