"""The final step of a commit: a provisional revision id becomes the real one.

On PostgreSQL and MariaDB/MySQL a writing transaction works under a
*provisional* revision id, a random number above every real id that takes
no lock (:func:`vdm.revisions.provisional_revision_id`): its revision row, its
version rows and the live rows it changed carry it.  Only at commit, after
the last flush, :func:`end_revision` (the core's ``finalise_revision``)
locks the ``revision_sequence`` row, takes the next id, stamps the
timestamp (never below the previous revision's) and rewrites the
provisional id in the revision row, in the version rows (``revision_id``
and ``expired_id``) and in the live rows of the tables the transaction
wrote.  The commit that follows releases the lock, so writers serialise
only for these few statements and ids follow commit order.

SQLite has one writer at a time (its database lock, held from a
transaction's first write to its commit), so there the id is final from the
first flush and nothing is rewritten.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from vdm import revisionlife as life
from vdm.naming import REVISION_ID
from vdm.operations import Operation

# Whether a database defers ids to commit is the core's; importable from here.
from vdm.revisionlife import defers_revision_id as defers_revision_id
from vdm.sqlalchemy.revision import Revision
from vdm.sqlalchemy.writer import CHUNK, versioned_table
from vdm.versionwrite import expire_previous


def _tables_of(versioning: Any, names: Any) -> life.RewrittenTables:
    """A table's version table and, when its rows carry ``revision_id``,
    its live table, by their full names (a ``MetaData(schema=...)`` included),
    quoted as the dialect (``names``, its identifier preparer) quotes them."""
    live = versioning.table
    return (names.format_table(versioning.version_table),
            names.format_table(live) if REVISION_ID in live.c else None)


def end_revision(
    connection: Connection, revision: Revision, written: dict[Any, dict[Any, Operation]],
    stored: dict[str, Any], expire_later: dict[Any, set[Any]] | None = None,
) -> tuple[bool, dict[str, Any]]:
    """The revision's part of the commit (:func:`vdm.revisionlife.end_revision`),
    with the tables named as this connection's dialect names them.

    ``written`` maps each versioning the transaction wrote to the keys and
    operations it versioned; ``expire_later`` (MariaDB/MySQL) holds keys
    whose previous versions the final step closes.  Returns (whether the
    revision was taken back, the metadata now stored).
    """
    names = connection.dialect.identifier_preparer

    def expire(sql: Any, versioning: Any, keys: set[Any], provisional: int) -> None:
        expire_previous(sql, versioned_table(connection.dialect, versioning), keys,
                        provisional, CHUNK)

    return life.end_revision(connection, revision, written, stored, expire_later,
                             lambda versioning: _tables_of(versioning, names), expire)
