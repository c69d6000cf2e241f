"""Installing versioned link views on an owner class (both backends).

A backend knows how to read an owner's link rows (``all_links``) and how
to change them (a :class:`~vdm.collections.LinkAdapter`); what the owner
then gets is the same everywhere: ``tags`` (a
:class:`~vdm.collections.StatefulList`; assigning a list replaces it),
``tags_active`` and ``tags_deleted`` (link objects), or a keyed map.  The
checks of a link declaration are shared too, so both backends refuse the
same mistakes with the same words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vdm.collections import (
    KeyedLinkAdapter,
    LinkAdapter,
    LinkList,
    LinkObjects,
    StatefulDict,
    StatefulList,
)
from vdm.errors import ConfigurationError
from vdm.naming import STATE
from vdm.states import State


def check_link_classes(owner_cls: type, owner: Any, link_cls: type, link: Any) -> None:
    """Refuse an owner or link class that is not versioned, or a link that is not stateful.

    ``owner`` and ``link`` are the classes' versioning (None if not versioned);
    the link's must have a ``stateful`` flag.
    """
    for cls, v, role in ((owner_cls, owner, "owner"), (link_cls, link, "link")):
        if v is None:
            raise ConfigurationError(
                f"{cls.__name__} is not versioned; the {role} of a versioned "
                f"link must use the Revisioned mixin", cls=cls,
            )
    if not link.stateful:
        raise ConfigurationError(
            f"{link_cls.__name__} is not stateful; a link class needs the Stateful "
            f"mixin so that removing a link marks it deleted", cls=link_cls,
        )


def check_link_names_free(owner_cls: type, owner_links: Any, attr_name: str) -> None:
    """Refuse a versioned link collection whose names the owner already defines.

    The collection takes ``attr_name``, ``<attr_name>_active`` and
    ``<attr_name>_deleted``; none may be a link collection of the owner
    already (``owner_links``) or any attribute of the owner class (a
    column, a relationship, a method, its own or inherited), which it would
    silently replace.
    """
    taken = [name for name in (attr_name, f"{attr_name}_active", f"{attr_name}_deleted")
             if name in owner_links or hasattr(owner_cls, name)]
    if taken:
        raise ConfigurationError(
            f"{owner_cls.__name__}.{taken[0]} is already defined; choose another "
            f"name for the versioned link collection", cls=owner_cls, field=taken[0],
        )


def install_list_views(
    owner_cls: type, attr_name: str, other_attr_name: str, link_cls: type,
    all_links: Callable[[Any], list[Any]], adapter: Callable[[Any], LinkAdapter[Any, Any]],
) -> None:
    """Give ``owner_cls`` ``attr_name``, ``<attr_name>_active`` and ``<attr_name>_deleted``."""

    def view(self: Any) -> StatefulList[Any]:
        return StatefulList(all_links(self), adapter(self))

    def assign(self: Any, items: Any) -> None:
        view(self).replace(list(items))

    def links_in(state: State) -> Any:
        active = state == State.ACTIVE

        def read(self: Any) -> LinkList:
            return LinkList(all_links(self), LinkObjects(adapter(self), active))

        def write(self: Any, links: Any) -> None:
            read(self).replace(list(links))

        return property(read, write, doc=(
            f"The {state.value} {link_cls.__name__} links (a live view: removing a "
            f"link {'deletes' if active else 'undeletes'} it, appending one makes it "
            f"{state.value})."))

    setattr(owner_cls, attr_name, property(
        view, assign, doc=f"Active {other_attr_name} items via {link_cls.__name__} links."))
    setattr(owner_cls, f"{attr_name}_active", links_in(State.ACTIVE))
    setattr(owner_cls, f"{attr_name}_deleted", links_in(State.DELETED))


def install_dict_view(
    owner_cls: type, attr_name: str, link_cls: type,
    all_links: Callable[[Any], list[Any]], adapter: Callable[[Any], KeyedLinkAdapter],
    view_cls: Callable[[list[Any], Any], StatefulDict] = StatefulDict,
) -> None:
    """Give ``owner_cls`` a map ``attr_name`` (``view_cls``); assigning a dict replaces it."""

    def view(self: Any) -> StatefulDict:
        return view_cls(all_links(self), adapter(self))

    def assign(self: Any, mapping: Any) -> None:
        view(self).replace(dict(mapping))

    setattr(owner_cls, attr_name, property(
        view, assign, doc=f"Versioned map of {link_cls.__name__} rows."))


class AttributeLinks(LinkAdapter[Any, Any]):
    """A :class:`~vdm.collections.LinkAdapter` over link objects' attributes.

    The target is the link attribute ``other_attr``, the state is ``state``,
    and with ``position_attr`` the active links' order is written to that
    attribute (only where it changed).  Backends add how links are created
    and forgotten.
    """

    def __init__(self, other_attr: str, position_attr: str | None = None) -> None:
        self.other_attr = other_attr
        self.position_attr = position_attr

    def target(self, link: Any) -> Any:
        return getattr(link, self.other_attr)

    def is_active(self, link: Any) -> bool:
        return bool(getattr(link, STATE) == State.ACTIVE)

    def set_active(self, link: Any, active: bool) -> None:
        setattr(link, STATE, (State.ACTIVE if active else State.DELETED).value)

    def moved(self, links: list[Any]) -> None:
        if self.position_attr is None:
            return
        active = [link for link in links if self.is_active(link)]
        for index, link in enumerate(active):
            if getattr(link, self.position_attr) != index:
                setattr(link, self.position_attr, index)
