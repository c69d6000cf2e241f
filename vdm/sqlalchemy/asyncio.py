"""vdm from asyncio code: revisions on an ``AsyncSession``, awaited history reads.

Writing is the same as with a ``Session``: give the ``AsyncSession`` a
revision, or open an ``async with`` block::

    async_session.revision = Revision(author="ann", message="fix typo")
    book.title = "War and Peace"
    await async_session.commit()

    async with revision_scope(async_session, author="ann", message="fix typo"):
        book.title = "War and Peace"

Reading history issues SQL when it is called, which an ``AsyncSession``
only allows inside its own greenlet.  Await the forms of this module::

    old = await get_as_of(book, first_revision)
    titles = [v.title for v in await versions(book)]

or run any other history call, and the traversal of what it returns,
through ``AsyncSession.run_sync``, which hands it the ``Session``::

    revisions = await async_session.run_sync(
        lambda session: Repository(Base.metadata, session).history())
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_session
from sqlalchemy.orm import object_session

from vdm.errors import DetachedError
from vdm.sqlalchemy.revision import Revision
from vdm.sqlalchemy.session import describe
from vdm.sqlalchemy.versions import Version

_T = TypeVar("_T")

__all__ = ["VersionedAsyncSession", "diff", "get_as_of", "versions"]


class VersionedAsyncSession(AsyncSession):
    """An :class:`~sqlalchemy.ext.asyncio.AsyncSession` with a typed ``revision``.

    vdm reads the ``revision`` of any AsyncSession; this class only
    declares the attribute, so that ``async_session.revision =
    Revision(...)`` passes ``mypy --strict``.  Use it as
    ``async_sessionmaker(engine, class_=VersionedAsyncSession)``.  Its
    ``revision`` is the revision the next versioned changes are written in,
    None between transactions (commit and rollback clear it).
    """

    revision: Revision | None = None


async def _in_session(obj: Any, call: Callable[[], _T]) -> _T:
    session = object_session(obj)
    proxy: AsyncSession | None = None if session is None else async_session(session)
    if proxy is None:
        raise DetachedError(
            f"{describe(obj)} is not in an AsyncSession; load it with one (or, with a "
            f"plain Session, call the method itself)", obj=obj,
        )
    return await proxy.run_sync(lambda _session: call())


async def get_as_of(obj: Any, revision: Any) -> Version | None:
    """Await ``obj.get_as_of(revision)``: its version as of ``revision``, or None."""
    return await _in_session(obj, lambda: obj.get_as_of(revision))


async def versions(obj: Any) -> list[Version]:
    """Await ``obj.versions``: its versions, oldest first."""
    return await _in_session(obj, lambda: list(obj.versions))


async def diff(obj: Any, to_revision: Any = None, from_revision: Any = None) -> dict[str, str]:
    """Await ``obj.diff(to_revision, from_revision)``: ``{field: text}`` of what differs."""
    return await _in_session(obj, lambda: obj.diff(to_revision, from_revision))
