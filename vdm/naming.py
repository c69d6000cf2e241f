"""Schema naming shared by both backends (the public schema format).

Every name vdm generates is derived here, so a database written by one
backend is read by the other:

    >>> revision_table_name("package")
    'package_revision'
    >>> version_class_name("Package")
    'PackageRevision'

A generated name never exceeds :data:`MAX_NAME_LENGTH` characters, the
shortest identifier limit of the supported databases (PostgreSQL's 63;
MariaDB/MySQL allow 64).  A longer one keeps its first characters and ends
with ``_`` and eight hexadecimal digits of its MD5 hash, so it is stable
and still distinct:

    >>> fit_name("x" * 70)
    'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx_7d56c0f8'
"""

from __future__ import annotations

import hashlib

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


#: Longest name vdm generates (PostgreSQL's identifier limit).
MAX_NAME_LENGTH = 63
#: Hexadecimal digits of the hash that ends a shortened name.
_HASH_LENGTH = 8


def fit_name(name: str) -> str:
    """``name`` if it fits :data:`MAX_NAME_LENGTH`, else a stable shortening.

    The shortened name is the start of ``name``, ``_`` and the first eight
    hexadecimal digits of the MD5 of the whole name.
    """
    if len(name) <= MAX_NAME_LENGTH:
        return name
    digest = hashlib.md5(name.encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"{name[:MAX_NAME_LENGTH - _HASH_LENGTH - 1]}_{digest[:_HASH_LENGTH]}"


def revision_table_name(table: str) -> str:
    """Name of the version table of live table ``table`` (``<table>_revision``)."""
    return fit_name(f"{table}_revision")


def version_class_name(class_name: str) -> str:
    """Name of the version class of the versioned class ``class_name``."""
    return f"{class_name}Revision"


def live_revision_index_name(table: str) -> str:
    """Index on a live table's ``revision_id``."""
    return fit_name(f"ix_{table}_{REVISION_ID}")


def version_revision_index_name(table: str) -> str:
    """Index on a version table's ``revision_id`` (changes of a revision)."""
    return fit_name(f"ix_{revision_table_name(table)}_{REVISION_ID}")


def version_expired_index_name(table: str) -> str:
    """Index on a version table's ``expired_id`` (rows current as of R)."""
    return fit_name(f"ix_{revision_table_name(table)}_{EXPIRED_ID}")


def version_foreign_key_name(table: str, column: str) -> str:
    """Foreign key from a version table's ``column`` to ``revision.id``.

    Named by vdm because MariaDB's own names (``<table>_ibfk_<n>``) can
    exceed its limit for long table names.
    """
    return fit_name(f"fk_{revision_table_name(table)}_{column}")


def live_foreign_key_name(table: str) -> str:
    """Foreign key from a live table's ``revision_id`` to ``revision.id``."""
    return fit_name(f"fk_{table}_{REVISION_ID}")
