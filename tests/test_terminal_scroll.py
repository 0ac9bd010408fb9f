"""A growing reply's conversation moved up by the terminal's own scroll
(`tui/widgets/terminal_scroll.py`): what the terminal shows is what Textual would
draw, with the conversations pane beside the view and without it, in fewer bytes
than drawing the view again; and no scroll where one would be wrong.

The app runs on the real llama.cpp engine, writing to a terminal emulator (the
harness of `test_direct_paint.py`).
"""

from __future__ import annotations

from typing import Any

import pytest
from test_direct_paint import settled, stream_and_compare, terminal, textual_cells
from test_ui_flow import STORY, make_app
from textual.widget import Widget
from uitools import chat_ready, send

from llamatui.tui.ansi_compact import compact
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.widgets import reply_text, terminal_scroll
from llamatui.tui.widgets.chat_message import AssistantMessage


@pytest.mark.parametrize("size", [(100, 30), (200, 60)])
async def test_a_growing_reply_is_moved_up_by_the_terminal(size: tuple[int, int]) -> None:
    app = make_app(max_tokens=900 if size[0] < 200 else 1600)
    async with app.run_test(size=size) as pilot:
        screen = await chat_ready(pilot)
        assert screen.pane.display == (size[0] >= 200)  # beside the view, or not there
        with terminal(app) as term:
            await pilot.pause(0.1)
            scrolled = terminal_scroll.scrolled
            frames: list[int] = []
            write = term.feed

            def feed(data: str) -> None:
                if "M\x1b[r" in data:  # a scroll: the rows it brought, drawn with it
                    frames.append(len(compact(data).encode()))
                write(data)

            term.feed = feed  # type: ignore[method-assign]
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
        whole_bytes = len(compact(whole).encode())
        assert max(frames) < 0.8 * whole_bytes, (frames, whole_bytes)


async def test_no_scroll_when_scrolled_up_to_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # The view does not move as the reply grows below it, out of sight.
    resized = 0
    expect = terminal_scroll.expect_resize

    def counting(widget: Widget, changed: list[int]) -> None:
        nonlocal resized
        resized += 1
        expect(widget, changed)

    monkeypatch.setattr(reply_text, "expect_resize", counting)
    app = make_app(max_tokens=1000)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        with terminal(app) as term:
            await pilot.pause(0.1)
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
    app = make_app(max_tokens=30)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        with terminal(app) as term:
            await pilot.pause(0.1)
            moved_down: list[str] = []
            write = term.feed

            def feed(data: str) -> None:
                if "L\x1b[r" in data:
                    moved_down.append(data)
                write(data)

            term.feed = feed  # type: ignore[method-assign]
            await send(pilot, "Say hello in five words.")
            await stream_and_compare(pilot, screen, term, 10**6)
            await pilot.pause(0.3)
            reply = screen.query(AssistantMessage).last()
            assert not reply.markdown.holds_rows  # the rows went
            assert settled(app) and term.cells() == textual_cells(app)
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
    app = make_app(max_tokens=30)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        with terminal(app) as term:
            await pilot.pause(0.1)
            scrolled = terminal_scroll.scrolled
            await send(pilot, "Say hello in five words.")
            await stream_and_compare(pilot, screen, term, 10**6)
            await pilot.pause(0.3)
            assert terminal_scroll.scrolled == scrolled
            assert settled(app) and term.cells() == textual_cells(app)
            assert "A notice in the same layout." in "\n".join(term.screen.display)
