"""The ``vdm`` command (also ``python -m vdm``).

::

    vdm demo [--db PATH]           tell the seed story on an SQLite file
    vdm log [--limit N] [--offset N] [--author NAME] [--since WHEN] [--until WHEN]
    vdm show REV                   what one revision changed
    vdm diff REV_A REV_B           how the model differs between two revisions
    vdm blame TABLE KEY            which revision set each field of one row
    vdm verify                     check the history invariants (exit 1 if broken)
    vdm serve [--host H] [--port P]  browse the history in a web browser (read-only)

Every command but ``demo`` takes ``--url URL`` (any SQLAlchemy database URL;
default: the demo database ``./vdm-demo.db``) and ``--json`` (output for
programs instead of tables for people).  They read any vdm database without
the application's model: the schema is found by reflection
(:mod:`vdm.sqlalchemy.reflection`).  Passwords in URLs are never printed.

Exit status: 0 on success, 1 when ``verify`` finds violations (or the demo
fails), 2 for a problem with what was asked (a bad URL, an unreachable
database, one that is not a vdm database, an unknown revision or table, a
malformed key).

Each subcommand is one ``add_<name>`` function that declares its arguments
and sets ``run`` to the function doing the work; :func:`build_parser` lists
them.  Commands import the ORM backends only when they run, so that
``import vdm`` (and ``vdm --help``) stays free of SQLAlchemy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import enum
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from vdm import __version__
from vdm.errors import VdmError
from vdm.operations import Operation

if TYPE_CHECKING:
    from sqlalchemy import URL, Engine

    from vdm.sqlalchemy import Repository
    from vdm.sqlalchemy.reflection import ReflectedModel

#: What a subcommand runs: parsed arguments and the output stream in, exit status out.
Command = Callable[[argparse.Namespace, TextIO], int]

DEFAULT_DEMO_DB = "vdm-demo.db"
#: The database the reading commands open without ``--url``.
DEFAULT_URL = f"sqlite:///{DEFAULT_DEMO_DB}"
#: How many revisions ``vdm log`` shows without ``--limit``.
DEFAULT_LOG_LIMIT = 20


class CommandError(Exception):
    """What the command was asked cannot be done: one line, exit status 2."""


class RevisionLike(Protocol):
    """What :func:`describe_revision` reads of a revision."""

    @property
    def id(self) -> int | None:
        """The revision id."""

    @property
    def timestamp(self) -> dt.datetime | None:
        """When it was committed (UTC, naive)."""

    @property
    def author(self) -> str | None:
        """Who made it."""

    @property
    def message(self) -> str | None:
        """Why."""


# -- the parser ---------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vdm`` with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="vdm",
        description="vdm: a versioned domain model for SQLAlchemy and SQLObject.",
    )
    parser.add_argument("--version", action="version", version=f"vdm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (add_demo, add_log, add_show, add_diff, add_blame, add_verify, add_serve):
        add(commands)
    return parser


def add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``vdm demo``."""
    demo = commands.add_parser(
        "demo",
        help="tell the seed story (books, a typo, a delete) on an SQLite file",
        description=(
            "Write four revisions to a fresh SQLite database (books, a typo "
            "and its fix, a delete and its undo), then show the history, an "
            "as-of read and a diff."
        ),
    )
    demo.add_argument(
        "--db", metavar="PATH", default=DEFAULT_DEMO_DB,
        help=f"the SQLite file to (re)create (default: ./{DEFAULT_DEMO_DB})",
    )
    demo.set_defaults(run=run_demo)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run ``vdm`` with ``argv`` (default: the command line); the exit status."""
    args = build_parser().parse_args(argv)
    command: Command = args.run
    try:
        return command(args, out if out is not None else sys.stdout)
    except CommandError as exc:
        print(f"vdm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except VdmError as exc:
        print(f"vdm {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (``vdm demo | head``): stop quietly, and keep
        # Python from complaining again when it flushes stdout at exit.
        sys.stdout = open(os.devnull, "w")
        return 141


# -- vdm demo -----------------------------------------------------------


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


# -- the reading commands: log, show, diff, blame, verify ---------------


def _database_options() -> argparse.ArgumentParser:
    """The options every reading command takes: ``--url`` and ``--json``."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--url", metavar="URL", default=DEFAULT_URL,
        help=f"SQLAlchemy URL of the vdm database (default: {DEFAULT_URL}, "
             f"the database `vdm demo` writes)",
    )
    options.add_argument(
        "--json", action="store_true",
        help="print JSON for programs instead of tables for people",
    )
    return options


def _count(text: str) -> int:
    """A non-negative integer option value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value


def add_log(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``vdm log``."""
    log = commands.add_parser(
        "log", parents=[_database_options()],
        help="list revisions, newest first (paged, filtered by author or time)",
        description="List revisions, newest first, with how many rows each changed.",
    )
    log.add_argument("--limit", type=_count, default=DEFAULT_LOG_LIMIT, metavar="N",
                     help=f"show at most N revisions (default: {DEFAULT_LOG_LIMIT})")
    log.add_argument("--offset", type=_count, default=0, metavar="N",
                     help="skip the N newest revisions (the next page)")
    log.add_argument("--author", metavar="NAME", help="only revisions by this author")
    log.add_argument("--since", metavar="WHEN",
                     help="only revisions at or after WHEN (ISO 8601 date or time; "
                          "UTC unless it has an offset)")
    log.add_argument("--until", metavar="WHEN", help="only revisions at or before WHEN")
    log.set_defaults(run=run_log)


def add_show(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``vdm show``."""
    show = commands.add_parser(
        "show", parents=[_database_options()],
        help="show what one revision changed",
        description="Show a revision and every row it created, changed or deleted.",
    )
    show.add_argument("revision", metavar="REV", help="the revision id (3 or r3)")
    show.set_defaults(run=run_show)


def add_diff(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``vdm diff``."""
    diff = commands.add_parser(
        "diff", parents=[_database_options()],
        help="show how the model differs between two revisions",
        description="Compare the whole model as of REV_A with the model as of REV_B: "
                    "rows added, removed and changed, table by table.",
    )
    diff.add_argument("rev_a", metavar="REV_A", help="the earlier revision id")
    diff.add_argument("rev_b", metavar="REV_B", help="the later revision id")
    diff.set_defaults(run=run_diff)


def add_blame(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``vdm blame``."""
    blame = commands.add_parser(
        "blame", parents=[_database_options()],
        help="show which revision set each field of one row",
        description="For each field of one row, the revision that set its latest value.",
    )
    blame.add_argument("table", metavar="TABLE", help="a versioned table, e.g. book")
    blame.add_argument("key", metavar="KEY",
                       help="the row's primary key; comma-separated values, in key "
                            "column order, for a composite key (e.g. 1 or tolstoy,2)")
    blame.set_defaults(run=run_blame)


def add_verify(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``vdm verify``."""
    verify = commands.add_parser(
        "verify", parents=[_database_options()],
        help="check the history invariants (exit status 1 if any is broken)",
        description="Check that every live row has one current version equal to it and "
                    "that validity intervals are contiguous; exit status 1 if not.",
    )
    verify.set_defaults(run=run_verify)


def add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``vdm serve``."""
    serve = commands.add_parser(
        "serve", parents=[_database_options()],
        help="browse the history in a web browser (read-only; needs vdm[serve])",
        description="Serve a read-only history browser over the database: the revision "
                    "log, revisions, objects with diffs and blame, the model as of any "
                    "revision, and the invariant check. Every page is also JSON "
                    "(?format=json).",
    )
    serve.add_argument("--host", default="127.0.0.1",
                       help="the address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=_count, default=8000,
                       help="the port to listen on (default: 8000; 0 picks a free one)")
    serve.set_defaults(run=run_serve)


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
        [f"r{r.id}", _timestamp(r.timestamp), r.author or "(anonymous)",
         str(counts[r.id]), _one_line(r.message)]
        for r in page
    ])
    first, last = args.offset + 1, args.offset + len(page)
    more = f"; next page: --offset {last}" if last < total else ""
    print(f"revisions {first}-{last} of {total}{more}", file=out)
    return 0


def run_show(args: argparse.Namespace, out: TextIO) -> int:
    """Show what one revision of ``args.url`` changed."""
    from vdm.sqlalchemy.tablehistory import row_changes

    revision_id = _revision_id(args.revision)
    with open_model(args.url) as model:
        revision = model.revision(revision_id)
        changes = row_changes(model, revision_id)
    if args.json:
        write_json(out, {"revision": revision.as_dict(),
                         "changes": [c.as_dict() for c in changes]})
        return 0
    print(describe_revision(revision), file=out)
    if revision.state != "active":
        print(f"state: {revision.state}", file=out)
    if revision.extra is not None:
        print(f"extra: {json.dumps(revision.extra, default=_json_value)}", file=out)
    if not changes:
        print("it changed no versioned row", file=out)
        return 0
    print(f"{_plural(len(changes), 'row')} changed:", file=out)
    rows: list[list[str]] = []
    for change in changes:
        label = [change.table, _key_text(change.history.key_names, change.key), change.kind]
        created = change.kind == "created"
        fields = [[name, "" if created else _value(old), _value(new)]
                  for name, (old, new) in change.fields.items()
                  if not (created and name in change.history.key_names)]
        rows.extend(_group(label, fields))
    write_table(out, ["TABLE", "KEY", "CHANGE", "FIELD", "OLD", "NEW"], rows)
    return 0


def run_diff(args: argparse.Namespace, out: TextIO) -> int:
    """Show how the model of ``args.url`` differs between two revisions."""
    from vdm.sqlalchemy.tablehistory import diff_tables

    a, b = _revision_id(args.rev_a), _revision_id(args.rev_b)
    with open_model(args.url) as model:
        diffs = diff_tables(model, a, b)
    if args.json:
        write_json(out, {"from": a, "to": b, "tables": {d.table: d.as_dict() for d in diffs}})
        return 0
    if not diffs:
        print(f"r{a} -> r{b}: the model is the same", file=out)
        return 0
    print(f"r{a} -> r{b}: {_plural(len(diffs), 'table')} differ", file=out)
    rows: list[list[str]] = []
    for diff in diffs:
        names = diff.history.key_names
        # Row by row in key order, whatever happened to each.
        entries: list[tuple[Any, str, list[list[str]]]] = []
        for key, values in diff.removed.items():
            entries.append((key, "removed", [[f, _value(v), ""] for f, v in values.items()
                                             if f not in names and v is not None]))
        for key, values in diff.added.items():
            entries.append((key, "added", [[f, "", _value(v)] for f, v in values.items()
                                           if f not in names and v is not None]))
        for key, changed in diff.changed.items():
            entries.append((key, "changed", [[f, _value(old), _value(new)]
                                             for f, (old, new) in changed.items()]))
        for key, kind, fields in sorted(entries, key=lambda e: e[0]):
            rows.extend(_group([diff.table, _key_text(names, key), kind], fields))
    write_table(out, ["TABLE", "KEY", "CHANGE", "FIELD", f"r{a}", f"r{b}"], rows)
    return 0


def run_blame(args: argparse.Namespace, out: TextIO) -> int:
    """Show which revision set each field of one row of ``args.url``."""
    from vdm.sqlalchemy.tablehistory import blame_row

    with open_model(args.url) as model:
        history = model.history(args.table)
        blamed = blame_row(model, history, history.parse_key(args.key))
    if args.json:
        write_json(out, blamed.as_dict())
        return 0
    head = history.describe(blamed.key)
    if blamed.destroyed_by is not None:
        head += f": destroyed by r{blamed.destroyed_by.id}; its last values"
    print(head, file=out)
    write_table(out, ["FIELD", "VALUE", "REV", "AUTHOR", "TIMESTAMP (UTC)", "MESSAGE"], [
        [f.name, _value(f.value), f"r{f.revision.id}", f.revision.author or "(anonymous)",
         _timestamp(f.revision.timestamp), _one_line(f.revision.message)]
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
    checked = f"{_plural(len(tables), 'versioned table')} ({', '.join(tables) or 'none'})"
    if not violations:
        print(f"history sound: {checked} checked", file=out)
        return 0
    print(f"{_plural(len(violations), 'violation')} in {checked}:", file=out)
    write_table(out, ["TABLE", "KEY", "KIND", "REV", "DETAIL"], [
        [v.table, _key_text(keys[v.table], v.key or ()), v.kind,
         f"r{v.revision_id}" if v.revision_id is not None else "", v.detail]
        for v in violations
    ])
    return 1


def run_serve(args: argparse.Namespace, out: TextIO) -> int:
    """Serve the history browser over ``args.url`` until interrupted."""
    try:
        import uvicorn

        from vdm.serve.app import create_app
    except ImportError as exc:
        raise CommandError(f"vdm serve needs the serve extra ({exc}); install it "
                           f"with: pip install 'vdm[serve]'") from None
    from vdm.serve.source import PageError

    app = create_app(args.url)
    source = app.state.source
    try:
        with source.model():
            pass
    except PageError as exc:
        # Serve anyway: the pages say what is wrong until it is fixed.
        print(f"vdm serve: warning: {exc.message}", file=sys.stderr)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
    server = uvicorn.Server(config)
    print(f"vdm serve: browsing {source.shown} (read-only); "
          f"press Ctrl-C to stop", file=out, flush=True)
    original_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets)
        # With --port 0 the address is known only once the socket is bound.
        for bound in server.servers:
            for sock in bound.sockets:
                host, port = sock.getsockname()[:2]
                shown = f"[{host}]" if ":" in host else host
                print(f"vdm serve: open http://{shown}:{port}/", file=out, flush=True)

    server.startup = startup  # type: ignore[method-assign]
    try:
        server.run()
    except KeyboardInterrupt:
        # uvicorn stops cleanly on Ctrl-C, then raises the signal again.
        pass
    finally:
        source.close()
    print("vdm serve: stopped", file=out)
    return 0


# -- opening a database -------------------------------------------------


@contextmanager
def open_model(url_text: str) -> Iterator[ReflectedModel]:
    """The vdm database at ``url_text``, reflected, on one open connection.

    Every problem with the URL, the connection or what was asked of the
    database becomes a :class:`CommandError` naming the URL with its
    password hidden.
    """
    from sqlalchemy.exc import DBAPIError

    from vdm.errors import (
        MalformedKeyError,
        NotVdmDatabaseError,
        RevisionNotFoundError,
        UnknownRowError,
        UnknownTableError,
    )
    from vdm.sqlalchemy.reflection import ReflectedModel

    engine, shown, password = make_engine(url_text)
    try:
        try:
            connection = engine.connect()
        except DBAPIError as exc:
            raise CommandError(f"cannot connect to {shown}: "
                               f"{first_line(exc.orig, password)}") from None
        with connection:
            try:
                model = ReflectedModel(connection)
            except NotVdmDatabaseError as exc:
                raise CommandError(f"{shown} is not a vdm database: {exc}") from None
            try:
                yield model
            except (RevisionNotFoundError, UnknownTableError, UnknownRowError,
                    MalformedKeyError) as exc:
                raise CommandError(str(exc)) from None
    except DBAPIError as exc:
        raise CommandError(f"reading {shown} failed: "
                           f"{first_line(exc.orig, password)}") from None
    finally:
        engine.dispose()


def make_engine(url_text: str) -> tuple[Engine, str, str | None]:
    """An engine on ``url_text``, the URL as messages show it, and its password.

    Raises :class:`CommandError` for a URL that is not one, a dialect or
    driver that is missing, and an SQLite file that does not exist (SQLite
    would create an empty one).
    """
    from sqlalchemy import create_engine, make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(url_text)
    except (ArgumentError, ValueError):
        raise CommandError(
            f"{hide_password(url_text)!r} is not a database URL; give one like "
            f"{DEFAULT_URL} or postgresql+psycopg://user@host/dbname"
        ) from None
    shown = url.render_as_string(hide_password=True)
    password = url.password if isinstance(url.password, str) else None
    missing = missing_sqlite_file(url)
    if missing is not None:
        hint = " (`vdm demo` writes it)" if url_text == DEFAULT_URL else ""
        raise CommandError(f"cannot open {shown}: there is no file {missing}{hint}")
    try:
        engine = create_engine(url)
    except NoSuchModuleError:
        raise CommandError(f"cannot open {shown}: SQLAlchemy knows no database "
                           f"dialect or driver {url.drivername!r}") from None
    except ImportError as exc:
        raise CommandError(f"cannot open {shown}: the driver {url.drivername!r} "
                           f"is not installed ({exc})") from None
    except (ArgumentError, TypeError, ValueError) as exc:
        raise CommandError(f"cannot open {shown}: {first_line(exc, password)}") from None
    return engine, shown, password


def missing_sqlite_file(url: URL) -> str | None:
    """The file an SQLite ``url`` names if it does not exist (connecting would create it)."""
    database = url.database or ""
    if (url.get_backend_name() == "sqlite" and database not in ("", ":memory:")
            and not database.startswith("file:") and not Path(database).is_file()):
        return database
    return None


def hide_password(url_text: str) -> str:
    """``url_text`` with the password of ``scheme://user:password@host`` as ``***``."""
    return re.sub(r"(://[^/@:]*:)[^/]*@", r"\1***@", url_text)


def first_line(exc: BaseException | None, password: str | None) -> str:
    """The first line of ``exc``'s message, ``password`` hidden (for one-line errors)."""
    text = str(exc).strip() if exc is not None else ""
    line = next((part.strip() for part in text.splitlines() if part.strip()),
                type(exc).__name__)
    if password:
        line = line.replace(password, "***")
    return line


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


# -- output for people and programs -------------------------------------


def write_table(out: TextIO, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` under ``headers`` in aligned columns."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for row in [list(headers), *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        print("  ".join(cells).rstrip(), file=out)


def write_json(out: TextIO, data: Any) -> None:
    """Print ``data`` as indented JSON (dates in ISO 8601, decimals as text)."""
    print(json.dumps(data, indent=2, default=_json_value, ensure_ascii=False), file=out)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, enum.Enum):
        return value.value
    return str(value)


def _group(label: list[str], fields: list[list[str]]) -> list[list[str]]:
    """One row per field, the label on the first only."""
    if not fields:
        return [label + ["", "", ""]]
    blank = [""] * len(label)
    return [(label if i == 0 else blank) + f for i, f in enumerate(fields)]


def _key_text(names: Sequence[str], key: Sequence[Any]) -> str:
    return ",".join(f"{n}={_value(v)}" for n, v in zip(names, key, strict=False))


def _value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return repr(value)


def _timestamp(when: dt.datetime | None) -> str:
    return f"{when:%Y-%m-%d %H:%M:%S}" if when is not None else "(no timestamp)"


def _one_line(message: str | None) -> str:
    return " ".join(message.split()) if message else "(no message)"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# -- output shared by the commands --------------------------------------


def write_history(repo: Repository, out: TextIO, limit: int | None = None) -> None:
    """Print each revision (newest first) and what it changed."""
    for revision in repo.history(limit=limit):
        print(f"  {describe_revision(revision)}", file=out)
        for cls, versions in repo.list_changes(revision).items():
            for version in versions:
                print(f"      {describe_change(cls, version)}", file=out)


def describe_revision(revision: RevisionLike) -> str:
    """``r2  2024-05-01 12:00:00 UTC  proofreader  "Fix the typo"``."""
    when = (f"{revision.timestamp:%Y-%m-%d %H:%M:%S} UTC"
            if revision.timestamp is not None else "(no timestamp)")
    message = f'"{_one_line(revision.message)}"' if revision.message else "(no message)"
    return f"r{revision.id}  {when}  {revision.author or '(anonymous)'}  {message}"


def describe_change(cls: type, version: Any) -> str:
    """One line for one version: what the revision did to that object."""
    label = _label(cls, version)
    operation = Operation(version.operation_type)
    if operation == Operation.DELETE:
        return f"{label}: erased (hard delete)"
    changes = version.changeset
    if operation == Operation.INSERT:
        fields = ", ".join(f"{f}={_show(new)}" for f, (_, new) in changes.items()
                           if new is not None)
        return f"{label}: created ({fields})"
    fields = "; ".join(f"{f} {_show(old)} -> {_show(new)}"
                       for f, (old, new) in changes.items())
    return f"{label}: {fields or 'unchanged'}"


def _label(cls: type, version: Any) -> str:
    # Objects with a name are named by it; others by their primary key.
    name = version.field_values.get("name")
    if isinstance(name, str):
        return f"{cls.__name__} {name}"
    key = ", ".join(str(part) for part in version.object_key)
    return f"{cls.__name__} #{key}"


def _show(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return repr(value.value)
    return repr(value)


if __name__ == "__main__":  # pragma: no cover - ``python -m vdm`` uses __main__
    sys.exit(main())
