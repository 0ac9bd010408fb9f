"""A reply's conversation moved by the terminal itself when the reply changes size,
not drawn again.

When a streaming reply outgrows the rows it holds, the conversation is laid out
and, anchored to the bottom, everything in it moves up by the rows the reply grew.
Textual then draws the whole view again, and the scrollbar's new thumb in a frame
of its own: at 200x60 about 14 ms of the UI thread and 22 KB written, a few times
a reply. The terminal can move those rows itself: with a scroll region set to the
view's rows, deleting lines at its top moves the rest up (DECSTBM and DL: every
terminal since the VT102 has them, tmux too). Then
only what is new is drawn: the rows that came in at the bottom, the scrollbar, the
reply's rows that changed, and what lies beside the view in those rows (a scroll
region spans the terminal's width: the conversations pane is drawn again). At
200x60 a growth then costs about 8.5 ms and 16 KB; at 100x30, 4 KB instead of 7.

The same when a short reply ends and gives back the rows it held (see
`ReplyText.finish`): the conversation moves down by them (lines inserted at the
view's top), and what came in at the top and the reply's footer are drawn.

It scrolls only when what the terminal moves is what Textual would draw there, and
otherwise lets Textual draw the view as usual:

- the app draws to a terminal (not headless, not inline), on the screen shown;
- nothing in the view's rows was waiting to be drawn before the layout, so the
  terminal shows there what the compositor last drew;
- the view stayed where it was, and each of its widgets moved by the same rows
  (fewer than the view has) as the reply did;
- nothing else lies over the view (a notification, a tooltip, the pane over a
  narrow chat).

The hooks are the screen's (`ChatScreen._refresh_layout` and `_compositor_refresh`):
Textual 8.2's, like `direct_paint.py`'s.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from textual._compositor import ChopsUpdate, CompositorUpdate
from textual._context import visible_screen_stack
from textual.geometry import Region
from textual.screen import Screen
from textual.scrollbar import ScrollBar, ScrollBarCorner
from textual.strip import Strip
from textual.widget import Widget

from llamatui.tui.widgets.direct_paint import draws_to_terminal

scrolled = 0
"""How many growths the terminal scrolled (for tests, benches)."""

_expected: weakref.WeakKeyDictionary[Widget, list[int]] = weakref.WeakKeyDictionary()
"""Widgets that asked for a layout to grow: the rows of theirs that changed and
are not drawn yet (content coordinates)."""


def expect_resize(widget: Widget, changed: list[int]) -> None:
    """`widget` (in an anchored scrolling view) is about to ask for a layout, to grow
    or shrink; its lines `changed` (content rows) differ from what the terminal
    shows."""
    widget.clear_cached_dimensions()
    _expected[widget] = sorted(set(changed).union(_expected.get(widget, ())))
    # A layout, and a repaint of the rows that changed only (not all of the widget):
    # drawn by the scroll's frame, or by Textual's if the terminal may not scroll.
    rows = [Region(0, y, widget.size.width, 1) for y in changed]
    widget.refresh(*rows, layout=True, repaint=bool(rows))


@dataclass
class Growth:
    """A growth about to be laid out, and what the terminal showed before it."""

    widget: Widget
    changed: list[int]
    view: Widget
    view_at: tuple[Region, Region]
    """The view's region and clip on the screen."""
    places: dict[Widget, Region]
    """Where the view's other widgets were on the screen."""
    widget_at: Region


def before_layout(screen: Screen[Any]) -> Growth | None:
    """The growth this layout makes, if the terminal may scroll for it."""
    growth = None
    for widget in list(_expected):
        changed = _expected.pop(widget)
        # (It may have gone since, with its app.)
        if widget.is_attached and screen in widget.ancestors:
            growth = _growth(screen, widget, changed)
    return growth


def _growth(screen: Screen[Any], widget: Widget, changed: list[int]) -> Growth | None:
    if not draws_to_terminal(screen):
        return None
    view = next((a for a in widget.ancestors if isinstance(a, Widget) and a.is_anchored), None)
    if view is None or view._anchor_released:
        return None
    visible = screen._compositor.visible_widgets
    if view not in visible or widget not in visible:
        return None
    view_region, view_clip = visible[view]
    if view.gutter.top or view.gutter.bottom or view.scrollbar_size_horizontal:
        return None  # rows of the view's own that would scroll with its contents
    if view_region.y < 0 or view_region.bottom > screen.size.height:
        return None
    band = _band(screen, view_region)
    # Nothing in the view's rows waits to be drawn (the widget's changed rows are
    # known: it asked for no repaint).
    if any(r.overlaps(band) for r in screen._compositor._dirty_regions):
        return None
    mine = {view, *view.ancestors}
    message = _message(widget, view)
    places = {}
    widget_at = visible[widget][0]
    for other, (region, clip) in visible.items():
        if other is widget:
            # Its rows that changed are drawn: nothing else of it may wait.
            rows = {y + widget.gutter.top for y in changed}
            if any(not rows.issuperset(r.line_range) for r in other._repaint_regions):
                return None
        # What waits to be drawn in its message under it is drawn anyway.
        below = message in other.ancestors and region.y >= widget_at.bottom
        pending = (r.translate(region.offset) for r in other._repaint_regions)
        if other is not widget and not below and any(r.overlaps(band) for r in pending):
            return None
        if isinstance(other, ScrollBar | ScrollBarCorner):
            continue  # drawn again anyway (the view's own, or its neighbours')
        if view in other.ancestors:
            places[other] = region
        elif other not in mine and region.intersection(clip).overlaps(view_region):
            return None  # over the view
    return Growth(widget, changed, view, (view_region, view_clip), places, widget_at)


def _message(widget: Widget, view: Widget) -> Widget:
    """The view's child that holds `widget` (or is it)."""
    return next(a for a in widget.ancestors_with_self if isinstance(a, Widget) and a.parent is view)


def _band(screen: Screen[Any], view: Region) -> Region:
    """The view's rows, the terminal's width across."""
    return Region(0, view.y, screen.size.width, view.height)


def scroll(screen: Screen[Any], growth: Growth) -> bool:
    """After the layout, in place of the frame: scroll the terminal and draw only
    what the scroll did not bring; False (nothing done: the frame draws it all)
    if it may not."""
    compositor = screen._compositor
    visible = compositor.visible_widgets
    view, widget = growth.view, growth.widget
    if visible.get(view) != growth.view_at or widget not in visible:
        return False
    view_region, view_clip = growth.view_at
    widget_at = visible[widget][0]
    shift = growth.widget_at.y - widget_at.y  # up; down if less than 0
    if not 0 < abs(shift) < view_region.height or widget_at.x != growth.widget_at.x:
        return False
    band = _band(screen, view_region)
    # Everything else in the view moved as the widget did (the message that holds
    # it moved and changed size: what is in it under the widget is drawn).
    message = _message(widget, view)
    full_map = compositor._full_map
    for other, was in growth.places.items():
        if other is message or message in other.ancestors:
            continue
        now = full_map.get(other)
        if now is None or now.region != was.translate((0, -shift)):
            return False
    brought = (
        Region(view_region.x, view_region.bottom - shift, view_region.width, shift)
        if shift > 0
        else Region(view_region.x, view_region.y, view_region.width, -shift)
    )
    # Nothing new over the view, or in it but where the scroll brought rows in (a
    # notice mounted under the reply, messages mounted above it).
    mine = {view, *view.ancestors}
    for other, (region, clip) in visible.items():
        shown = region.intersection(clip)
        if isinstance(other, ScrollBar | ScrollBarCorner) or not shown:
            continue
        if view in other.ancestors:
            new = other not in growth.places and message not in other.ancestors_with_self
            if new and not brought.contains_region(shown):
                return False
        elif other not in mine and shown.overlaps(view_region):
            return False
    # What the frame draws: the rows the scroll brought in (at the bottom, or the
    # top), the widget's changed rows and what is under it in its message, the
    # scrollbar, what is beside the view in its rows, and what changed outside them
    # (drawn as they are now: right wherever they lie).
    top = widget_at.y + widget.gutter.top
    message_at = full_map[message].region
    redraw = [r for r in compositor._dirty_regions if not band.contains_region(r)]
    redraw += [
        brought,
        Region(0, band.y, view_region.x, band.height),
        Region(view_region.right, band.y, band.right - view_region.right, band.height),
        Region(
            message_at.x, widget_at.bottom, message_at.width, message_at.bottom - widget_at.bottom
        ).intersection(view_clip),
    ]
    redraw += [
        Region(widget_at.x, top + row, widget_at.width, 1).intersection(view_clip)
        for row in growth.changed
    ]
    redraw += [
        region.intersection(clip)
        for other, (region, clip) in visible.items()
        if isinstance(other, ScrollBar | ScrollBarCorner) and other.parent is view
    ]
    app = screen.app
    update = _render(screen, [r for r in redraw if r])
    compositor._dirty_regions.clear()
    first, last = view_region.y + 1, view_region.bottom  # the terminal counts from 1
    # Lines deleted at the region's top move the rest up; inserted, down.
    lines = f"{shift}M" if shift > 0 else f"{-shift}L"
    moved = f"\x1b[{first};{last}r\x1b[{first};1H\x1b[{lines}\x1b[r"
    app._display(screen, _Moved(moved, update))
    screen._dirty_widgets.clear()
    if view.show_vertical_scrollbar:
        # The layout set the scrollbar's new thumb, drawn here: not again in a frame
        # of its own.
        bar = view.vertical_scrollbar
        bar._repaint_required = False
        bar._repaint_regions.clear()
    widget._repaint_regions.clear()  # its changed rows: drawn
    app._update_mouse_over(screen)
    global scrolled
    scrolled += 1
    return True


def _render(screen: Screen[Any], regions: list[Region]) -> ChopsUpdate:
    """The update that draws `regions` of the screen, each widget rendering only the
    rows it shows in them (the compositor's own partial update renders every widget
    it touches whole: here, the whole view)."""
    compositor = screen._compositor
    visible_screen_stack.set(screen.app._background_screens)
    cuts = compositor.cuts
    spans = list(compositor._regions_to_spans(regions))
    chops: list[dict[int, Strip | None]] = [{} for _ in cuts]
    empty: dict[int, list[int]] = {}
    """Each drawn row's chops not filled yet (where they start)."""
    for y, _, _ in spans:
        chops[y] = dict.fromkeys(cuts[y][:-1])
        empty[y] = cuts[y][:-1]
    # Front to back, as the compositor goes: the first strip in a chop is the one
    # shown, and a widget behind others (a container) is not drawn where they fill
    # every chop.
    for widget, (region, clip) in compositor.visible_widgets.items():
        shown = region.intersection(clip)
        x0, x1 = shown.x, shown.right
        rows = {
            y
            for r in regions
            for y in r.intersection(shown).line_range
            if bisect_left(empty[y], x1) > bisect_left(empty[y], x0)
        }
        alike = _rows_alike(widget)
        for first, count in _runs(sorted(rows)):
            # All of the widget's width in those rows: chops are whole.
            crop = Region(x0 - region.x, first - region.y, shown.width, count)
            strips = _alike_lines(widget, crop) if alike else widget.render_lines(crop)
            for y, strip in enumerate(strips, first):
                line = chops[y]
                final_cuts = [cut for cut in cuts[y] if x1 >= cut >= x0]
                pieces = strip.divide([cut - x0 for cut in final_cuts[1:]])
                for cut, piece in zip(final_cuts, pieces, strict=False):
                    if line.get(cut, False) is None:
                        line[cut] = piece
                empty[y] = [cut for cut in empty[y] if line[cut] is None]
    return ChopsUpdate(chops, spans, [cut_set[1:] for cut_set in cuts])


def _rows_alike(widget: Widget) -> bool:
    """Whether the widget's rows, but its first and last, are drawn alike: a
    container's own rows are its background, padding and side borders (its children
    are drawn apart). Beside a scrolled view a container's rows are drawn again
    (the conversations pane's, the view's padding): one of them is enough."""
    kind = type(widget)
    return (
        widget.is_container
        and kind.render is Widget.render
        and kind.render_line is Widget.render_line
        and kind.render_lines is Widget.render_lines
        and str(widget.styles.keyline[0]) == "none"  # (typed without its default)
        and not widget.border_title
        and not widget.border_subtitle
    )


def _alike_lines(widget: Widget, crop: Region) -> list[Strip]:
    """`widget.render_lines(crop)` for a widget whose rows, but its first and last,
    are alike (`_rows_alike`): one of those rendered, for all."""
    x, y, width, height = crop
    last = widget.outer_size.height - 1
    lines: list[Strip] = []
    middle: Strip | None = None
    for row in range(y, y + height):
        if row in (0, last):
            lines += widget.render_lines(Region(x, row, width, 1))
        else:
            if middle is None:
                middle = widget.render_lines(Region(x, row, width, 1))[0]
            lines.append(middle)
    return lines


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted rows as runs: (first, how many)."""
    runs: list[tuple[int, int]] = []
    for y in rows:
        if runs and runs[-1][0] + runs[-1][1] == y:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((y, 1))
    return runs


class _Moved(CompositorUpdate):
    """The terminal's scroll, then what it did not bring, written as one."""

    def __init__(self, moved: str, update: ChopsUpdate) -> None:
        self.moved = moved
        self.update = update

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Segment(self.moved)
        yield self.update

    def render_segments(self, console: Console) -> str:
        return self.moved + self.update.render_segments(console)
