"""List and dict semantics of the stateful views, without a database."""

import pytest

from vdm.collections import KeyedLinkAdapter, LinkAdapter, StatefulDict, StatefulList


class Link:
    def __init__(self, item, key=None, new=True):
        self.item, self.key, self.state, self.new = item, key, "active", new

    def __repr__(self):
        return f"Link({self.item!r}, {self.state})"


class Adapter(KeyedLinkAdapter):
    def __init__(self):
        self.discarded = []

    def target(self, link):
        return link.item

    def is_active(self, link):
        return link.state == "active"

    def create(self, item):
        return Link(item)

    def create_keyed(self, key, value):
        return Link(value, key=key)

    def set_active(self, link, active):
        link.state = "active" if active else "deleted"

    def is_new(self, link):
        return link.new

    def discard(self, link):
        self.discarded.append(link)

    def key_of(self, link):
        return link.key

    def set_value(self, link, value):
        link.item = value


def written(*items):
    """A backing list of links that were already written (not new)."""
    return [Link(i, new=False) for i in items]


def view(links):
    return StatefulList(links, Adapter())


def test_only_active_items_are_visible_and_indexing_matches_iteration():
    links = written("a", "b", "c")
    links[1].state = "deleted"
    tags = view(links)
    assert list(tags) == ["a", "c"] == [tags[0], tags[1]]
    assert len(tags) == 2 and tags[-1] == "c" and tags[0:5] == ["a", "c"]
    assert "b" not in tags and "c" in tags
    assert tags.index("c") == 1 and tags.count("a") == 1 and tags.count("b") == 0


def test_readding_a_deleted_item_undeletes_its_link():
    links = written("a", "b")
    tags = view(links)
    tags.remove("a")
    assert links[0].state == "deleted" and list(tags) == ["b"]
    tags.append("a")
    assert len(links) == 2 and links[-1].state == "active" and list(tags) == ["b", "a"]


def test_readding_an_active_item_is_a_no_op():
    links = written("a")
    tags = view(links)
    tags.append("a")
    tags.extend(["a", "a"])
    assert len(links) == 1 and list(tags) == ["a"]


def test_add_then_remove_before_writing_leaves_nothing():
    adapter = Adapter()
    links = written("a")
    tags = StatefulList(links, adapter)
    tags.append("new")
    tags.remove("new")
    assert [link.item for link in links] == ["a"] and len(adapter.discarded) == 1


def test_insert_places_before_an_active_position_and_past_the_end_appends():
    links = written("a", "b")
    links.insert(1, Link("gone", new=False))
    links[1].state = "deleted"
    tags = view(links)
    tags.insert(1, "x")
    assert list(tags) == ["a", "x", "b"]
    tags.insert(99, "y")
    assert list(tags) == ["a", "x", "b", "y"]
    tags.insert(-1, "z")
    assert list(tags) == ["a", "x", "b", "z", "y"]
    tags.insert(0, "gone")
    assert list(tags) == ["gone", "a", "x", "b", "z", "y"]
    assert sum(1 for link in links if link.item == "gone") == 1


def test_del_pop_clear_and_remove_mark_links_deleted():
    links = written("a", "b", "c", "d")
    tags = view(links)
    del tags[0]
    assert tags.pop() == "d"
    assert list(tags) == ["b", "c"]
    with pytest.raises(ValueError, match="'zz' is not in the list"):
        tags.remove("zz")
    tags.clear()
    assert list(tags) == [] and [link.state for link in links] == ["deleted"] * 4


def test_slice_and_extended_slice_assignment():
    links = written("a", "b", "c", "d")
    tags = view(links)
    tags[1:3] = ["x", "b"]
    assert list(tags) == ["a", "x", "b", "d"]
    assert [link.state for link in links if link.item == "c"] == ["deleted"]
    tags[::2] = ["p", "q"]
    assert list(tags) == ["p", "x", "q", "d"]
    with pytest.raises(ValueError, match="extended slice of size 2"):
        tags[::2] = ["only one"]
    tags[0] = "a"
    assert list(tags) == ["a", "x", "q", "d"]
    assert sum(1 for link in links if link.item == "a") == 1


def test_reverse_and_replace_keep_one_link_per_item():
    links = written("a", "b", "c")
    tags = view(links)
    tags.reverse()
    assert list(tags) == ["c", "b", "a"] and len(links) == 3
    tags.replace(["a", "a", "d"])
    assert list(tags) == ["a", "d"] and len(links) == 4


def test_replacing_with_the_same_list_changes_nothing():
    links = written("a", "b")
    before = [(link.item, link.state) for link in links]
    view(links).replace(["a", "b"])
    assert [(link.item, link.state) for link in links] == before


def test_dict_view_behaves_like_a_dict_over_active_keyed_links():
    links = [Link("v1", key="k1", new=False), Link("v2", key="k2", new=False)]
    extras = StatefulDict(links, Adapter())
    assert dict(extras) == {"k1": "v1", "k2": "v2"} and len(extras) == 2
    assert extras.get("k1") == "v1" and extras.get("zz", "dflt") == "dflt"
    del extras["k1"]
    assert "k1" not in extras and links[0].state == "deleted"
    extras["k1"] = "again"
    assert len(links) == 2 and links[0].state == "active" and extras["k1"] == "again"
    assert extras.setdefault("k3", "v3") == "v3" and extras.setdefault("k3", "other") == "v3"
    extras.update({"k2": "changed"}, k4="v4")
    assert sorted(extras.items()) == [("k1", "again"), ("k2", "changed"), ("k3", "v3"), ("k4", "v4")]
    assert extras.pop("k4") == "v4" and extras.pop("k4", None) is None
    assert list(extras.keys()) == ["k1", "k2", "k3"] and list(extras.values()) == ["again", "changed", "v3"]
    with pytest.raises(KeyError):
        extras["k4"]
    extras.clear()
    assert dict(extras) == {} and all(link.state == "deleted" for link in links if not link.new)


def test_dict_replace_leaves_unchanged_keys_alone():
    links = [Link("v1", key="k1", new=False)]
    extras = StatefulDict(links, Adapter())
    extras.replace({"k1": "v1", "k2": "v2"})
    assert links[0].item == "v1" and links[0].state == "active" and extras == {"k1": "v1", "k2": "v2"}


def test_the_base_adapter_says_what_a_backend_must_provide():
    with pytest.raises(NotImplementedError):
        LinkAdapter().target(None)
