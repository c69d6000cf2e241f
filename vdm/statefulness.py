"""What a Stateful object does with its ``state``, on both backends."""

from __future__ import annotations

from typing import Any, ClassVar

from vdm.naming import STATE
from vdm.states import State
from vdm.tables import versioning_record


class StatefulMethods:
    """``undelete()`` and ``is_active()`` of a Stateful class.

    Each backend's ``Stateful`` mixin inherits these and says, with
    :attr:`_vdm_active_value`, what its ORM assigns to the column.
    """

    #: What assigning "active" writes into the ``state`` attribute.
    _vdm_active_value: ClassVar[Any] = State.ACTIVE

    def undelete(self) -> None:
        """Mark this object active again."""
        setattr(self, _state_attribute(self), self._vdm_active_value)

    def is_active(self) -> bool:
        """True when the state is ``active``."""
        return bool(getattr(self, _state_attribute(self)) == State.ACTIVE)


def _state_attribute(obj: Any) -> str:
    # A class may map the state column under another attribute name.
    return str(getattr(versioning_record(obj), "state_key", STATE))
