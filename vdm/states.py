"""The states of a stateful object: ``active``, ``deleted`` and ``pending``."""

from __future__ import annotations

from enum import StrEnum

from vdm.errors import InvalidInputError


class State(StrEnum):
    """The state of a stateful object or link.

    A ``str`` subclass, so ``State.ACTIVE == "active"`` and the value is what
    the ``state`` column stores.
    """

    ACTIVE = "active"
    DELETED = "deleted"
    PENDING = "pending"

    @classmethod
    def coerce(cls, value: object) -> State:
        """Return the :class:`State` for ``value`` (a State or its text).

        Raises :class:`ValueError` naming the allowed values otherwise.
        """
        if isinstance(value, State):
            return value
        try:
            return cls(str(value))
        except ValueError:
            allowed = ", ".join(repr(s.value) for s in cls)
            raise InvalidInputError(
                f"{value!r} is not a vdm state; use one of {allowed}"
            ) from None
