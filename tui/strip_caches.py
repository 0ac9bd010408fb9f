"""Textual's lines (`Strip`) make their caches when first used, not when made.

Every `Strip` that Textual 8.2 makes builds seven small caches up front (for its
crops, divisions, styles...), and a frame makes thousands of strips that are used
once: a widget's line is padded, divided at the edges of the widgets beside it,
joined and styled, each step a new strip. Measured on a 200x60 chat, making those
caches was a third of a frame drawn afresh (after a layout): 15 ms, 8.4 ms without.
Textual's own `Content` already makes its cache on first use; `install()` does the
same for `Strip`. A strip behaves as before: a cache it uses is made then, at the
size Textual gives it.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.segment import Segment
from textual.cache import FIFOCache
from textual.strip import Strip

CACHE_SIZES = {
    "_divide_cache": 4,
    "_crop_cache": 16,
    "_style_cache": 16,
    "_filter_cache": 4,
    "_line_length_cache": 4,
    "_crop_extend_cache": 4,
    "_offsets_cache": 4,
}
"""Each cache a strip keeps (a slot of `Strip`), and its size in Textual 8.2."""

PLAIN_SLOTS = ("_segments", "_cell_length", "_render_cache", "_link_ids", "_cell_count")
"""The slots that are not caches, set when a strip is made."""


def _init(self: Strip, segments: Iterable[Segment], cell_length: int | None = None) -> None:
    self._segments = list(segments)
    self._cell_length = cell_length
    self._render_cache = None
    self._link_ids = None
    self._cell_count = None


def _make_cache(self: Strip, name: str) -> FIFOCache[object, object]:
    # Python asks this only for an attribute not set: a cache not yet made.
    size = CACHE_SIZES.get(name)
    if size is None:
        raise AttributeError(f"'Strip' object has no attribute {name!r}")
    cache: FIFOCache[object, object] = FIFOCache(size)
    setattr(self, name, cache)
    return cache


def install() -> None:
    """Make every strip from now on make its caches on first use.

    Only for the `Strip` this was written for: if Textual's strips keep other
    slots, they are left as they are.
    """
    if set(Strip.__slots__) != {*CACHE_SIZES, *PLAIN_SLOTS}:
        return
    Strip.__init__ = _init  # type: ignore[method-assign]
    Strip.__getattr__ = _make_cache  # type: ignore[attr-defined]
