"""Word-level differences between two texts, for side-by-side display.

Each side comes back as a list of :class:`Segment` (a piece of text and
whether it differs from the other side), so a page can mark removed words
on the left and added words on the right::

    >>> old, new = word_diff("War and Peacee", "War and Peace")
    >>> [(s.text, s.changed) for s in old]
    [('War and ', False), ('Peacee', True)]
    >>> [(s.text, s.changed) for s in new]
    [('War and ', False), ('Peace', True)]

Words are runs of letters and digits; spaces and punctuation are tokens of
their own, so a changed comma does not mark its whole sentence.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Segment:
    """A run of text on one side of a diff; ``changed`` if the other side lacks it."""

    text: str
    changed: bool

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {"text": self.text, "changed": self.changed}


def tokens(text: str) -> list[str]:
    """``text`` cut into words, runs of white space and single other characters."""
    return _TOKEN.findall(text)


def word_diff(old: str, new: str) -> tuple[list[Segment], list[Segment]]:
    """The segments of ``old`` and of ``new``, the words that differ marked changed."""
    a, b = tokens(old), tokens(new)
    left: list[Segment] = []
    right: list[Segment] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        changed = op != "equal"
        _append(left, "".join(a[i1:i2]), changed)
        _append(right, "".join(b[j1:j2]), changed)
    return left, right


def _append(segments: list[Segment], text: str, changed: bool) -> None:
    # Neighbouring runs of the same kind merge, so the page gets few spans.
    if not text:
        return
    if segments and segments[-1].changed == changed:
        segments[-1] = Segment(segments[-1].text + text, changed)
    else:
        segments.append(Segment(text, changed))
