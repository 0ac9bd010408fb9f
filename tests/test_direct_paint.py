"""Lines drawn straight to the terminal between Textual's frames
(`tui/widgets/direct_paint.py`): what the terminal shows is what Textual would draw,
and looks the same compacted (`tui/ansi_compact.py`).

The app runs on the real llama.cpp engine with a driver that is not headless: every
byte it writes, frames and direct paints alike, goes to a terminal emulator (pyte),
whose cells are read back against Textual's own render of the screen whenever
nothing is waiting to be drawn. While a reply streams under a notification, with a
dialog open over it, and scrolled away from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyte
import pytest
from rich.cells import cell_len
from rich.color import Color, ColorSystem
from rich.segment import Segment
from rich.style import Style
from test_ui_flow import STORY, make_app
from textual.app import App
from textual.drivers.headless_driver import HeadlessDriver
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widget import Widget
from uitools import chat_ready, count_layouts, send

from llamatui.tui.ansi_compact import compact
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.screens.help import HelpScreen
from llamatui.tui.widgets import direct_paint, reply_text
from llamatui.tui.widgets.chat_message import AssistantMessage
from llamatui.tui.widgets.direct_paint import changed_cells
from llamatui.tui.widgets.reply_text import ReplyText


class Terminal:
    """What a terminal shows of what the app writes; and, beside it, of the same
    compacted as the app's writer thread sends it (`tui/ansi_compact.py`)."""

    def __init__(self, cols: int, rows: int) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.Stream(self.screen)
        self.compacted = pyte.Screen(cols, rows)
        self.compacted_stream = pyte.Stream(self.compacted)
        self.erased = pyte.Screen(cols, rows)
        """Compacted for a terminal that erases in the background colour."""
        self.erased_stream = pyte.Stream(self.erased)
        self.written = self.compacted_written = self.erased_written = self.writes = 0
        self.meters: set[str] = set()
        """The meters' line as the terminal showed it, each time it was looked at."""

    def feed(self, data: str) -> None:
        self.writes += 1
        self.stream.feed(data)
        self.written += len(data.encode())
        small = compact(data)
        self.compacted_stream.feed(small)
        self.compacted_written += len(small.encode())
        smaller = compact(data, erase=True)
        self.erased_stream.feed(smaller)
        self.erased_written += len(smaller.encode())

    def looks_the_same_compacted(self) -> bool:
        """Whether the terminals look the same (a space by what shows on it)."""

        def look(c: pyte.screens.Char) -> tuple[object, ...]:
            if c.data == " ":
                return (c.bg, c.reverse, c.underscore, c.strikethrough)
            return tuple(c)

        return all(
            look(self.screen.buffer[y][x]) == look(other.buffer[y][x])
            for other in (self.compacted, self.erased)
            for y in range(self.screen.lines)
            for x in range(self.screen.columns)
        )

    def cells(self) -> list[list[tuple[str, str, str, bool]]]:
        """Each cell's character, colours (hex) and boldness."""
        rows = []
        for y in range(self.screen.lines):
            line = self.screen.buffer[y]
            rows.append(
                [
                    (c.data, c.fg, c.bg, c.bold)
                    for c in (line[x] for x in range(self.screen.columns))
                ]
            )
        return rows


def textual_cells(app: App[None]) -> list[list[tuple[str, str, str, bool]]]:
    """The same, as Textual would draw the screen now."""

    def hex_of(color: Color | None) -> str:
        return color.get_truecolor().hex[1:] if color is not None else "default"

    rows = []
    for strip in app.screen._compositor.render_strips():
        row: list[tuple[str, str, str, bool]] = []
        for text, style, _ in strip:
            style = style or Style()
            cell = (hex_of(style.color), hex_of(style.bgcolor), bool(style.bold))
            for ch in text:
                row.append((ch, *cell))
                if cell_len(ch) == 2:  # a wide character: the terminal's next cell is empty
                    row.append(("", *cell))
        rows.append(row)
    return rows


@contextmanager
def terminal(app: App[None]) -> Iterator[Terminal]:
    """Make the app write to a terminal (the emulator) from now on."""
    driver = app._driver
    assert isinstance(driver, HeadlessDriver)
    term = Terminal(*app.size)
    headless = driver.__class__
    colors = app.console._color_system
    app.console._color_system = ColorSystem.TRUECOLOR  # as a terminal says it has
    driver.__class__ = type(
        "TerminalDriver",
        (headless,),
        {
            "is_headless": property(lambda self: False),
            "write": lambda self, data: term.feed(data),
            "flush": lambda self: None,
        },
    )
    app.screen.refresh()  # a whole frame first, as a terminal gets when the app starts
    try:
        yield term
    finally:
        driver.__class__ = headless
        app.console._color_system = colors


def settled(app: App[None]) -> bool:
    """Whether nothing waits to be drawn: the terminal should show Textual's render."""
    screen = app.screen
    if screen._layout_required or screen._scroll_required or screen._repaint_required:
        return False
    if screen._dirty_widgets or not screen._message_queue.empty():
        return False  # a widget's repaint may be on its way to the screen
    nodes: list[Widget] = [screen, *screen._compositor.visible_widgets]
    return not any(w._repaint_required or w._layout_required or w._scroll_required for w in nodes)


async def stream_and_compare(
    pilot: Pilot[None], screen: ChatScreen, term: Terminal, until: int
) -> int:
    """Let the reply stream until it holds `until` characters (or ends), comparing
    the terminal with Textual's render whenever nothing waits to be drawn."""
    app = pilot.app
    reply = screen.query(AssistantMessage).last()
    compared = 0
    while screen.session.generating and len(reply.text) < until:
        await pilot.pause(0.03)
        term.meters.add(term.screen.display[screen.meters.region.y])
        if settled(app):
            assert term.cells() == textual_cells(app)
            assert term.looks_the_same_compacted()
            compared += 1
    return compared


async def test_the_terminal_shows_what_textual_would_draw_while_a_reply_streams() -> None:
    app = make_app(max_tokens=700)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await chat_ready(pilot)
        with terminal(app) as term:
            await pilot.pause(0.1)
            frames = 0

            def count_frame() -> None:
                nonlocal frames
                frames += 1

            app.post_display_hook = count_frame  # type: ignore[method-assign]
            painted, writes = direct_paint.painted, term.writes
            await send(pilot, STORY)
            compared = await stream_and_compare(pilot, screen, term, 600)
            # Most updates were drawn without a frame.
            paints = direct_paint.painted - painted
            assert paints > frames, (paints, frames)
            # An update's paints (the reply, the status line) go in one write.
            assert term.writes - writes < paints + frames, (term.writes - writes, paints, frames)

            # A notification over the conversation: nothing is drawn over it.
            app.notify("A notice over the reply.", timeout=30)
            compared += await stream_and_compare(pilot, screen, term, 1000)
            assert "A notice over the reply." in "\n".join(term.screen.display)

            # A dialog over the chat: the reply goes on behind it, drawn by frames.
            await pilot.press("f1")
            assert isinstance(app.screen, HelpScreen)
            painted = direct_paint.painted
            compared += await stream_and_compare(pilot, screen, term, 1500)
            assert direct_paint.painted == painted
            await pilot.press("escape")
            assert app.screen is screen

            # Scrolled up to read: the reply streams below, out of sight.
            screen.conversation.scroll_home(animate=False)
            compared += await stream_and_compare(pilot, screen, term, 2500)
            if screen.session.generating:
                screen.session.stop()
            while screen.session.generating:
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            assert settled(app)
            assert term.cells() == textual_cells(app)
            assert term.looks_the_same_compacted()
        assert compared >= 10, compared
        # The meters stayed live on the terminal while the model ran (as far as the
        # notice and the dialog let them show).
        assert len({m for m in term.meters if "CPU" in m}) >= 2, term.meters
        # The same screen in fewer bytes.
        assert term.compacted_written < 0.8 * term.written, (term.compacted_written, term.written)
        assert term.erased_written < 0.95 * term.compacted_written, term.erased_written


async def test_a_reply_ends_on_the_terminal_where_it_stands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its footer is drawn under its text, straight to the terminal, with no layout;
    # the next prompt's layout moves it, as the footer widget, drawn the same.
    # However many blank rows are left under it (a reply keeps its rows only when
    # few are: ReplyText._keeps_rows, tested in test_reply_end.py).
    monkeypatch.setattr(reply_text, "KEEP_BLANK_ROWS", 1000)
    app = make_app(max_tokens=40)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        layouts = count_layouts(screen)
        at_finish: list[int] = []
        finish = ReplyText.finish

        def finishing(self: ReplyText, *args: Any, **kw: Any) -> None:
            at_finish.append(layouts())
            finish(self, *args, **kw)

        monkeypatch.setattr(ReplyText, "finish", finishing)
        with terminal(app) as term:
            await pilot.pause(0.1)
            await send(pilot, "Name three kinds of tea.")
            while screen.session.generating:
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            reply = screen.query(AssistantMessage).last()
            assert reply.markdown.holding
            assert layouts() == at_finish[0]  # none since the reply ended
            assert settled(app) and term.cells() == textual_cells(app)
            shown = term.screen.display
            y = next(i for i, line in enumerate(shown) if reply.footer[:30] in line)
            text = reply.markdown
            assert y == text.region.y + text._lines  # right under the text
            ghost = term.cells()[y]

            await send(pilot, "And one more?")
            await pilot.press("escape")
            while screen.session.generating:
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            assert not reply.markdown.holding
            assert settled(app) and term.cells() == textual_cells(app)
            shown = term.screen.display
            y = next(i for i, line in enumerate(shown) if reply.footer[:30] in line)
            assert term.cells()[y] == ghost


def test_changed_cells_are_those_that_differ() -> None:
    red, bold = Style(color="red"), Style(bold=True)

    def line(*parts: tuple[str, Style], width: int = 20) -> Strip:
        return Strip([Segment(text, style) for text, style in parts]).adjust_cell_length(width, red)

    short, longer = line(("Once upon", red)), line(("Once upon a time", red))
    assert changed_cells(short, longer) == (9, 16)  # the words added
    assert changed_cells(longer, short) == (9, 16)  # the words taken away
    assert changed_cells(short, short) is None
    assert changed_cells(short, line(("Once ", red), ("upon", bold))) == (5, 9)  # restyled
    assert changed_cells(line(("日本語", red)), line(("日本人", red))) == (4, 6)  # wide
    assert changed_cells(short, line(("Once upon", red), width=30)) == (0, 30)
