"""Schema naming shared by both backends (the public schema format).

Every name vdm generates is derived here, so a database written by one
backend is read by the other:

    >>> revision_table_name("package")
    'package_revision'
    >>> version_class_name("Package")
    'PackageRevision'
"""

from __future__ import annotations

#: The table of revisions.
REVISION_TABLE = "revision"
#: One-row table whose row lock serialises writers and allocates ids.
REVISION_SEQUENCE_TABLE = "revision_sequence"

#: Column of a live row and a version: the revision that wrote it.
REVISION_ID = "revision_id"
#: Column of a version: the revision that replaced it (NULL while current).
EXPIRED_ID = "expired_id"
#: Column of a version: 0 insert, 1 update, 2 delete.
OPERATION_TYPE = "operation_type"
#: Column of stateful rows and of every version.
STATE = "state"

#: Columns vdm adds to a version table; never part of diffs or changesets.
BOOKKEEPING_COLUMNS = (REVISION_ID, EXPIRED_ID, OPERATION_TYPE)

#: Longest author name the revision table stores.
AUTHOR_LENGTH = 200
#: Width of a ``state`` column.
STATE_LENGTH = 8


def revision_table_name(table: str) -> str:
    """Name of the version table of live table ``table``."""
    return f"{table}_revision"


def version_class_name(class_name: str) -> str:
    """Name of the version class of the versioned class ``class_name``."""
    return f"{class_name}Revision"


def live_revision_index_name(table: str) -> str:
    """Index on a live table's ``revision_id``."""
    return f"ix_{table}_{REVISION_ID}"


def version_revision_index_name(table: str) -> str:
    """Index on a version table's ``revision_id`` (changes of a revision)."""
    return f"ix_{revision_table_name(table)}_{REVISION_ID}"


def version_expired_index_name(table: str) -> str:
    """Index on a version table's ``expired_id`` (rows current as of R)."""
    return f"ix_{revision_table_name(table)}_{EXPIRED_ID}"
