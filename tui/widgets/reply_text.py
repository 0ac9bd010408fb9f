"""A reply's Markdown as one widget of lines, cheap to draw while it streams.

While a reply streams, each update must cost the model nothing (llama.cpp's
threads want every core): no layout, no new widgets, nothing redrawn that did not
change. So:

- finished Markdown blocks are drawn once, into lines kept at the widget's width;
  only the open block at the end (the tail) is drawn again on each update;
- the widget holds rows ahead of its text, so most updates repaint just the
  changed lines; only when the text outgrows them does it grow, by a step, in
  one layout;
- when the reply ends, its lines are already those of the whole reply drawn at
  once (as it is when the conversation is opened again). If it ended near the
  end of its held rows, it keeps them, and draws its footer under its text, until
  the conversation is next laid out (the next message): giving them back would be
  a layout and a whole view drawn again, and would move the text being read down
  the screen. Otherwise they go at once: half a screen of blank rows would leave
  the conversation above an empty space.
"""

from __future__ import annotations

from collections.abc import Callable

from markdown_it.token import Token
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from llamatui.tui.widgets.direct_paint import changed_lines, repaint
from llamatui.tui.widgets.markdown_blocks import (
    LINK_DEFINITION,
    finished_items,
    first_block_end,
    split_finished,
)
from llamatui.tui.widgets.markdown_lines import PARSER, MarkdownLook
from llamatui.tui.widgets.markdown_table import TableSizes
from llamatui.tui.widgets.reply_tail import LastTail
from llamatui.tui.widgets.single_layout import SingleLayout
from llamatui.tui.widgets.terminal_scroll import expect_resize

# Blank rows under a reply that ends, in rows it held, that it may keep (or a quarter
# of the rows it holds at a time, if more): see ReplyText._keeps_rows.
KEEP_BLANK_ROWS = 2


class ReplyText(SingleLayout):
    """The Markdown of one reply, finished or streaming."""

    DEFAULT_CSS = """
    ReplyText {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.source = text
        """The reply's Markdown text."""
        self.streaming = False
        """Whether text is still arriving (the tail is drawn apart, rows are held)."""
        self._width = 0
        """The width the lines were drawn at (0: not drawn)."""
        self._done = 0
        """Characters of source in finished blocks, drawn into _done_lines."""
        self._done_lines: list[Strip] = []
        self._tail_lines: list[Strip] = []
        self._rows = 0
        """Rows the widget holds while streaming (at least its lines), and after,
        while its footer is drawn here."""
        self.footer_bar: Widget | None = None
        """The reply's footer, blank while its lines are drawn here."""
        self._step = 4
        """Rows held at a time: half the view."""
        self._footer: list[Strip] = []
        """The reply ended and still holds its rows: the footer's lines, drawn
        under the text (the footer itself, under the held rows, is blank)."""
        self._look: MarkdownLook | None = None
        self._blank_line: tuple[tuple[int, Style] | None, Strip] = (None, Strip([]))
        self._style: Style | None = None
        """Its own style, kept (Textual works it out from every ancestor's, if asked)."""
        self._last = LastTail()
        """The tail last drawn, to draw the next from."""
        self._joined = False
        """Whether the tail goes on with the list whose items were drawn last."""
        self._lists: list[tuple[int, int, int, int]] = []
        """Lists drawn in parts (their items as each finished), drawn again whole
        when the reply ends (numbers align to the list's last one): where each
        starts and ends in the source and in the lines, the blank line before it
        included. The one still being drawn ends at -1."""

    # Drawing -----------------------------------------------------------------------

    def _markdown(
        self,
        text: str,
        parsed: list[Token] | None = None,
        code_from: int = 0,
        table_sizes: TableSizes | None = None,
    ) -> list[Strip]:
        if not text.strip():
            return []
        if self._look is None:
            self._look = MarkdownLook.of(self.app.current_theme)
        console, width, base = self.app.console, self._width, self._base
        return self._look.render(console, text, width, base, parsed, code_from, table_sizes)

    @property
    def _base(self) -> Style:
        if self._style is None:
            self._style = self.rich_style
        return self._style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None
        self._last = LastTail()  # its lines kept are in the style before

    def _draw(self, width: int) -> None:
        """Draw everything again at `width`."""
        self._width = width
        self._style = None
        self._done_lines, self._tail_lines = [], []
        self._last = LastTail()
        self._joined = False
        self._lists = []
        if self.streaming:
            self._done = split_finished(self.source).end
            self._done_lines = self._markdown(self.source[: self._done])
            self._tail_lines = self._tail(self.source[self._done :])
        else:
            self._done = len(self.source)
            self._done_lines = self._markdown(self.source)
            self._let_go()  # laid out anew: no rows held

    def _tail(
        self,
        text: str,
        parsed: list[Token] | None = None,
        *,
        paragraph: bool = False,
        ended: bool = False,
    ) -> list[Strip]:
        """The lines of the growing tail `text` (see `LastTail.lines`)."""
        draw = self._markdown
        lines = self._last.lines(text, parsed, draw, self._width, paragraph=paragraph, ended=ended)
        return self._spaced(self._markdown(text, parsed) if lines is None else lines)

    def _spaced(self, lines: list[Strip]) -> list[Strip]:
        """The tail's `lines`, a blank line after the finished part's (its end)."""
        if lines and self._done_lines and not self._joined:
            lines.insert(0, self._blank)
        return lines

    @property
    def drawn(self) -> bool:
        """Whether the reply's lines are drawn (it is readable)."""
        return bool(self._done_lines or self._tail_lines)

    @property
    def _lines(self) -> int:
        return len(self._done_lines) + len(self._tail_lines)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        self._look = None
        self._width = 0  # drawn again at the next layout, in the new style too
        self.refresh(layout=True)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width != self._width:
            self._draw(width)
        if not self.streaming:
            return self._rows if self._footer else self._lines
        if self._lines >= self._rows:
            # Hold rows for what comes next: half the screen, so the view grows
            # (a layout, and a repaint of the scrolled view) every few seconds
            # rather than on every update; from the start, so that the first
            # words are drawn in the rows the reply was given when it appeared.
            self._step = max(4, viewport.height // 2)
            self._rows = self._lines + self._step
        return self._rows

    def render_line(self, y: int) -> Strip:
        done = len(self._done_lines)
        if y < done:
            return self._done_lines[y]
        y -= done
        if y < len(self._tail_lines):
            return self._tail_lines[y]
        y -= len(self._tail_lines)
        if y < len(self._footer):
            return self._footer[y]
        return self._blank

    @property
    def _blank(self) -> Strip:
        """A blank line (a held row), made once per width and style."""
        key = (self._width, self._base)
        if self._blank_line[0] != key:
            self._blank_line = (key, Strip.blank(self._width, self._base))
        return self._blank_line[1]

    def render_lines(self, crop: Region) -> list[Strip]:
        # Rows held for what comes next are drawn without the left border (the
        # reply's bar): blank, as the rows under a terminal's last line are. They
        # are all alike: one is rendered, for all (a growth brings half a screen).
        held = max(0, self._used_rows - crop.y)  # where they start in the crop
        if held >= crop.height or self.gutter.top or self.gutter.bottom:
            return super().render_lines(crop)
        lines = super().render_lines(Region(crop.x, crop.y, crop.width, held + 1))
        row = lines[held]
        if not crop.x and self.styles.border_left[0]:
            row = Strip.join([Strip([Segment(" ", self._base)], 1), row.crop(1)])
        lines[held:] = [row] * (crop.height - held)
        return lines

    @property
    def _used_rows(self) -> int:
        """The rows drawn (text, and the footer drawn here); the rest are held."""
        return self._lines + len(self._footer)

    @property
    def holds_rows(self) -> bool:
        """Whether the widget holds rows for what comes next (its footer, under
        them, is then blank)."""
        return self._rows > 0

    @property
    def holding(self) -> bool:
        """Whether the reply has ended and still holds its rows, its footer drawn
        under its text."""
        return bool(self._footer)

    def release(self) -> None:
        """Give back the rows held after the reply ended, in the next layout (the
        caller is about to make one)."""
        if self._footer:
            self._let_go()
            self.refresh(layout=True)

    def _let_go(self) -> None:
        """Hold no rows (the widget is being laid out): the footer, if it was drawn
        here, is drawn in its own place again."""
        if self._rows and self.footer_bar is not None:
            self.footer_bar.refresh(layout=True)
        self._rows, self._footer = 0, []

    # Streaming ---------------------------------------------------------------------

    def start(self) -> None:
        """Begin streaming: text will arrive by `append`."""
        self.streaming = True
        self._lists = []
        self._let_go()
        self._width = 0
        self.refresh(layout=True)

    def append(self, text: str) -> None:
        """Add streamed text; repaint only the lines it changed."""
        self.source += text
        if not self._width:
            return  # not drawn yet: the next layout draws it
        kept = len(self._done_lines)  # lines before these never change
        before = self._tail_lines
        tail = self.source[self._done :]
        if self._last.still_one_paragraph(tail):
            # Words added to a paragraph's line: no need to parse where blocks end.
            self._tail_lines = self._tail(tail, paragraph=True)
            self._paint_changes(kept, before)
            return
        if (lines := self._last.parts_added(tail, self._markdown)) is not None:
            self._tail_lines = self._spaced(lines)  # rows added to a table, or items
            self._paint_changes(kept, before)
            return
        split = split_finished(tail)
        finished, parsed = split.end, split.tokens
        if finished and not self._joined and not LINK_DEFINITION.search(tail):
            # Drawn from the one parse: the finished blocks (a paragraph or a code
            # block drawn last as the tail keeps its settled lines), then the last.
            # (A link's target defined in the tail would reach into every block of
            # the parse: each part is parsed alone then, as the next update does.)
            self._done_lines += self._tail(tail[:finished], split.finished, ended=True)
            self._done += finished
            self._tail_lines = self._tail(tail[finished:], split.last)
            self._paint_changes(kept, before)
            return
        items = 0 if finished else finished_items(tail, parsed)
        if finished or items:
            if items and not self._joined:  # a list begins to be drawn in parts
                self._lists.append((self._done, len(self._done_lines), -1, -1))
            elif finished and self._joined:  # that list's end is in what finished
                end = first_block_end(tail, parsed)
                self._done_lines += self._tail(tail[:end])
                self._done += end
                tail, finished = tail[end:], finished - end
                self._joined = False
                self._end_list()
            self._done_lines += self._tail(tail[: finished or items])
            self._done += finished or items
            self._joined = bool(items)
            self._tail_lines = self._tail(self.source[self._done :])
        else:
            self._tail_lines = self._tail(tail, parsed)
        self._paint_changes(kept, before)

    def _end_list(self) -> None:
        """The list drawn in parts last ends where the lines drawn so far do."""
        src, line, _, _ = self._lists[-1]
        self._lists[-1] = (src, line, self._done, len(self._done_lines))

    def _paint_changes(
        self, kept: int, before: list[Strip], after: list[Strip] | None = None
    ) -> None:
        """Repaint the lines from `kept` on that differ from `before` (the tail as it
        was), `after` being what is there now (by default the lines from `kept`);
        grow, in a layout, if they outgrow the held rows."""
        if after is None:
            after = self._done_lines[kept:] + self._tail_lines
        changed, bars = changed_lines(kept, before, after, self._blank)
        if kept + len(after) > self._rows:
            # Grow, in a layout; the terminal may move the view up itself.
            expect_resize(self, sorted({r.y for r in changed}.union(bars)))
            return
        if self.styles.border_left[0]:
            x = -self.content_offset.x
            changed += [Region(x, y, 1, 1) for y in bars]
        if changed:
            repaint(self, *changed)

    def finish(self, footer: Callable[[int], list[Strip]] | None = None) -> None:
        """End streaming: the rows held are kept, and the lines of `footer` (made at
        a width) drawn under the text, until the conversation is next laid out
        (`release`), if they fill the rows but a few (`_keeps_rows`); without
        `footer`, or else, the rows go now.

        The lines drawn a block at a time are those of the whole reply drawn at once
        (blocks are drawn alone the same as together), so they are kept: a long reply
        ends without a pause to draw it again. Lists drawn in parts are drawn again,
        each whole. And all of it when a link's target is defined further down
        (`[1]: https://...`), which changes blocks drawn before it.
        """
        self.streaming = False
        if self._width and not LINK_DEFINITION.search(self.source):
            before = self._done_lines + self._tail_lines
            if self._last.lexed_in_part:  # a long code block ends the reply: lexed whole
                tail = self.source[self._done :]
                self._tail_lines = self._tail(tail, PARSER.parse(tail), ended=True)
            self._done_lines += self._tail_lines
            self._tail_lines = []
            self._done = len(self.source)
            self._last = LastTail()
            if self._lists and self._lists[-1][2] < 0:  # the reply ended in it
                self._end_list()
            for src, line, src_end, line_end in reversed(self._lists):
                lines = self._markdown(self.source[src:src_end])
                if line:
                    lines.insert(0, self._blank)
                self._done_lines[line:line_end] = lines
            self._lists = []
            if footer is not None and self._rows:
                self._footer = footer(self._width)
                if self._keeps_rows(len(self._done_lines) + len(self._footer)):
                    self._paint_changes(0, before, self._done_lines + self._footer)
                    return
                # The rows go: the conversation moves down, by the terminal's scroll
                # if it may (its footer is drawn under its text, in its place).
                changed, bars = changed_lines(0, before, self._done_lines, self._blank)
                self._let_go()
                expect_resize(self, sorted({r.y for r in changed}.union(bars)))
                return
        else:
            self._width = 0
        self._let_go()
        self.refresh(layout=True)

    def _keeps_rows(self, used: int) -> bool:
        """Whether the reply, ended with `used` rows drawn (its footer's too), keeps
        the rows it held: when they hold them all with few left blank. A few blank
        rows under a reply read as spacing; more would leave the conversation above
        an empty space until the next message, so the rows go at once (a layout, and
        the view drawn again: the model has finished, so it costs it nothing)."""
        return used <= self._rows <= used + max(KEEP_BLANK_ROWS, self._step // 4)

    def update(self, text: str) -> None:
        """Show `text` instead, drawn whole (streaming, if it was, ends)."""
        self.source = text
        self.streaming = False
        self._width = 0
        self._let_go()
        self.refresh(layout=True)
