"""What each ``vdm`` subcommand does, once its arguments are parsed.

Each ``run_<name>`` takes the parsed arguments and the output stream and
returns the exit status; :mod:`vdm.cli` declares the arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from vdm.cli.opening import CommandError, open_model
from vdm.cli.rendering import (
    describe_revision,
    group_rows,
    json_value,
    key_text,
    one_line,
    plural,
    timestamp_text,
    value_text,
    write_history,
    write_json,
    write_table,
)


def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    """Tell the seed story on ``args.db`` and show what history holds."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from vdm import demo
    from vdm.sqlalchemy import Repository

    path = Path(args.db)
    if not path.parent.is_dir():
        print(f"vdm demo: error: {path.parent} is not a directory; "
              f"give --db a file in an existing directory", file=sys.stderr)
        return 2
    for stale in (path, path.with_name(path.name + "-journal")):
        stale.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{path}")

    def say(line: str) -> None:
        print(f"  {line}", file=out)

    try:
        with Session(engine) as session:
            repo = Repository(demo.Base.metadata, session)
            repo.create_db()
            print(f"vdm demo: a story in four revisions, written to {path}", file=out)
            print(file=out)
            demo.tell_story(repo, say)
            print(file=out)

            print("History, newest first (Repository.history and list_changes):", file=out)
            write_history(repo, out)
            print(file=out)

            book = demo.book_named(session, "warandpeace")
            first = repo.get_revision(1)
            old = book.get_as_of(first)
            assert old is not None
            print("As-of read (book.get_as_of(revision 1)):", file=out)
            print(f"  title as of revision 1: {old.title!r}", file=out)
            print(f"  title now:              {book.title!r}", file=out)
            print(f"  authors as of revision 1: {[a.name for a in old.authors]}, "
                  f"now: {[a.name for a in book.authors]}", file=out)
            print(file=out)

            print("Diff of warandpeace's latest change (book.diff()):", file=out)
            for field, text in book.diff().items():
                print(f"  {field}:", file=out)
                for line in text.splitlines():
                    print(f"    {line}", file=out)
            print(file=out)

            problems = repo.verify()
            verdict = "sound" if not problems else f"{len(problems)} problem(s)"
            print(f"History check (Repository.verify()): {verdict}", file=out)
            for problem in problems:
                print(f"  {problem}", file=out)
            print(file=out)
            print(demo.browse_hint(f"sqlite:///{path}"), file=out)
    finally:
        engine.dispose()
    return 0 if not problems else 1


def run_log(args: argparse.Namespace, out: TextIO) -> int:
    """List the revisions of ``args.url``, newest first."""
    since = _when("--since", args.since)
    until = _when("--until", args.until)
    with open_model(args.url) as model:
        page = model.revisions(limit=args.limit, offset=args.offset,
                               author=args.author, since=since, until=until)
        total = model.count_revisions(author=args.author, since=since, until=until)
        counts = model.change_counts([r.id for r in page])
    if args.json:
        write_json(out, {
            "total": total, "offset": args.offset, "limit": args.limit,
            "revisions": [{**r.as_dict(), "changes": counts[r.id]} for r in page],
        })
        return 0
    if not page:
        print("no revision matches" if not total
              else f"no revisions past --offset {args.offset} ({total} match)", file=out)
        return 0
    write_table(out, ["REV", "TIMESTAMP (UTC)", "AUTHOR", "CHANGES", "MESSAGE"], [
        [f"r{r.id}", timestamp_text(r.timestamp), r.author or "(anonymous)",
         str(counts[r.id]), one_line(r.message)]
        for r in page
    ])
    first, last = args.offset + 1, args.offset + len(page)
    more = f"; next page: --offset {last}" if last < total else ""
    print(f"revisions {first}-{last} of {total}{more}", file=out)
    return 0


def run_show(args: argparse.Namespace, out: TextIO) -> int:
    """Show what one revision of ``args.url`` changed."""

    revision_id = _revision_id(args.revision)
    with open_model(args.url) as model:
        revision = model.revision(revision_id)
        changes = model.row_changes(revision_id)
    if args.json:
        write_json(out, {"revision": revision.as_dict(),
                         "changes": [c.as_dict() for c in changes]})
        return 0
    print(describe_revision(revision), file=out)
    if revision.state != "active":
        print(f"state: {revision.state}", file=out)
    if revision.extra is not None:
        print(f"extra: {json.dumps(revision.extra, default=json_value)}", file=out)
    if not changes:
        print("it changed no versioned row", file=out)
        return 0
    print(f"{plural(len(changes), 'row')} changed:", file=out)
    rows: list[list[str]] = []
    for change in changes:
        label = [change.table, key_text(change.key_names, change.key), change.kind]
        created = change.kind == "created"
        fields = [[name, "" if created else value_text(old), value_text(new)]
                  for name, (old, new) in change.fields.items()
                  if not (created and name in change.key_names)]
        rows.extend(group_rows(label, fields))
    write_table(out, ["TABLE", "KEY", "CHANGE", "FIELD", "OLD", "NEW"], rows)
    return 0


def run_diff(args: argparse.Namespace, out: TextIO) -> int:
    """Show how the model of ``args.url`` differs between two revisions."""

    a, b = _revision_id(args.rev_a), _revision_id(args.rev_b)
    with open_model(args.url) as model:
        diffs = model.diff_tables(a, b)
    if args.json:
        write_json(out, {"from": a, "to": b, "tables": {d.table: d.as_dict() for d in diffs}})
        return 0
    if not diffs:
        print(f"r{a} -> r{b}: the model is the same", file=out)
        return 0
    print(f"r{a} -> r{b}: {plural(len(diffs), 'table')} differ", file=out)
    rows: list[list[str]] = []
    for diff in diffs:
        names = diff.key_names
        # Row by row in key order, whatever happened to each.
        entries: list[tuple[Any, str, list[list[str]]]] = []
        for key, values in diff.removed.items():
            entries.append((key, "removed", [[f, value_text(v), ""] for f, v in values.items()
                                             if f not in names and v is not None]))
        for key, values in diff.added.items():
            entries.append((key, "added", [[f, "", value_text(v)] for f, v in values.items()
                                           if f not in names and v is not None]))
        for key, changed in diff.changed.items():
            entries.append((key, "changed", [[f, value_text(old), value_text(new)]
                                             for f, (old, new) in changed.items()]))
        for key, kind, fields in sorted(entries, key=lambda e: e[0]):
            rows.extend(group_rows([diff.table, key_text(names, key), kind], fields))
    write_table(out, ["TABLE", "KEY", "CHANGE", "FIELD", f"r{a}", f"r{b}"], rows)
    return 0


def run_blame(args: argparse.Namespace, out: TextIO) -> int:
    """Show which revision set each field of one row of ``args.url``."""

    with open_model(args.url) as model:
        history = model.history(args.table)
        blamed = model.blame_row(history, history.parse_key(args.key))
    if args.json:
        write_json(out, blamed.as_dict())
        return 0
    head = history.describe(blamed.key)
    if blamed.destroyed_by is not None:
        head += f": destroyed by r{blamed.destroyed_by.id}; its last values"
    print(head, file=out)
    write_table(out, ["FIELD", "VALUE", "REV", "AUTHOR", "TIMESTAMP (UTC)", "MESSAGE"], [
        [f.name, value_text(f.value), f"r{f.revision.id}", f.revision.author or "(anonymous)",
         timestamp_text(f.revision.timestamp), one_line(f.revision.message)]
        for f in blamed.fields
    ])
    return 0


def run_verify(args: argparse.Namespace, out: TextIO) -> int:
    """Check the history invariants of ``args.url``; 1 if any is broken."""
    with open_model(args.url) as model:
        violations = model.verify()
        tables = [h.name for h in model.histories]
        keys = {h.name: h.key_names for h in model.histories}
    if args.json:
        write_json(out, {
            "sound": not violations,
            "tables": tables,
            "violations": [{
                "kind": v.kind, "table": v.table,
                "key": dict(zip(keys[v.table], v.key, strict=True)) if v.key else None,
                "revision_id": v.revision_id, "detail": v.detail,
            } for v in violations],
        })
        return 1 if violations else 0
    checked = f"{plural(len(tables), 'versioned table')} ({', '.join(tables) or 'none'})"
    if not violations:
        print(f"history sound: {checked} checked", file=out)
        return 0
    print(f"{plural(len(violations), 'violation')} in {checked}:", file=out)
    write_table(out, ["TABLE", "KEY", "KIND", "REV", "DETAIL"], [
        [v.table, key_text(keys[v.table], v.key or ()), v.kind,
         f"r{v.revision_id}" if v.revision_id is not None else "", v.detail]
        for v in violations
    ])
    return 1


# -- parsing the arguments ----------------------------------------------


def _revision_id(text: str) -> int:
    """``3`` or ``r3`` as a revision id."""
    match = re.fullmatch(r"[rR]?(\d+)", text.strip())
    if match is None:
        raise CommandError(f"{text!r} is not a revision id; give a number such as 3 "
                           f"(or r3), as `vdm log` shows them")
    return int(match.group(1))


def _when(option: str, text: str | None) -> dt.datetime | None:
    """An ISO 8601 date or time as a naive UTC datetime (naive input is UTC)."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(f"{option} {text!r} is not a date or time; give one like "
                           f"2024-05-01, 2024-05-01T12:00 or 2024-05-01T14:00+02:00") from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


