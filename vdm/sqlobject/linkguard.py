"""Concurrent link edits become :class:`vdm.ConflictError` (SQLObject).

The checks lock the rows they read (``FOR UPDATE``: the owner first, so
writers linking to one owner take turns), and locking reads see the latest
committed data on every database.  Two checks remain that the
stale-write check of an object cannot make, because a new link row was
never read:

* a new link's owner still exists, and has no link to the same target (or,
  in a map, no row for the same key) that another writer added meanwhile;
* an owner being destroyed has gained no link rows since this session read
  its links (a session that never read them decided without them).
"""

from __future__ import annotations

from typing import Any

from vdm.errors import ConflictError
from vdm.naming import REVISION_ID
from vdm.sqlobject.dialect import for_update, literal
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
    for spec in _specs_with_link(link):
        owner = spec.owner
        owner_id = _value(kwargs, spec.owner_fk.attr, spec.owner_fk.name)
        if owner_id is None:
            continue
        found = conn.queryOne(
            f"SELECT {owner.id_name} FROM {owner.table} WHERE {owner.id_name} = "
            f"{literal(conn, owner_id)}{for_update(conn)}"
        )
        if found is None:
            raise ConflictError(
                f"{owner.describe(owner_id)} was deleted by another transaction "
                f"after this session read it; reload your data and decide again",
                cls=owner.cls,
            )
        if spec.key_attr is not None:
            column, value = spec.column(spec.key_attr), kwargs.get(spec.key_attr)
        else:
            fk = spec.target_fk
            column, value = fk.column, _value(kwargs, fk.attr, fk.name)
        twin = conn.queryOne(
            f"SELECT {link.id_name}, {REVISION_ID} FROM {link.table} WHERE "
            f"{spec.owner_fk.column} = {literal(conn, owner_id)} AND "
            f"{column} = {literal(conn, value)}{for_update(conn)}"
        )
        if twin is not None:
            raise ConflictError(
                f"{owner.describe(owner_id)} already has a {link.name} for "
                f"{value!r} (written by revision {twin[1]}); reload "
                f"{owner.name}.{spec.attr_name} and apply your change again",
                cls=link.cls, revision=twin[1],
            )


def check_no_new_links(session: Any, owner: Versioning, owner_id: Any) -> None:
    """Raise if an owner being destroyed gained links after this session read them.

    Only a session that read the owner's links (through the link views)
    based its decision on them; a link it never saw is a conflict only
    then.  Destroying an owner without looking at its links (one fresh
    session per request) is no stale write: the links are destroyed or
    kept as their foreign keys say, with their history.
    """
    conn = session.transaction
    for spec in owner.links.values():
        link = spec.link
        seen = session.links_seen(link, spec.owner_fk.attr, owner_id)
        if seen is None:
            continue
        rows = conn.queryAll(
            f"SELECT {link.id_name}, {REVISION_ID} FROM {link.table} WHERE "
            f"{spec.owner_fk.column} = {literal(conn, owner_id)}{for_update(conn)}"
        )
        for link_id, revision_id in rows:
            if link_id not in seen and not session.created_here(link, link_id):
                raise ConflictError(
                    f"{owner.describe(owner_id)} gained {link.describe(link_id)} in "
                    f"revision {revision_id} after this session read it; reload it "
                    f"and decide again",
                    cls=owner.cls, revision=revision_id,
                )
