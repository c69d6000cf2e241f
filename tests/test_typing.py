"""User code typed with vdm passes ``mypy --strict`` (doc/typing.rst).

examples/typed_app.py declares versioned classes, sets revisions on a
:class:`vdm.sqlalchemy.VersionedSession`, reads versions and uses the
whole-model view; mypy checks it, and vdm's modules it imports, under
``--strict``.  A plain Session is refused the same assignment, so the
check is real.  The typed ways of setting a revision (a VersionedSession,
set_revision, also on an AsyncSession's sync_session) write on every
database.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from databases import async_url
from history_helpers import rows
from sqlalchemy import Engine, String
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from vdm.sqlalchemy import Revision, Revisioned, VersionedSession, set_revision
from vdm.sqlalchemy.asyncio import VersionedAsyncSession

ROOT = Path(__file__).resolve().parent.parent


def mypy_strict(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    # An application's own configuration (none), not vdm's mypy.ini.
    config = cache.parent / "mypy.ini"
    config.write_text("[mypy]\n")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         "--config-file", str(config), "--cache-dir", str(cache), str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )


def test_the_typed_example_passes_mypy_strict(tmp_path: Path) -> None:
    result = mypy_strict(ROOT / "examples" / "typed_app.py", tmp_path / "cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_a_plain_session_is_refused_the_revision(tmp_path: Path) -> None:
    user = tmp_path / "plain_session.py"
    user.write_text(
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "from sqlalchemy.orm import Session\n"
        "from vdm.sqlalchemy import Revision, VersionedSession, set_revision\n"
        "from vdm.sqlalchemy.asyncio import VersionedAsyncSession\n\n\n"
        "def start(session: Session, typed: VersionedSession, aio: AsyncSession,\n"
        "          typed_aio: VersionedAsyncSession) -> None:\n"
        "    typed.revision = Revision(author='me')\n"
        "    typed_aio.revision = Revision(author='me')\n"
        "    set_revision(session, Revision(author='me'))\n"
        "    set_revision(aio.sync_session, Revision(author='me'))\n"
        "    session.revision = Revision(author='me')\n"
    )
    result = mypy_strict(user, tmp_path / "cache")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f'{user}:13: error: "Session" has no attribute "revision"  [attr-defined]']


class NoteBase(DeclarativeBase):
    pass


class Note(Revisioned, NoteBase):
    __tablename__ = "typed_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(100))


def test_typed_revisions_are_written_by_sync_and_async_sessions(engine: Engine) -> None:
    NoteBase.metadata.create_all(engine)
    with sessionmaker(engine, class_=VersionedSession)() as session:
        session.revision = Revision(author="ann", message="typed")
        session.add(Note(id=1, text="sync"))
        session.commit()
        assert session.revision is None

    async def write_async() -> None:
        async_engine = create_async_engine(async_url(engine.url.render_as_string(
            hide_password=False)))
        try:
            async with AsyncSession(async_engine) as aio:
                set_revision(aio.sync_session, Revision(author="bob", message="set_revision"))
                aio.add(Note(id=2, text="async"))
                await aio.commit()
            async with VersionedAsyncSession(async_engine) as typed_aio:
                typed_aio.revision = Revision(author="cy", message="typed async")
                typed_aio.add(Note(id=3, text="typed async"))
                await typed_aio.commit()
                assert typed_aio.revision is None
        finally:
            await async_engine.dispose()

    asyncio.run(write_async())
    assert rows(engine, "SELECT id, author, message FROM revision ORDER BY id") == [
        (1, "ann", "typed"), (2, "bob", "set_revision"), (3, "cy", "typed async")]
    assert rows(engine, "SELECT id, text, revision_id FROM typed_note_revision ORDER BY id") == [
        (1, "sync", 1), (2, "async", 2), (3, "typed async", 3)]
