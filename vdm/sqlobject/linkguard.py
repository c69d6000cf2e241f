"""Concurrent link edits become :class:`vdm.ConflictError` (SQLObject).

When the checks of :mod:`vdm.linkraces` run: before a link row is created
(its owner still exists and has no link to the same target, or in a map no
row for the same key, that another writer added meanwhile), and before an
owner is destroyed (it has gained no link rows since this session read its
links; a session that never read them decided without them).
"""

from __future__ import annotations

from typing import Any

from vdm.linkraces import duplicate_link, links_gained, lock_owner, owner_deleted, owner_links
from vdm.sql import sql_of
from vdm.sqlobject.registry import Versioning, versioned_classes


def _specs_with_link(link: Versioning) -> list[Any]:
    return [spec for owner in versioned_classes for spec in owner.links.values()
            if spec.link is link]


def _value(kwargs: dict[str, Any], attr: str, fk_name: str | None = None) -> Any:
    if attr in kwargs:
        return kwargs[attr]
    target = kwargs.get(fk_name) if fk_name else None
    return getattr(target, "id", target)


def check_new_link(conn: Any, link: Versioning, kwargs: dict[str, Any]) -> None:
    """Raise if a link about to be created races another writer's change."""
    sql = sql_of(conn)
    for spec in _specs_with_link(link):
        owner = spec.owner
        owner_id = _value(kwargs, spec.owner_fk.attr, spec.owner_fk.name)
        if owner_id is None:
            continue
        if not lock_owner(sql, spec, (owner_id,)):
            raise owner_deleted(owner, owner.describe(owner_id))
        if spec.key_attr is not None:
            column, value = spec.column(spec.key_attr), kwargs.get(spec.key_attr)
        else:
            fk = spec.target_fk
            column, value = fk.column, _value(kwargs, fk.attr, fk.name)
        twins = owner_links(sql, spec, (owner_id,), column, value)
        if twins:
            raise duplicate_link(spec, owner.describe(owner_id), repr(value), twins[0][-1])


def check_no_new_links(session: Any, owner: Versioning, owner_id: Any) -> None:
    """Raise if an owner being destroyed gained links after this session read them.

    Only a session that read the owner's links (through the link views)
    based its decision on them; a link it never saw is a conflict only
    then.  Destroying an owner without looking at its links (one fresh
    session per request) is no stale write: the links are destroyed or
    kept as their foreign keys say, with their history.
    """
    sql = sql_of(session.transaction)
    for spec in owner.links.values():
        link = spec.link
        seen = session.links_seen(link, spec.owner_fk.attr, owner_id)
        if seen is None:
            continue
        for link_id, revision_id in owner_links(sql, spec, (owner_id,)):
            if link_id not in seen and not session.created_here(link, link_id):
                raise links_gained(owner, owner.describe(owner_id), link.describe(link_id),
                                   revision_id)
