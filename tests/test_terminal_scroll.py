"""A reply's conversation moved by the terminal's own scroll when the reply changes
size (`tui/widgets/terminal_scroll.py`): up as it grows, down as a short reply gives
back its rows. What the terminal shows is what Textual would draw, with the
conversations pane beside the view and without it, in fewer bytes than drawing the
screen again; and no scroll where one would be wrong (scrolled up to read, a notice
mounted where the scroll brings nothing in).

The app runs on the real llama.cpp engine, writing to a terminal emulator (the
harness of `test_direct_paint.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from test_direct_paint import Terminal, settled, stream_and_compare, terminal, textual_cells
from test_ui_flow import STORY, make_app
from textual.pilot import Pilot
from textual.widget import Widget
from uitools import chat_ready, send

from llamatui.tui.ansi_compact import compact
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.widgets import reply_text, terminal_scroll
from llamatui.tui.widgets.chat_message import AssistantMessage

SCROLLED_UP = "M\x1b[r"
"""What ends the terminal's scroll up (lines deleted), and so a write that has one."""
SCROLLED_DOWN = "L\x1b[r"


@asynccontextmanager
async def chat_on_terminal(
    max_tokens: int, size: tuple[int, int] = (100, 30)
) -> AsyncIterator[tuple[Pilot[None], ChatScreen, Terminal]]:
    """The app on the real engine, ready, writing to a terminal emulator."""
    app = make_app(max_tokens=max_tokens)
    async with app.run_test(size=size) as pilot:
        screen = await chat_ready(pilot)
        with terminal(app) as term:
            await pilot.pause(0.1)
            yield pilot, screen, term


def writes_with(term: Terminal, sequence: str) -> list[str]:
    """The writes to `term` from now on that hold `sequence` (compacted, as the
    app's writer thread sends them)."""
    found: list[str] = []
    feed = term.feed

    def watching(data: str) -> None:
        if sequence in data:
            found.append(compact(data))
        feed(data)

    term.feed = watching  # type: ignore[method-assign]
    return found


@pytest.mark.parametrize("size", [(100, 30), (200, 60)])
async def test_a_growing_reply_is_moved_up_by_the_terminal(size: tuple[int, int]) -> None:
    async with chat_on_terminal(900 if size[0] < 200 else 1600, size) as (pilot, screen, term):
        app = pilot.app
        assert screen.pane.display == (size[0] >= 200)  # beside the view, or not there
        scrolled = terminal_scroll.scrolled
        frames = writes_with(term, SCROLLED_UP)  # each with the rows the scroll brought
        await send(pilot, STORY)
        compared = await stream_and_compare(pilot, screen, term, 10**6)
        await pilot.pause(0.3)
        assert settled(app) and term.cells() == textual_cells(app)
        assert term.looks_the_same_compacted()
        # What drawing the whole screen again writes (a growth did, before).
        whole = app.screen._compositor.render_full_update().render_segments(app.console)
        assert compared >= 10, compared
        # The reply outgrew its rows more than once, and each time the terminal moved
        # the conversation up.
        assert terminal_scroll.scrolled - scrolled >= 2
        assert len(frames) == terminal_scroll.scrolled - scrolled
        # Drawing what came in (half the view) and what is beside it, not all of it:
        # 30-40% fewer bytes than the screen drawn again (the pane is drawn again).
        sizes = [len(f.encode()) for f in frames]
        whole_bytes = len(compact(whole).encode())
        assert max(sizes) < 0.8 * whole_bytes, (sizes, whole_bytes)


async def test_no_scroll_when_scrolled_up_to_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # The view does not move as the reply grows below it, out of sight.
    resized = 0
    expect = terminal_scroll.expect_resize

    def counting(widget: Widget, changed: list[int]) -> None:
        nonlocal resized
        resized += 1
        expect(widget, changed)

    monkeypatch.setattr(reply_text, "expect_resize", counting)
    async with chat_on_terminal(1000) as (pilot, screen, term):
        await send(pilot, STORY)
        await stream_and_compare(pilot, screen, term, 1500)  # taller than the view
        scrolled, before = terminal_scroll.scrolled, resized
        screen.conversation.scroll_home(animate=False)
        compared = await stream_and_compare(pilot, screen, term, 3000)
        assert resized > before  # the reply grew, out of sight
        assert terminal_scroll.scrolled == scrolled
        assert compared >= 3


async def test_a_short_reply_gives_its_rows_back_by_the_terminal() -> None:
    # It ends with most of the rows it held blank: they go, and the conversation
    # moves down by them (lines inserted at the view's top), its footer drawn in
    # its place.
    async with chat_on_terminal(30) as (pilot, screen, term):
        moved_down = writes_with(term, SCROLLED_DOWN)
        await send(pilot, "Say hello in five words.")
        await stream_and_compare(pilot, screen, term, 10**6)
        await pilot.pause(0.3)
        reply = screen.query(AssistantMessage).last()
        assert not reply.markdown.holds_rows  # the rows went
        assert settled(pilot.app) and term.cells() == textual_cells(pilot.app)
        assert term.looks_the_same_compacted()
        assert len(moved_down) == 1
        assert reply.footer[:20] in "\n".join(term.screen.display)


async def test_a_notice_mounted_as_a_short_reply_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    # A message mounted under the reply in the layout that gives its rows back (a
    # notice about saving, say) lies where the scroll brings nothing in (it brings
    # rows in at the top): no scroll then, Textual draws the frame.
    finish = AssistantMessage.finish

    def finishing(self: AssistantMessage, *args: Any, **kw: Any) -> None:
        finish(self, *args, **kw)
        screen = self.screen
        assert isinstance(screen, ChatScreen)
        screen.conversation.notice("A notice in the same layout.", error=True)

    monkeypatch.setattr(AssistantMessage, "finish", finishing)
    async with chat_on_terminal(30) as (pilot, screen, term):
        scrolled = terminal_scroll.scrolled
        await send(pilot, "Say hello in five words.")
        await stream_and_compare(pilot, screen, term, 10**6)
        await pilot.pause(0.3)
        assert terminal_scroll.scrolled == scrolled
        assert settled(pilot.app) and term.cells() == textual_cells(pilot.app)
        assert "A notice in the same layout." in "\n".join(term.screen.display)
