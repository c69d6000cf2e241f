"""Alembic migrations of a versioned model, as doc/alembic.rst tells them.

Each step runs Alembic's own commands (``alembic init`` with the default
template, ``revision --autogenerate``, ``upgrade``, ``check``,
``downgrade``) in a temporary project whose ``models.py`` is made of the
code blocks of doc/alembic.rst, on every database of the matrix; the
generated scripts are used as generated, except for the two edits the
page asks for in its last step, and, on MariaDB, the edit it asks for in
downgrades (MariaDB cannot drop an index a foreign key needs).  What the migrated database holds is read
back with vdm and with plain SQL.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from databases import Database
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from vdm import Operation, State
from vdm.sqlalchemy import Repository, Revision

DOC = Path(__file__).resolve().parent.parent / "doc" / "alembic.rst"
#: The application module's name in the temporary project (``models`` in
#: the page; another name here, so that it never meets a test module).
APP = "vdm_alembic_app"


def code_blocks(caption: str) -> list[str]:
    """The python code blocks of doc/alembic.rst with ``caption``, in page order."""
    found = []
    lines = DOC.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip() == ".. code-block:: python" and lines[i + 1].strip() == f":caption: {caption}":
            body = []
            for following in lines[i + 2:]:
                if following and not following.startswith("   "):
                    break
                body.append(following[3:])
            found.append("\n".join(body).strip() + "\n")
    return found


def model_source(steps: int) -> str:
    """models.py after the first ``steps`` blocks: a later class replaces its namesake."""
    header: list[str] = []
    classes: dict[str, str] = {}
    for block in code_blocks("models.py")[:steps]:
        for node in ast.parse(block).body:
            source = ast.get_source_segment(block, node) or ""
            if isinstance(node, ast.ClassDef) and node.name != "Base":
                classes[node.name] = source
            else:
                header.append(source)
    return "\n\n\n".join([*header, *classes.values()]) + "\n"


class Project:
    """An Alembic project made by ``alembic init`` (default template) in ``root``."""

    def __init__(self, root: Path, database: Database) -> None:
        self.root = root
        self.database = database
        self.versions = root / "migrations" / "versions"
        command.init(Config(str(root / "alembic.ini")), str(root / "migrations"))
        env = root / "migrations" / "env.py"
        source = env.read_text()
        assert "target_metadata = None\n" in source
        (setup,) = code_blocks("migrations/env.py")
        source = source.replace("target_metadata = None\n",
                                setup.replace("from models import", f"from {APP} import"))
        if database.name == "sqlite":
            # The page's advice for SQLite: batch mode in both configure() calls.
            assert source.count("target_metadata=target_metadata") == 2
            source = source.replace("target_metadata=target_metadata",
                                    "target_metadata=target_metadata, render_as_batch=True")
        env.write_text(source)
        # No config file: env.py then leaves the process's logging alone.
        self.config = Config()
        self.config.set_main_option("script_location", str(root / "migrations"))
        self.config.set_main_option("path_separator", "os")
        self.config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))

    def model(self, steps: int) -> Any:
        """Write models.py as of the page's first ``steps`` model blocks; import it."""
        (self.root / f"{APP}.py").write_text(model_source(steps))
        sys.modules.pop(APP, None)
        __import__(APP)
        return sys.modules[APP]

    def autogenerate(self, message: str) -> str:
        """``alembic revision --autogenerate``; the new script's text."""
        before = set(self.versions.glob("*.py"))
        command.revision(self.config, message=message, autogenerate=True)
        (script,) = set(self.versions.glob("*.py")) - before
        self.last_script = script
        source = script.read_text()
        if self.database.name == "mariadb":
            source = without_index_drops_of_dropped_tables(source)
            script.write_text(source)
        return source


def without_index_drops_of_dropped_tables(script: str) -> str:
    """The page's edit for MariaDB/MySQL: no ``drop_index`` before ``drop_table``."""
    dropped = set(re.findall(r"op\.drop_table\('(\w+)'\)", script))
    return "".join(line for line in script.splitlines(keepends=True)
                   if not any(f"table_name='{t}')" in line and "op.drop_index(" in line
                              for t in dropped))


@pytest.fixture
def project(tmp_path: Path, db: Database) -> Iterator[Project]:
    sys.path.insert(0, str(tmp_path))
    try:
        yield Project(tmp_path, db)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(APP, None)


def tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def columns(engine: Engine, table: str) -> list[str]:
    with engine.connect() as conn:
        return [c["name"] for c in inspect(conn).get_columns(table)]


def rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_the_guide_migrates_a_versioned_model_step_by_step(
    project: Project, engine: Engine,
) -> None:
    # 1. The first migration: vdm's tables are autogenerated and apply as they are.
    models = project.model(1)
    script = project.autogenerate("first tables")
    assert not re.search(r"\bvdm\.", script)  # nothing the script would need to import
    assert "op.create_table('book_revision'" in script
    assert "op.create_table('revision'" in script
    command.upgrade(project.config, "head")
    command.check(project.config)  # the database now matches the model
    assert {"book", "book_revision", "publisher", "revision", "revision_sequence"} <= tables(engine)
    with Session(engine) as session:
        first = session.revision = Revision(author="ann", message="first", extra={"ticket": 7})
        session.add(models.Book(name="warandpeace", title="War and Peacee"))
        session.commit()
        session.revision = Revision(author="ann", message="fix typo")
        book = session.scalars(select(models.Book)).one()
        book.title = "War and Peace"
        session.commit()
        assert book.get_as_of(first).title == "War and Peacee"
        assert [v.operation_type for v in book.versions] == [Operation.INSERT, Operation.UPDATE]
        assert [type(v.operation_type) for v in book.versions] == [Operation, Operation]
        assert book.state is State.ACTIVE and book.versions[0].state is State.ACTIVE
        assert session.get(Revision, first.id).extra == {"ticket": 7}
    assert rows(engine, "SELECT extra FROM revision ORDER BY id") == [('{"ticket": 7}',), (None,)]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO publisher (id, name) VALUES (1, 'Penguin'), (2, 'Vintage')"))

    # 2. A new column of a versioned class reaches its version table too.
    models = project.model(2)
    script = project.autogenerate("book isbn")
    assert not re.search(r"\bvdm\.", script)
    assert re.search(r"add_column\('book', sa\.Column\('isbn'", script) or "batch_op.add_column(sa.Column('isbn'" in script
    assert script.count("'isbn'") == 4  # added to book and book_revision, dropped from both
    command.upgrade(project.config, "head")
    command.check(project.config)
    assert "isbn" in columns(engine, "book_revision")
    with Session(engine) as session:
        session.revision = Revision(author="bob", message="isbn")
        book = session.scalars(select(models.Book)).one()
        book.isbn = "978-0199232765"
        session.commit()
        assert [(v.title, v.isbn) for v in book.versions] == [
            ("War and Peacee", None), ("War and Peace", None), ("War and Peace", "978-0199232765")]

    # 3. A new versioned class: its table and its version table.
    models = project.model(3)
    script = project.autogenerate("authors")
    assert not re.search(r"\bvdm\.", script)
    assert "op.create_table('author_revision'" in script
    command.upgrade(project.config, "head")
    command.check(project.config)
    with Session(engine) as session:
        session.revision = Revision(author="bob", message="tolstoy")
        book = session.scalars(select(models.Book)).one()
        session.add(models.Author(name="tolstoy", book_id=book.id))
        session.commit()
    assert rows(engine, "SELECT name, book_id, operation_type FROM author_revision") == [
        ("tolstoy", 1, 0)]

    # 4. An existing table with rows becomes versioned: the page's two edits.
    models = project.model(4)
    script = project.autogenerate("publisher is versioned")
    assert not re.search(r"\bvdm\.", script)
    (state_column,) = re.findall(r"sa\.Column\('state', sa\.Enum\([^)]*\), nullable=False\)", script)
    (call,) = code_blocks("migrations/versions/..._publisher_is_versioned.py")
    upgrade, downgrade = script.split("def downgrade()")
    upgrade = upgrade.replace(state_column, state_column[:-1] + ', server_default="active")')
    upgrade = upgrade.replace("    # ### end Alembic commands ###", "    # ### end Alembic commands ###\n"
                              + call.splitlines()[-2] + "\n" + call.splitlines()[-1], 1)
    header = call.splitlines()[0]
    project.last_script.write_text(header + "\n" + upgrade + "def downgrade()" + downgrade)
    command.upgrade(project.config, "head")
    command.check(project.config)
    assert rows(engine, "SELECT id, name, state FROM publisher ORDER BY id") == [
        (1, "Penguin", "active"), (2, "Vintage", "active")]
    recorded = rows(engine, "SELECT r.author, r.message, r.id FROM revision r "
                    "WHERE r.id = (SELECT MAX(id) FROM revision)")
    assert recorded[0][:2] == ("migration", "publisher is versioned")
    migration_revision = recorded[0][2]
    assert rows(engine, "SELECT id, name, revision_id, expired_id, operation_type, state "
                "FROM publisher_revision ORDER BY id") == [
        (1, "Penguin", migration_revision, None, 0, "active"),
        (2, "Vintage", migration_revision, None, 0, "active")]
    with Session(engine) as session:
        penguin = session.get(models.Publisher, 1)
        assert penguin is not None and penguin.revision_id == migration_revision
        assert [v.name for v in penguin.versions] == ["Penguin"]
        session.revision = Revision(author="cy", message="rename")
        penguin.name = "Penguin Books"
        session.commit()
        assert penguin.get_as_of(migration_revision).name == "Penguin"
        assert [v.name for v in penguin.versions] == ["Penguin", "Penguin Books"]
        assert Repository(models.Base.metadata, session).verify() == []

    # Back down to nothing, and up again: every generated downgrade runs.
    command.downgrade(project.config, "-1")
    assert "publisher_revision" not in tables(engine)
    assert "revision_id" not in columns(engine, "publisher")
    assert rows(engine, "SELECT id, name FROM publisher ORDER BY id") == [
        (1, "Penguin Books"), (2, "Vintage")]
    command.downgrade(project.config, "base")
    assert tables(engine) <= {"alembic_version"}
    command.upgrade(project.config, "head")
    command.check(project.config)


def test_recording_existing_rows_twice_writes_nothing_the_second_time(
    project: Project, engine: Engine,
) -> None:
    from vdm.sqlalchemy.alembic import version_existing_rows

    project.model(4)
    project.autogenerate("everything")
    command.upgrade(project.config, "head")
    with engine.begin() as conn:
        assert version_existing_rows(conn, "publisher", author="m") is None  # no rows: no revision
        conn.execute(text("INSERT INTO publisher (id, name, state) VALUES (1, 'Penguin', 'active')"))
        first = version_existing_rows(conn, "publisher", author="m", message="existing rows")
        assert version_existing_rows(conn, "publisher", author="m") is None
    assert first is not None
    assert rows(engine, "SELECT id, author, message FROM revision") == [
        (first, "m", "existing rows")]
    assert rows(engine, "SELECT id, revision_id, operation_type, state FROM publisher_revision") == [
        (1, first, 0, "active")]
