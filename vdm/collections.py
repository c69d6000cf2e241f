"""Stateful collections: list and dict views over stateful link objects.

A versioned many-to-many is a list of *link* objects, each with a state.
:class:`StatefulList` shows only the targets of active links and turns list
operations into state changes: removing an item marks its link deleted,
re-adding it undeletes that same link (never a duplicate), and an item added
and removed before it was ever written simply disappears.
:class:`StatefulDict` does the same for keyed links (a versioned key/value
map).  Both work on any backend through a :class:`LinkAdapter`::

    >>> class Link:
    ...     def __init__(self, item): self.item, self.state = item, "active"
    >>> class Adapter(LinkAdapter):
    ...     def target(self, link): return link.item
    ...     def is_active(self, link): return link.state == "active"
    ...     def create(self, item): return Link(item)
    ...     def set_active(self, link, active):
    ...         link.state = "active" if active else "deleted"
    >>> links = []
    >>> tags = StatefulList(links, Adapter())
    >>> tags.extend(["a", "b"]); tags.remove("a"); tags.append("a")
    >>> list(tags), len(links)
    (['b', 'a'], 2)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping, MutableSequence
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")
L = TypeVar("L")


class LinkAdapter(Generic[L, T]):
    """How a view reads and changes link objects of one kind.

    Backends subclass it; the defaults suit links that are never pending.
    """

    def target(self, link: L) -> T:
        """The item a link points to (a tag; for dicts, the value)."""
        raise NotImplementedError

    def is_active(self, link: L) -> bool:
        """True when the link's state is active."""
        raise NotImplementedError

    def create(self, item: T) -> L:
        """A new, active link to ``item``."""
        raise NotImplementedError

    def set_active(self, link: L, active: bool) -> None:
        """Mark ``link`` active (undelete) or deleted."""
        raise NotImplementedError

    def is_new(self, link: L) -> bool:
        """True when ``link`` was never written, so it can simply vanish."""
        return False

    def discard(self, link: L) -> None:
        """Forget a link that was never written (after it left the list)."""

    def moved(self, links: list[L]) -> None:
        """The order of ``links`` changed (e.g. renumber a position column)."""

    def same(self, a: T, b: T) -> bool:
        """Whether two items are the same (identity for ORM objects)."""
        return a is b or a == b


class StatefulList(MutableSequence[T]):
    """The targets of the active links in ``links``, as a list.

    ``links`` is the backing list of every link (active and deleted); it is
    changed in place.  Indexes count active links only.
    """

    def __init__(self, links: list[L], adapter: LinkAdapter[L, T]) -> None:
        self._links: list[Any] = links
        self._adapter: LinkAdapter[Any, T] = adapter

    # -- reading --------------------------------------------------------

    def _active(self) -> list[Any]:
        return [link for link in self._links if self._adapter.is_active(link)]

    def __len__(self) -> int:
        return len(self._active())

    def __iter__(self) -> Iterator[T]:
        return (self._adapter.target(link) for link in self._active())

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        targets = [self._adapter.target(link) for link in self._active()]
        return targets[index]

    def __contains__(self, item: object) -> bool:
        return self._find_active(item) is not None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StatefulList | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"

    def count(self, item: Any) -> int:
        """1 if ``item`` is in the list, else 0 (an item appears at most once)."""
        return 1 if item in self else 0

    def index(self, item: Any, start: int = 0, stop: int | None = None) -> int:
        """Position of ``item`` among the active items."""
        for i, target in enumerate(self):
            if self._adapter.same(target, item) and i >= start and (stop is None or i < stop):
                return i
        raise ValueError(f"{item!r} is not in the list")

    def _find(self, item: Any) -> Any:
        for link in self._links:
            if self._adapter.same(self._adapter.target(link), item):
                return link
        return None

    def _find_active(self, item: Any) -> Any:
        link = self._find(item)
        return link if link is not None and self._adapter.is_active(link) else None

    # -- writing --------------------------------------------------------

    def _unlink(self, link: Any) -> None:
        if self._adapter.is_new(link):
            self._links.remove(link)
            self._adapter.discard(link)
        else:
            self._adapter.set_active(link, False)

    def _link(self, item: Any, before: Any = None) -> None:
        """Make ``item`` active, placed before active link ``before`` (or last)."""
        link = self._find(item)
        if link is not None and self._adapter.is_active(link) and before is None:
            return
        if link is None:
            link = self._adapter.create(item)
        else:
            self._adapter.set_active(link, True)
            self._links.remove(link)
        if before is None:
            self._links.append(link)
        else:
            self._links.insert(self._links.index(before), link)
        self._adapter.moved(self._links)

    def insert(self, index: int, item: T) -> None:
        """Insert ``item`` before active position ``index`` (past the end appends)."""
        active = self._active()
        if index < 0:
            index = max(0, len(active) + index)
        existing = self._find_active(item)
        if existing is not None:
            if index < len(active) and active[index] is existing:
                return
            active.remove(existing)
        before = active[index] if index < len(active) else None
        self._link(item, before)

    def append(self, item: T) -> None:
        """Add ``item`` at the end; an item already present stays where it is."""
        if self._find_active(item) is None:
            self._link(item)

    def extend(self, items: Iterable[T]) -> None:
        """Append each item."""
        for item in list(items):
            self.append(item)

    def remove(self, item: T) -> None:
        """Mark ``item``'s link deleted."""
        link = self._find_active(item)
        if link is None:
            raise ValueError(f"{item!r} is not in the list")
        self._unlink(link)

    def pop(self, index: int = -1) -> T:
        """Remove and return the item at ``index``."""
        active = self._active()
        link = active[index]
        self._unlink(link)
        return self._adapter.target(link)

    def clear(self) -> None:
        """Mark every link deleted."""
        for link in self._active():
            self._unlink(link)

    @overload
    def __setitem__(self, index: int, value: T) -> None: ...

    @overload
    def __setitem__(self, index: slice, value: Iterable[T]) -> None: ...

    def __setitem__(self, index: int | slice, value: Any) -> None:
        current = list(self)
        if isinstance(index, slice):
            new_items = list(value)
            if index.step not in (None, 1):
                positions = range(len(current))[index]
                if len(positions) != len(new_items):
                    raise ValueError(
                        f"attempt to assign sequence of size {len(new_items)} "
                        f"to extended slice of size {len(positions)}"
                    )
            current[index] = new_items
        else:
            current[index] = value
        self.replace(current)

    @overload
    def __delitem__(self, index: int) -> None: ...

    @overload
    def __delitem__(self, index: slice) -> None: ...

    def __delitem__(self, index: int | slice) -> None:
        active = self._active()
        doomed = active[index] if isinstance(index, slice) else [active[index]]
        for link in doomed:
            self._unlink(link)

    def reverse(self) -> None:
        """Reverse the order of the active items."""
        self.replace(list(reversed(list(self))))

    def replace(self, items: Iterable[T]) -> None:
        """Make the list equal ``items``: a no-op when it already is.

        Items that leave have their links deleted, items that come back
        have theirs undeleted, and the order follows ``items``.
        """
        wanted: list[Any] = []
        for item in items:
            if not any(self._adapter.same(item, w) for w in wanted):
                wanted.append(item)
        if len(wanted) == len(self) and all(
            self._adapter.same(a, b) for a, b in zip(self, wanted, strict=True)
        ):
            return
        for link in self._active():
            target = self._adapter.target(link)
            if not any(self._adapter.same(target, w) for w in wanted):
                self._unlink(link)
        for item in wanted:
            link = self._find(item)
            if link is None:
                link = self._adapter.create(item)
            elif not self._adapter.is_active(link):
                self._adapter.set_active(link, True)
            if link in self._links:
                self._links.remove(link)
            self._links.append(link)
        self._adapter.moved(self._links)


class LinkObjects(LinkAdapter[Any, Any]):
    """An adapter whose items are the link objects themselves.

    It makes the ``<name>_active`` (``active=True``) and ``<name>_deleted``
    (``active=False``) views of a link collection live: an item is "in" the
    view when its state is the view's, so removing a link from the active
    view deletes it, removing one from the deleted view undeletes it, and
    appending a link to either gives it that view's state.  Two links to
    the same target count as the same item (re-adding reuses the old link).
    """

    def __init__(self, links: LinkAdapter[Any, Any], active: bool) -> None:
        self.links = links
        self.active = active

    def target(self, link: Any) -> Any:
        return link

    def is_active(self, link: Any) -> bool:
        return self.links.is_active(link) == self.active

    def create(self, item: Any) -> Any:
        self.links.set_active(item, self.active)
        return item

    def set_active(self, link: Any, active: bool) -> None:
        self.links.set_active(link, active == self.active)

    def is_new(self, link: Any) -> bool:
        # Only a new link leaving the active view may vanish; one leaving
        # the deleted view becomes active.
        return self.active and self.links.is_new(link)

    def discard(self, link: Any) -> None:
        self.links.discard(link)

    def moved(self, links: list[Any]) -> None:
        self.links.moved(links)

    def same(self, a: Any, b: Any) -> bool:
        return a is b or self.links.same(self.links.target(a), self.links.target(b))


class LinkList(StatefulList[Any]):
    """A live view of the active (or deleted) link objects of a collection.

        >>> class Link:
        ...     def __init__(self, item): self.item, self.state = item, "active"
        >>> class Adapter(LinkAdapter):
        ...     def target(self, link): return link.item
        ...     def is_active(self, link): return link.state == "active"
        ...     def set_active(self, link, active):
        ...         link.state = "active" if active else "deleted"
        >>> links = [Link("a"), Link("b")]
        >>> active = LinkList(links, LinkObjects(Adapter(), active=True))
        >>> deleted = LinkList(links, LinkObjects(Adapter(), active=False))
        >>> del active[0]
        >>> [link.item for link in active], [link.item for link in deleted]
        (['b'], ['a'])
        >>> deleted.remove(deleted[0])      # undelete
        >>> sorted(link.item for link in active)
        ['a', 'b']
    """

    def __init__(self, links: list[Any], adapter: LinkObjects) -> None:
        super().__init__(links, adapter)
        self._links_adapter = adapter

    def append(self, item: Any) -> None:
        """Add link ``item`` at the end (a new link already in the collection moves there)."""
        base = self._links_adapter.links
        if item in self._links and base.is_new(item) and self._adapter.is_active(item):
            # SQLObject rows exist from their creation, so a new link is
            # already in its owner's collection, not yet in order.
            self._links.remove(item)
            self._links.append(item)
            self._adapter.moved(self._links)
            return
        super().append(item)

    def _link(self, item: Any, before: Any = None) -> None:
        # A new link to a target the collection already links reuses the
        # existing link (undeleting it) instead of adding a duplicate.
        existing = self._find(item)
        base = self._links_adapter.links
        if existing is not None and existing is not item and base.is_new(item):
            if item in self._links:
                self._links.remove(item)
            base.discard(item)
            item = existing
        super()._link(item, before)


class StatefulDict(MutableMapping[Any, Any]):
    """A key/value map over keyed links: ``{key: value}`` of the active ones.

    ``adapter.target(link)`` gives the value; ``key_of`` and ``set_value``
    (on the adapter) read the key and change the value of a link.
    """

    def __init__(self, links: list[Any], adapter: KeyedLinkAdapter) -> None:
        self._links = links
        self._adapter = adapter

    def _find(self, key: Any) -> Any:
        for link in self._links:
            if self._adapter.key_of(link) == key:
                return link
        return None

    def __getitem__(self, key: Any) -> Any:
        link = self._find(key)
        if link is None or not self._adapter.is_active(link):
            raise KeyError(key)
        return self._adapter.target(link)

    def __setitem__(self, key: Any, value: Any) -> None:
        link = self._find(key)
        if link is None:
            self._links.append(self._adapter.create_keyed(key, value))
            return
        if not self._adapter.is_active(link):
            self._adapter.set_active(link, True)
        if self._adapter.target(link) != value:
            self._adapter.set_value(link, value)

    def __delitem__(self, key: Any) -> None:
        link = self._find(key)
        if link is None or not self._adapter.is_active(link):
            raise KeyError(key)
        if self._adapter.is_new(link):
            self._links.remove(link)
            self._adapter.discard(link)
        else:
            self._adapter.set_active(link, False)

    def __iter__(self) -> Iterator[Any]:
        return (self._adapter.key_of(link) for link in self._links
                if self._adapter.is_active(link))

    def __len__(self) -> int:
        return sum(1 for link in self._links if self._adapter.is_active(link))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MutableMapping | dict):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.items())!r})"

    def replace(self, mapping: dict[Any, Any]) -> None:
        """Make the map equal ``mapping``; unchanged keys write nothing."""
        for key in [k for k in self if k not in mapping]:
            del self[key]
        for key, value in mapping.items():
            self[key] = value


class KeyedLinkAdapter(LinkAdapter[Any, Any]):
    """A :class:`LinkAdapter` for keyed links (a versioned key/value map)."""

    def key_of(self, link: Any) -> Any:
        """The key of a link."""
        raise NotImplementedError

    def set_value(self, link: Any, value: Any) -> None:
        """Change the value of a link (a versioned change)."""
        raise NotImplementedError

    def create_keyed(self, key: Any, value: Any) -> Any:
        """A new, active link for ``key`` with ``value``."""
        raise NotImplementedError
