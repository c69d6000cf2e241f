"""The SQLObject model of the test stories, mirroring :mod:`models`.

Same tables and columns as the SQLAlchemy model (``license_id``,
``publisher_id``, ``book_id``...), so that either backend reads the other's
history.  ``Edition`` (a composite primary key) has no mirror: SQLObject
classes have exactly one id column.  The classes live in their own
SQLObject registry so that their names do not clash with other tests'.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlobject import (
    ForeignKey,
    IntCol,
    MultipleJoin,
    SQLObject,
    StringCol,
    connectionForURI,
)

from vdm.sqlobject import (
    Revisioned,
    Session,
    Stateful,
    add_stateful_versioned_dict,
    add_stateful_versioned_m2m,
    create_tables,
)

REGISTRY = "vdm-tests"
LINK_REGISTRY = "vdm-link-tests"


class Publisher(SQLObject):
    class sqlmeta:
        table = "publisher"
        registry = REGISTRY

    name = StringCol(length=100, notNone=True)


class License(Revisioned, SQLObject):
    class sqlmeta:
        table = "license"
        registry = REGISTRY

    name = StringCol(length=100, default=None)


class Book(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        table = "book"
        registry = REGISTRY

    name = StringCol(length=100, unique=True, notNone=True)
    title = StringCol(length=200, default=None)
    text = StringCol(default=None)
    license = ForeignKey("License", default=None)
    publisher = ForeignKey("Publisher", default=None)
    authors = MultipleJoin("Author", joinColumn="book_id", orderBy="id")

    def __repr__(self) -> str:
        return f"Book({self.name!r})"


class Author(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        table = "author"
        registry = REGISTRY

    name = StringCol(length=100, notNone=True)
    book = ForeignKey("Book", default=None)


STORY = [Publisher, License, Book, Author]


# The classic vdm model with versioned links, mirroring :mod:`link_models`
# (``package_extra``'s key column is ``extra_key``: SQLObject does not quote
# names, and ``key`` is reserved on MySQL/MariaDB).

class LinkLicense(Revisioned, SQLObject):
    class sqlmeta:
        table = "license"
        registry = LINK_REGISTRY

    name = StringCol(length=100, notNone=True)


class Package(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        table = "package"
        registry = LINK_REGISTRY

    name = StringCol(length=100, unique=True, notNone=True)
    license = ForeignKey("LinkLicense", default=None)


class Tag(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        table = "tag"
        registry = LINK_REGISTRY

    name = StringCol(length=100, notNone=True)

    def __repr__(self) -> str:
        return f"Tag({self.name!r})"


class PackageTag(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        table = "package_tag"
        registry = LINK_REGISTRY

    package = ForeignKey("Package", notNone=True)
    tag = ForeignKey("Tag", notNone=True)
    position = IntCol(default=None)


class Group(Revisioned, SQLObject):
    """A non-stateful target (groups are never soft-deleted)."""

    class sqlmeta:
        table = "grp"
        registry = LINK_REGISTRY

    name = StringCol(length=100, notNone=True)


class PackageGroup(Revisioned, Stateful, SQLObject):
    """A link without a position column: creation order."""

    class sqlmeta:
        table = "package_group"
        registry = LINK_REGISTRY

    package = ForeignKey("Package", notNone=True)
    group = ForeignKey("Group", notNone=True)


class PackageExtra(Revisioned, Stateful, SQLObject):
    class sqlmeta:
        table = "package_extra"
        registry = LINK_REGISTRY

    package = ForeignKey("Package", notNone=True)
    key = StringCol(length=100, dbName="extra_key", notNone=True)
    value = StringCol(length=200, default=None)


add_stateful_versioned_m2m(Package, PackageTag, "tags", "tag", "package_tags",
                           position_attr="position")
add_stateful_versioned_m2m(Package, PackageGroup, "groups", "group", "package_groups")
add_stateful_versioned_dict(Package, PackageExtra, "extras", "key", "value", "extras_list")

LINKS = [LinkLicense, Package, Tag, PackageTag, Group, PackageGroup, PackageExtra]


def create_story_tables(connection: Any) -> None:
    """Create the story's tables (and vdm's) with the SQLObject backend."""
    create_tables(connection, STORY)


def sqlobject_uri(db: Any) -> str:
    """The test database as an SQLObject URI, derived from its SQLAlchemy URL.

    (So that ``VDM_TEST_<NAME>_URL`` overrides reach SQLObject too.)
    """
    return sqlobject_uri_of(db.url)


def sqlobject_uri_of(url_text: str) -> str:
    """The SQLObject URI of an SQLAlchemy URL."""
    url = make_url(url_text)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return "sqlite:" + str(url.database)
    auth = url.username or ""
    if url.password:
        auth += f":{url.password}"
    location = f"{auth}@{url.host}:{url.port}/{url.database}"
    if backend == "postgresql":
        return f"postgres://{location}?driver=psycopg2"
    return f"mysql://{location}?driver=pymysql&charset=utf8mb4"


@pytest.fixture
def so_connection(db: Any) -> Iterator[Any]:
    """An SQLObject connection to the test's (empty) database."""
    conn = connectionForURI(sqlobject_uri(db))
    yield conn
    conn.close()


@pytest.fixture
def connection(so_connection: Any) -> Any:
    """An SQLObject connection on which the story's tables exist."""
    create_story_tables(so_connection)
    return so_connection


@pytest.fixture
def new_session(so_connection: Any) -> Iterator[Any]:
    """``new_session()`` opens a vdm session; all are closed after the test."""
    opened: list[Session] = []

    def factory(**kw: Any) -> Session:
        s = Session(so_connection, **kw)
        opened.append(s)
        return s

    yield factory
    for s in opened:
        if not s.transaction._obsolete:
            s.close()


@pytest.fixture
def session(connection: Any, new_session: Any) -> Session:
    """A vdm session on the story's tables (closed, i.e. rolled back, after)."""
    return new_session()  # type: ignore[no-any-return]
