"""What ``verify()`` reports: broken history invariants, as plain data.

Both backends check the same invariants and report each finding as a
:class:`Violation` whose ``kind`` and sentence come from :data:`MESSAGES`,
so tools (and tests) see exactly the same report whichever backend wrote
or checked the history::

    >>> v = violation("bad-interval", "book", (1,), 2, "Book(id=1)")
    >>> v.kind, v.detail
    ('bad-interval', 'the version of Book(id=1) from revision 2 expires before it starts')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Violation:
    """One broken invariant: what (``kind``), where, and a sentence."""

    kind: str
    table: str
    key: tuple[Any, ...] | None
    revision_id: int | None
    detail: str

    def __str__(self) -> str:
        return f"{self.table} {self.key}: {self.kind}: {self.detail}"


#: The kinds of violation ``verify()`` reports, with their text.
MESSAGES = {
    "missing-version": "{obj} is live but has no current version",
    "multiple-current": "{obj} has more than one version with no expiry",
    "orphan-current": "{obj} has a current version (revision {rev}) but no live row",
    "bad-interval": "the version of {obj} from revision {rev} expires before it starts",
    "gap": "the version of {obj} from revision {rev} expires at a revision "
           "with no following version",
    "overlap": "a version of {obj} (revision {rev}) starts inside the interval "
               "of an earlier version",
    "head-mismatch": "{obj} differs from its current version (revision {rev})",
    "missing-revision": "a version of {obj} names revision {rev}, which does not exist",
    "duplicate-link": "{obj} has two active {link} links to the same {what} "
                      "({first} and {second}) as of revision {rev}",
    # Native versioning (vdm/nativetriggers.py): {obj} names the table
    # or the commit-time trigger.
    "missing-trigger": "{obj} has no native versioning trigger; run "
                       "vdm.sqlalchemy.native.install()",
    "stale-trigger": "the native versioning trigger of {obj} was installed for "
                     "another model or vdm version; run "
                     "vdm.sqlalchemy.native.install() to upgrade it",
}

#: The kinds, in the order the checks run.
KINDS = tuple(MESSAGES)


def violation(kind: str, table: str, key: tuple[Any, ...] | None, revision_id: Any,
              described: str, **details: str) -> Violation:
    """The :class:`Violation` of ``kind`` found for object ``described``.

    ``details`` fill the other fields of the kind's message.
    """
    rev = None if revision_id is None else int(revision_id)
    return Violation(kind, table, key, rev,
                     MESSAGES[kind].format(obj=described, rev=rev, **details))


def duplicate_link(owner_table: str, owner_key: tuple[Any, ...], owner: str, link: str,
                   keyed: bool, first: str, second: str, revision_id: Any) -> Violation:
    """Two active links of one owner to one target (or map key) at once.

    Reported against the owner (``owner_table``, ``owner_key``).
    """
    return violation("duplicate-link", owner_table, owner_key, revision_id, owner,
                     link=link, what="key" if keyed else "target",
                     first=first, second=second)


def duplicate_links(rows: Any, describe_owner: Any, describe_link: Any, owner_table: str,
                    link: str, keyed: bool) -> list[Violation]:
    """Violations from rows ``(owner key, first link key, second key, rev a, rev b)``.

    One per owner and pair of links, as of the first revision both were active.
    """
    found: dict[tuple[Any, Any, Any], int] = {}
    for owner_key, first, second, rev_a, rev_b in rows:
        pair = (owner_key, first, second)
        at = max(int(rev_a), int(rev_b))
        found[pair] = min(found.get(pair, at), at)
    return [duplicate_link(owner_table, owner_key, describe_owner(owner_key), link, keyed,
                           describe_link(first), describe_link(second), rev)
            for (owner_key, first, second), rev in sorted(found.items(), key=repr)]
