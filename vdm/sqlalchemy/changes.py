"""Pending changes of an object in the current transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import object_session

from vdm.errors import NotVersionedError
from vdm.sqlalchemy.mapping import versioning_of


def changeset(obj: Any) -> dict[str, list[Any]]:
    """``{field: [new, old]}`` for the fields of ``obj`` changed but not flushed.

    The order ``[new, old]`` is SQLAlchemy-Continuum's.  A new object lists
    every field that has a value (``[value, None]``); an object marked for
    deletion lists every field as ``[None, value]``.
    """
    versioning = versioning_of(obj)
    if versioning is None:
        raise NotVersionedError.of(obj)
    state = inspect(obj)
    session = object_session(obj)
    result: dict[str, list[Any]] = {}
    if session is not None and obj in session.deleted:
        for field in versioning.fields:
            if field not in state.dict and field in state.expired_attributes:
                # Expired by the last commit: read the values it is deleting.
                with session.no_autoflush:
                    getattr(obj, field)
            value = state.dict.get(field)
            if value is not None:
                result[field] = [None, value]
        return result
    for field in versioning.fields:
        if field not in state.attrs:
            continue
        history = state.attrs[field].history
        if history.has_changes():
            new = history.added[0] if history.added else None
            old = history.deleted[0] if history.deleted else None
            result[field] = [new, old]
    return result
