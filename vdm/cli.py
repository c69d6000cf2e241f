"""The ``vdm`` command (also ``python -m vdm``).

::

    vdm demo [--db PATH]    tell the seed story on an SQLite file

Each subcommand is one ``add_<name>`` function that declares its arguments
and sets ``run`` to the function doing the work; :func:`build_parser` lists
them.  Commands import the ORM backends only when they run, so that
``import vdm`` (and ``vdm --help``) stays free of SQLAlchemy.
"""

from __future__ import annotations

import argparse
import enum
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from vdm import __version__
from vdm.errors import VdmError
from vdm.operations import Operation

if TYPE_CHECKING:
    from vdm.sqlalchemy import Repository, Revision

#: What a subcommand runs: parsed arguments and the output stream in, exit status out.
Command = Callable[[argparse.Namespace, TextIO], int]

DEFAULT_DEMO_DB = "vdm-demo.db"


# -- the parser ---------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vdm`` with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="vdm",
        description="vdm: a versioned domain model for SQLAlchemy and SQLObject.",
    )
    parser.add_argument("--version", action="version", version=f"vdm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (add_demo,):
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
    finally:
        engine.dispose()
    return 0 if not problems else 1


# -- output shared by the commands --------------------------------------


def write_history(repo: Repository, out: TextIO, limit: int | None = None) -> None:
    """Print each revision (newest first) and what it changed."""
    for revision in repo.history(limit=limit):
        print(f"  {describe_revision(revision)}", file=out)
        for cls, versions in repo.list_changes(revision).items():
            for version in versions:
                print(f"      {describe_change(cls, version)}", file=out)


def describe_revision(revision: Revision) -> str:
    """``r2  2024-05-01 12:00:00 UTC  proofreader  "Fix the typo"``."""
    when = (f"{revision.timestamp:%Y-%m-%d %H:%M:%S} UTC"
            if revision.timestamp is not None else "(no timestamp)")
    message = f'"{revision.message}"' if revision.message else "(no message)"
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
