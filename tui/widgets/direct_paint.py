"""Drawing a widget's changed lines straight to the terminal, between Textual's frames.

Why: a Textual frame costs the UI thread about 2.5 ms whatever changed in it
(measured: it renders every widget whose container the change touches, all of its
visible rows, and then keeps the changed ones), while a streaming reply changes a
few lines four times a second, and the status line and the meters a few cells now
and then. Drawn as frames that was about 1% of a core, taken from the model. Drawn
here, only the changed rows of the one widget are rendered (through the same
caches a frame uses) and written: a tenth of the cost.

It draws only when what it writes is what Textual's next frame would write, and
otherwise leaves the change to Textual (`refresh`):

- the app draws to a terminal (not headless, not inline), the widget is on the
  screen shown, and no batch of changes is open;
- nothing is waiting to be drawn on that screen or by the widget (no layout, scroll
  or repaint pending), so where the compositor last put the widget is where it is
  on the terminal;
- no other widget (a notification, a tooltip, a menu) lies over the rows, apart
  from the widget's own containers, which it covers.

Textual keeps no copy of what the terminal shows: a later frame over these rows
draws them again from the widget's caches, which are brought up to date here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.cells import cell_len
from rich.control import Control
from rich.segment import Segment
from textual._ansi_sequences import SYNC_END, SYNC_START
from textual._context import active_app
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

painted = 0
"""How many times lines were drawn here rather than by a frame (for tests, benches)."""

_held: list[str] | None = None
"""What paints made inside `together()` wrote, to write as one."""


@contextmanager
def together() -> Iterator[None]:
    """Write the paints made inside this block as one write, at its end: each write
    wakes Textual's writer thread (about 0.15 ms of CPU), and one update of a
    streaming reply paints the reply and the status line. Nothing else writes in
    between (the block does not wait), so nothing is drawn out of order."""
    global _held
    if _held is not None:  # already inside one
        yield
        return
    held: list[str] = []
    _held = held
    try:
        yield
    finally:
        _held = None
        if held and (driver := active_app.get()._driver) is not None:
            driver.write("".join(held))


def repaint(widget: Widget, *regions: Region) -> None:
    """Draw `regions` of `widget` (in content coordinates, as `Widget.refresh` takes
    them; none: all of it) now if that is safe, else in Textual's next frame."""
    if not _paint(widget, regions):
        widget.refresh(*regions)


def draws_to_terminal(screen: Screen[Any]) -> bool:
    """Whether what is written for `screen` now goes straight to a terminal: the app
    runs on one (not headless, not inline), no batch of changes is open, and the
    screen is the one shown."""
    app = screen.app
    if app._driver is None or app.is_headless or app.is_inline or app._batch_count:
        return False
    return app._running and not app._closed and screen is app.screen


def _paint(widget: Widget, regions: tuple[Region, ...]) -> bool:
    app = widget.app
    driver = app._driver
    if not widget.is_mounted or widget._closing:
        return False
    screen = widget.screen
    if driver is None or not draws_to_terminal(screen):
        return False
    if screen._dirty_widgets or widget._repaint_regions:
        return False
    # Nothing waits to be laid out, scrolled or repainted, from the screen down.
    for node in widget.ancestors_with_self:
        if isinstance(node, Widget) and (
            node._layout_required or node._scroll_required or node._repaint_required
        ):
            return False
    visible_widgets = screen._compositor.visible_widgets
    geometry = visible_widgets.get(widget)
    if geometry is None:
        return False
    region, clip = geometry
    visible = region.intersection(clip)
    if regions:
        offset = widget.content_offset
        targets = [r.translate(offset) for r in regions]
    else:
        targets = [region.reset_offset]
    # Where on the terminal, cut to what the widget's containers let show.
    spans = [s for t in targets if (s := t.translate(region.offset).intersection(visible))]
    mine = set(widget.ancestors_with_self)
    bounds = Region.from_union(spans) if spans else Region()
    for other, (other_region, other_clip) in visible_widgets.items():
        # (Most widgets lie nowhere near the spans: one comparison passes them over.)
        if other_region.overlaps(bounds) and other not in mine:
            shown = other_region.intersection(other_clip)
            if any(shown.overlaps(span) for span in spans):
                return False
    # The widget's caches learn what changed, as a refresh tells them; the repaint
    # a refresh asks of the screen is this one.
    widget._layout_cache.clear()
    widget._set_dirty(*regions)
    widget.clear_cached_dimensions()
    widget._rich_style_cache.clear()
    widget._repaint_regions.clear()
    if not spans:
        return True
    console = app.console
    move_to = Control.move_to
    out = [SYNC_START] if app._sync_available else []
    # One render of the rows the spans cover (each render walks the widget's styles
    # and ancestors first), then what each span shows of it.
    crops = [span.translate(-region.offset) for span in spans]
    union = Region.from_union(crops)
    lines = widget.render_lines(union)
    for span, crop in zip(spans, crops, strict=True):
        x0, x1 = crop.x - union.x, crop.right - union.x
        for y in range(crop.height):
            out.append(move_to(span.x, span.y + y).segment.text)
            out.append(lines[crop.y - union.y + y].crop(x0, x1).render(console))
    # The cursor goes back where the last frame left it (the prompt's, for IMEs).
    out.append(move_to(*app._previous_cursor_position).segment.text)
    if app._sync_available:
        out.append(SYNC_END)
    if _held is not None:
        _held.append("".join(out))
    else:
        driver.write("".join(out))
    global painted
    painted += 1
    return True


def changed_lines(
    first: int, before: list[Strip], after: list[Strip], blank: Strip
) -> tuple[list[Region], range]:
    """Where a widget's lines from row `first` on, `before` and `after` a change,
    differ (a row past the end of either is `blank`): the cells that changed (most
    updates of a reply add a few words to a line), and the rows now used, or no
    longer (a reply's bar beside them changes too)."""
    changed = []
    for i in range(max(len(before), len(after))):
        old = before[i] if i < len(before) else blank
        new = after[i] if i < len(after) else blank
        if old is not new and (span := changed_cells(old, new)):
            changed.append(Region(span[0], first + i, span[1] - span[0], 1))
    shorter, longer = sorted((len(before), len(after)))
    return changed, range(first + shorter, first + longer)


def changed_cells(old: Strip, new: Strip) -> tuple[int, int] | None:
    """The cells, [start, end), in which line `new` differs from `old`, the line it
    replaces; None if it does not. A reply's line usually gains a few words: only
    those need writing to the terminal."""
    if old.cell_length != new.cell_length:
        return 0, max(old.cell_length, new.cell_length)
    a, b = list(old), list(new)
    start = _same_cells(a, b, reverse=False)
    if start == new.cell_length:
        return None
    end = new.cell_length - _same_cells(a[::-1], b[::-1], reverse=True)
    return start, max(end, start + 1)


def _same_cells(a: list[Segment], b: list[Segment], *, reverse: bool) -> int:
    """How many cells two lines share from their start (from their end, if
    `reverse`, with the segments given last first)."""
    cells = 0
    for x, y in zip(a, b, strict=False):
        if x == y:
            cells += cell_len(x.text)
            continue
        if x.style == y.style and not x.control and not y.control:
            p, q = (x.text[::-1], y.text[::-1]) if reverse else (x.text, y.text)
            n = next((i for i, (c, d) in enumerate(zip(p, q, strict=False)) if c != d), None)
            cells += cell_len(p[: min(len(p), len(q)) if n is None else n])
        break
    return cells
