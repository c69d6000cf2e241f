"""vdm from asyncio code: AsyncSession revisions, ``async with`` blocks, awaited reads.

An application on ``sqlalchemy.ext.asyncio`` (aiosqlite, asyncpg, aiomysql)
writes revisions through its ``AsyncSession`` and reads history from its
coroutines.  Each test runs its coroutine with ``asyncio.run`` on a fresh
async engine and checks what the database holds through a plain engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from databases import async_url
from history_helpers import rows
from sqlalchemy import Engine, String, select
from sqlalchemy.ext.asyncio import (
    AsyncAttrs,
    AsyncSession,
    async_scoped_session,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from vdm import DetachedError, InvalidInputError, NoRevisionError
from vdm.sqlalchemy import (
    AUTO_REVISION_AUTHOR,
    Repository,
    Revision,
    Revisioned,
    Stateful,
    revision_scope,
)
from vdm.sqlalchemy.asyncio import diff, get_as_of, versions


class WikiBase(AsyncAttrs, DeclarativeBase):
    pass


class Page(Revisioned, Stateful, WikiBase):
    __tablename__ = "wiki_page"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    body: Mapped[str | None] = mapped_column(String(400))


Scenario = Callable[[async_sessionmaker[AsyncSession]], Awaitable[Any]]


@pytest.fixture
def wiki(engine: Engine) -> Iterator[Callable[[Scenario], Any]]:
    """Run a scenario on an async sessionmaker bound to the test's database."""
    WikiBase.metadata.create_all(engine)

    def run(scenario: Scenario, **session_kw: Any) -> Any:
        async def main() -> Any:
            async_engine = create_async_engine(async_url(engine.url.render_as_string(
                hide_password=False)))
            try:
                return await scenario(async_sessionmaker(async_engine, **session_kw))
            finally:
                await async_engine.dispose()

        return asyncio.run(main())

    yield run


def test_a_revision_set_on_the_async_session_is_written(wiki: Any, engine: Engine) -> None:
    async def scenario(Session: async_sessionmaker[AsyncSession]) -> Any:
        async with Session() as session:
            session.revision = Revision(author="ann", message="first pages", extra={"ticket": 7})
            session.add_all([Page(slug="home", body="Welcome"), Page(slug="faq")])
            await session.commit()
            return session.revision, getattr(session.sync_session, "revision", None)

    assert wiki(scenario) == (None, None)
    assert rows(engine, "SELECT id, author, message, extra FROM revision") == [
        (1, "ann", "first pages", '{"ticket": 7}')]
    assert rows(engine, "SELECT slug, revision_id, expired_id, operation_type "
                        "FROM wiki_page_revision ORDER BY slug") == [
        ("faq", 1, None, 0), ("home", 1, None, 0)]


def test_without_a_revision_the_flush_is_refused(wiki: Any, engine: Engine) -> None:
    async def scenario(Session: async_sessionmaker[AsyncSession]) -> None:
        async with Session() as session:
            session.add(Page(slug="home"))
            with pytest.raises(NoRevisionError, match="a new Page changed but the session "
                                                      "has no revision"):
                await session.flush()

    wiki(scenario)
    assert rows(engine, "SELECT count(*) FROM wiki_page") == [(0,)]


def test_each_transaction_needs_its_own_revision(wiki: Any, engine: Engine) -> None:
    async def scenario(Session: async_sessionmaker[AsyncSession]) -> None:
        async with Session() as session:
            session.revision = Revision(author="ann", message="home")
            page = Page(slug="home", body="v1")
            session.add(page)
            await session.commit()
            page.body = "v2"
            with pytest.raises(NoRevisionError):
                await session.commit()
            await session.rollback()
            await session.refresh(page)      # expired by the rollback: load it again
            session.revision = Revision(author="bob", message="edit")
            page.body = "v2"
            await session.commit()

    wiki(scenario, expire_on_commit=False)
    assert rows(engine, "SELECT id, author FROM revision ORDER BY id") == [(1, "ann"), (2, "bob")]
    assert rows(engine, "SELECT body, revision_id FROM wiki_page") == [("v2", 2)]


def test_a_rollback_forgets_the_revision(wiki: Any, engine: Engine) -> None:
    async def scenario(Session: async_sessionmaker[AsyncSession]) -> None:
        async with Session() as session:
            revision = Revision(author="ann", message="try")
            session.revision = revision
            session.add(Page(slug="home"))
            await session.flush()
            assert revision.id is not None
            await session.rollback()
            assert revision.id is None and session.revision is None
            session.revision = revision      # reusable once forgotten
            session.add(Page(slug="faq"))
            await session.commit()

    wiki(scenario)
    assert rows(engine, "SELECT author, message FROM revision") == [("ann", "try")]
    assert rows(engine, "SELECT slug FROM wiki_page") == [("faq",)]


def test_an_async_block_commits_one_revision_and_nested_blocks_join(
    wiki: Any, engine: Engine
) -> None:
    async def scenario(Session: async_sessionmaker[AsyncSession]) -> Any:
        async with Session() as session:
            async def add_page(slug: str) -> None:
                async with revision_scope(session, author="helper", message="inner"):
                    session.add(Page(slug=slug))

            async with revision_scope(session, author="ann", message="two pages") as rev:
                await add_page("home")
                await add_page("faq")
                assert session.revision is rev
            return rev.id, session.revision

    assert wiki(scenario) == (1, None)
    assert rows(engine, "SELECT id, author, message FROM revision") == [(1, "ann", "two pages")]
    assert rows(engine, "SELECT slug, revision_id FROM wiki_page ORDER BY slug") == [
        ("faq", 1), ("home", 1)]


def test_a_failure_inside_an_async_block_leaves_nothing(wiki: Any, engine: Engine) -> None:
    async def scenario(Session: async_sessionmaker[AsyncSession]) -> None:
        async with Session() as session:
            with pytest.raises(RuntimeError, match="payment refused"):
                async with revision_scope(session, author="ann", message="doomed"):
                    session.add(Page(slug="home", body="draft"))
                    await session.flush()
                    raise RuntimeError("payment refused")
            assert session.revision is None
            assert (await session.scalars(select(Page))).all() == []

    wiki(scenario)
    assert rows(engine, "SELECT count(*) FROM revision") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM wiki_page") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM wiki_page_revision") == [(0,)]


def test_the_block_decorates_coroutines_on_an_async_scoped_session(
    wiki: Any, engine: Engine
) -> None:
    async def scenario(Session: async_sessionmaker[AsyncSession]) -> None:
        scoped = async_scoped_session(Session, scopefunc=asyncio.current_task)

        @revision_scope(scoped, author="importer", message="nightly")
        async def import_pages(slugs: list[str]) -> int:
            scoped.add_all(Page(slug=s) for s in slugs)
            return len(slugs)

        try:
            assert await import_pages(["a", "b"]) == 2
            assert await import_pages(["c"]) == 1
        finally:
            await scoped.remove()

    wiki(scenario)
    assert rows(engine, "SELECT id, author, message FROM revision ORDER BY id") == [
        (1, "importer", "nightly"), (2, "importer", "nightly")]
    assert rows(engine, "SELECT slug, revision_id FROM wiki_page ORDER BY slug") == [
        ("a", 1), ("b", 1), ("c", 2)]


def test_a_plain_with_on_an_async_session_is_refused(wiki: Any, engine: Engine) -> None:
    async def scenario(Session: async_sessionmaker[AsyncSession]) -> None:
        async with Session() as session:
            with pytest.raises(InvalidInputError, match="revision_scope on AsyncSession is an "
                                                        "async block: write `async with"):
                with revision_scope(session, author="ann"):
                    session.add(Page(slug="home"))
            assert getattr(session, "revision", None) is None

    wiki(scenario)
    assert rows(engine, "SELECT count(*) FROM wiki_page") == [(0,)]


def test_an_async_block_also_takes_a_plain_session(engine: Engine) -> None:
    WikiBase.metadata.create_all(engine)

    async def scenario() -> None:
        with Session(engine) as session:
            async with revision_scope(session, author="ann", message="sync session"):
                session.add(Page(slug="home"))

    asyncio.run(scenario())
    assert rows(engine, "SELECT author, message FROM revision") == [("ann", "sync session")]
    assert rows(engine, "SELECT slug, revision_id FROM wiki_page") == [("home", 1)]


def test_automatic_revisions_work_on_an_async_sessionmaker(wiki: Any, engine: Engine) -> None:
    async def scenario(Session: async_sessionmaker[AsyncSession]) -> None:
        async with Session() as session:
            session.add(Page(slug="home"))
            await session.commit()

    wiki(scenario, info={AUTO_REVISION_AUTHOR: "importer"})
    assert rows(engine, "SELECT author, message FROM revision") == [
        ("importer", "automatic revision")]


async def _three_revisions(Session: async_sessionmaker[AsyncSession]) -> list[Revision]:
    revisions = []
    async with Session(expire_on_commit=False) as session:
        page = Page(slug="home", body="Welcom")
        for message, change in (("create", lambda: session.add(page)),
                                ("fix typo", lambda: setattr(page, "body", "Welcome")),
                                ("retire", page.delete)):
            async with revision_scope(session, author="ann", message=message) as rev:
                change()
            revisions.append(rev)
    return revisions


def test_history_is_read_from_async_code(wiki: Any, engine: Engine) -> None:
    async def scenario(Session: async_sessionmaker[AsyncSession]) -> Any:
        first, second, third = await _three_revisions(Session)
        async with Session() as session:
            page = (await session.scalars(select(Page).filter_by(slug="home"))).one()
            old = await get_as_of(page, first)
            at_second = await get_as_of(page, second.id)
            at_time = await get_as_of(page, third.timestamp)
            history = [(v.revision_id, v.body, v.state.value) for v in await versions(page)]
            changes = await diff(page, second, first)
            # AsyncAttrs gives the same through awaitable_attrs.
            via_attrs = [v.revision_id for v in await page.awaitable_attrs.versions]
            # Everything else: run_sync hands the call the Session.
            log = await session.run_sync(
                lambda sync: [(r.id, r.message) for r in Repository(WikiBase.metadata, sync).history()])
            return (old.body, at_second.body, at_time.state.value, history, changes,
                    via_attrs, log)

    old, at_second, at_time, history, changes, via_attrs, log = wiki(scenario)
    assert (old, at_second, at_time) == ("Welcom", "Welcome", "deleted")
    assert history == [(1, "Welcom", "active"), (2, "Welcome", "active"), (3, "Welcome", "deleted")]
    assert changes == {"body": "- Welcom\n+ Welcome\n?       +"}
    assert via_attrs == [1, 2, 3]
    assert log == [(3, "retire"), (2, "fix typo"), (1, "create")]


def test_awaited_reads_need_an_object_of_an_async_session(wiki: Any) -> None:
    async def scenario(Session: async_sessionmaker[AsyncSession]) -> None:
        with pytest.raises(DetachedError, match="a new Page is not in an AsyncSession"):
            await versions(Page(slug="loose"))

    wiki(scenario)
