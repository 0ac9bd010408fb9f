"""A widget whose change of size costs one layout of the screen, not two."""

from __future__ import annotations

from textual.geometry import Size
from textual.widget import Widget


class SingleLayout(Widget):
    """Mixin for the widgets of the conversation, which change size while a reply
    streams. Name it after the Textual class it goes with (`class
    ConversationView(VerticalScroll, SingleLayout)`): Textual takes CSS only from
    the first base.

    In a layout Textual sets each resized widget's `virtual_size`, a reactive that
    asks for a layout: so every layout in which a widget changes size is followed
    by a second one, right after, that finds nothing to move (the first has placed
    everything and scrolled an anchored view). A scrollbar that appears or goes
    asks for its own layout. Setting the size without the reactive's layout halves
    what a growing reply costs the UI thread (see docs/performance.md).

    It also forgets the repaint Textual asks of a resized widget, which that same
    layout does.
    """

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        resized = self._size != size
        updated = super()._size_updated(size, virtual_size, container_size, layout=False)
        if resized:
            # Textual marks all of a resized widget for repainting, but the layout
            # under way repaints it anyway, and leaves the mark behind: the widget's
            # next change would repaint all of it again (a whole screen of bytes),
            # and could not be drawn straight to the terminal (direct_paint.py).
            self._repaint_regions.clear()
        return updated
