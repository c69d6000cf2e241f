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

The package is split by concern: this module declares the arguments (each
subcommand is one ``add_<name>`` function that declares its arguments and
sets ``run`` to the function doing the work; :func:`build_parser` lists
them), :mod:`vdm.cli.commands` does the work, :mod:`vdm.cli.opening` opens
a database from a URL and :mod:`vdm.cli.rendering` writes tables and JSON.
Commands import the ORM backends only when they run, so that ``import vdm``
(and ``vdm --help``) stays free of SQLAlchemy.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from vdm import __version__
from vdm.cli.commands import (
    run_blame,
    run_demo,
    run_diff,
    run_log,
    run_show,
    run_verify,
)
from vdm.cli.opening import DEFAULT_DEMO_DB, DEFAULT_URL, CommandError
from vdm.cli.serving import run_serve
from vdm.errors import VdmError

#: What a subcommand runs: parsed arguments and the output stream in, exit status out.
Command = Callable[[argparse.Namespace, TextIO], int]

#: How many revisions ``vdm log`` shows without ``--limit``.
DEFAULT_LOG_LIMIT = 20


# -- the parser ---------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vdm`` with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="vdm",
        description="vdm: a versioned domain model for SQLAlchemy and SQLObject.",
    )
    parser.add_argument("--version", action="version", version=f"vdm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (add_demo, add_log, add_readers, add_serve):
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


# -- the reading commands: log, show, diff, blame, verify ----------------


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


def _database_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
    run: Any, help: str, description: str,
) -> argparse.ArgumentParser:
    """A subcommand that reads a vdm database (``--url``, ``--json``) and runs ``run``."""
    command = commands.add_parser(name, parents=[_database_options()], help=help,
                                  description=description)
    command.set_defaults(run=run)
    return command


def add_log(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``vdm log``."""
    log = _database_command(
        commands, "log", run_log,
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


#: The commands that read one revision, two, or one row, or check the
#: history: name, what runs it, its help, its description, and its
#: positional arguments as (name, metavar, help).
_READERS: tuple[tuple[str, Any, str, str, tuple[tuple[str, str, str], ...]], ...] = (
    ("show", run_show, "show what one revision changed",
     "Show a revision and every row it created, changed or deleted.",
     (("revision", "REV", "the revision id (3 or r3)"),)),
    ("diff", run_diff, "show how the model differs between two revisions",
     "Compare the whole model as of REV_A with the model as of REV_B: "
     "rows added, removed and changed, table by table.",
     (("rev_a", "REV_A", "the earlier revision id"),
      ("rev_b", "REV_B", "the later revision id"))),
    ("blame", run_blame, "show which revision set each field of one row",
     "For each field of one row, the revision that set its latest value.",
     (("table", "TABLE", "a versioned table, e.g. book"),
      ("key", "KEY", "the row's primary key; comma-separated values, in key "
                     "column order, for a composite key (e.g. 1 or tolstoy,2)"))),
    ("verify", run_verify, "check the history invariants (exit status 1 if any is broken)",
     "Check that every live row has one current version equal to it and "
     "that validity intervals are contiguous; exit status 1 if not.",
     ()),
)


def add_readers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``vdm show``, ``vdm diff``, ``vdm blame`` and ``vdm verify``."""
    for name, run, help_text, description, positionals in _READERS:
        command = _database_command(commands, name, run, help=help_text,
                                    description=description)
        for dest, metavar, argument_help in positionals:
            command.add_argument(dest, metavar=metavar, help=argument_help)


def add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``vdm serve``."""
    serve = _database_command(
        commands, "serve", run_serve,
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


__all__ = ["CommandError", "build_parser", "main"]


if __name__ == "__main__":  # pragma: no cover - ``python -m vdm`` uses __main__
    sys.exit(main())
