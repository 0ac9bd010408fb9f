"""A reply that ends stays where it stands: its text keeps the rows it held while
streaming and draws its footer under itself, with no layout, until the conversation
is next laid out; the rows it holds are drawn blank, without the reply's bar."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fakes import fake_settings, scripted
from rich.style import Style
from textual.app import App, ComposeResult
from textual.color import Color
from textual.containers import VerticalScroll
from textual.css.stylesheet import Stylesheet
from textual.geometry import Region
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widget import Widget
from uitools import chat_ready, count_layouts, send, wait_until

from llamatui.themes import THEMES
from llamatui.tui.app import LlamaTUI
from llamatui.tui.widgets.chat_message import AssistantMessage, Notice, ReplyFooter
from llamatui.tui.widgets.reply_text import ReplyText

TEXT = "Some words, in **bold**.\n\n- an item\n- another\n\nA last paragraph, with `code`."


class OneMessage(App[None]):
    def __init__(self, theme: str = "llamatui-dark") -> None:
        super().__init__()
        for t in THEMES:
            self.register_theme(t)
        self.theme = theme

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield AssistantMessage()


@asynccontextmanager
async def started(
    size: tuple[int, int] = (70, 40), theme: str = "llamatui-dark"
) -> AsyncIterator[tuple[Pilot[None], AssistantMessage, ReplyText]]:
    """A reply alone in a view of `size`, begun: text may be appended."""
    app = OneMessage(theme)
    async with app.run_test(size=size) as pilot:
        message = app.query_one(AssistantMessage)
        message.begin()
        await pilot.pause()
        yield pilot, message, message.markdown


def cells(strip: Strip) -> list[tuple[str, Style | None]]:
    """A line cell by cell: what each shows and how."""
    return [(ch, seg.style) for seg in strip for ch in seg.text]


async def fill_but_a_row(pilot: Pilot[None], message: AssistantMessage) -> None:
    """Stream TEXT and then list items into `message` until its held rows are full
    but one or two (one of them for the footer)."""
    text = message.markdown
    message.append(TEXT + "\n\n- an item to fill the rows")
    await pilot.pause()
    while text._lines + 2 < text._rows:
        message.append("\n- an item to fill the rows")
        await pilot.pause()
    assert text._lines + 2 >= text._rows >= text._lines + 1


def row(widget: ReplyText | ReplyFooter, y: int) -> Strip:
    """Row `y` of `widget`, border and padding included, as the screen draws it."""
    return widget.render_lines(Region(0, y, widget.outer_size.width, 1))[0]


@pytest.mark.parametrize("cut", [False, True])
@pytest.mark.parametrize("theme", ["llamatui-dark", "llamatui-light", "llamatui-16"])
async def test_the_footer_drawn_under_the_text_is_the_footer(theme: str, cut: bool) -> None:
    async with started((70, 40), theme) as (pilot, message, text):
        footer = message.query_one(ReplyFooter)
        await fill_but_a_row(pilot, message)
        bar = cells(row(text, 0))[0]
        layouts = count_layouts(pilot.app.screen)
        message.finish("model · 40 tokens · 50.0 tok/s", cut=cut)
        await pilot.pause()
        assert layouts() == 0  # nothing laid out, nothing moved
        assert text.holding and text.size.height >= text._lines + 1
        ghost = row(text, text._lines)
        assert "model · 40 tokens" in ghost.text
        # A reply cut short says why in the warning colour; else in muted text.
        style = dict(cells(ghost))["4"]
        assert style is not None
        warning = Color.parse(pilot.app.theme_variables["text-warning"]).rich_color
        assert (style.color == warning) is cut, (style.color, warning)
        # Under it the held rows, and the footer widget under them, are blank: no bar.
        for y in range(text._lines + 1, text.size.height):
            assert cells(row(text, y))[0] != bar and not row(text, y).text.strip()
        assert cells(row(footer, 0))[0] != bar and not row(footer, 0).text.strip()

        message.release()  # the next message is mounted, in a layout
        await pilot.pause()
        assert not text.holding and text.size.height == text._lines
        # The footer draws itself where it was drawn, the same cell for cell.
        assert footer.region.y == text.region.y + text._lines
        assert cells(row(footer, 0)) == cells(ghost)
        assert cells(row(text, 0))[0] == bar


async def test_held_rows_are_drawn_blank_without_the_bar_in_any_crop() -> None:
    # Held rows are rendered once for all of them (a growth brings half a screen).
    async with started((70, 40)) as (pilot, message, text):
        for part in (TEXT, "\n\n" + TEXT):
            message.append(part)
            await pilot.pause()
            width, height = text.outer_size
            assert text._rows > text._lines + 2  # rows are held
            for x, y in ((0, 0), (3, 0), (0, text._lines - 1), (0, text._lines + 1)):
                lines = text.render_lines(Region(x, y, width - x, height - y))
                for r, line in enumerate(lines, y):
                    # As Textual draws the row; a held one without its bar.
                    plain = cells(Widget.render_lines(text, Region(x, r, width - x, 1))[0])
                    if r >= text._lines and not x:
                        assert plain[0][0] != " " and not "".join(c for c, _ in plain[1:]).strip()
                        plain[0] = (" ", text.rich_style)
                    assert cells(line) == plain


async def test_a_short_reply_gives_its_rows_back_at_once() -> None:
    # Half a screen of blank rows under it would leave the conversation above an
    # empty space until the next message.
    async with started((70, 40)) as (pilot, message, text):
        footer = message.query_one(ReplyFooter)
        message.append(TEXT)
        await pilot.pause()
        assert text._rows > text._lines + 1 + 2 + text._step // 4
        message.finish("model · 40 tokens · 50.0 tok/s", cut=False)
        await pilot.pause()
        assert not text.holding and text.size.height == text._lines
        assert footer.region.y == text.region.y + text._lines
        assert "model · 40 tokens" in row(footer, 0).text


async def test_a_footer_that_does_not_fit_the_rows_lays_out_at_once() -> None:
    async with started((30, 12)) as (pilot, message, text):
        message.append("Words. " * (text._rows * 4 - 4))  # all but the last held row
        await pilot.pause()
        assert text._lines < text._rows
        message.finish("a footer long enough to wrap over two lines or more", cut=False)
        await pilot.pause()
        assert not text.holding and text.size.height == text._lines
        assert "a footer" in row(message.query_one(ReplyFooter), 0).text


async def test_rows_held_while_streaming_are_drawn_without_the_bar() -> None:
    async with started((70, 40)) as (pilot, message, text):
        message.append("One line.")
        await pilot.pause()
        assert text.holds_rows and text.size.height > 1
        bar = cells(row(text, 0))[0]
        assert bar[0].strip()  # the bar is drawn beside the text
        assert cells(row(text, 1))[0] != bar
        message.append(" And on.\n\nA second paragraph.")
        await pilot.pause()
        assert all(cells(row(text, y))[0] == bar for y in range(text._lines))
        assert cells(row(text, text._lines))[0] != bar


async def test_the_first_prompt_parses_no_styles(monkeypatch: pytest.MonkeyPatch) -> None:
    # The messages' styles are parsed when the app starts, not when the first
    # prompt mounts the first messages, while the model starts its reply.
    app = LlamaTUI(fake_settings(), keep_history=False, make_handle=scripted())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await chat_ready(pilot)
        parses = 0
        parse = Stylesheet.parse

        def counting(self: Stylesheet) -> None:
            nonlocal parses
            parses += 1
            parse(self)

        monkeypatch.setattr(Stylesheet, "parse", counting)
        await send(pilot, "Hello?")
        await wait_until(pilot, lambda: not screen.session.generating)
        assert screen.query(AssistantMessage) and parses == 0


async def test_a_reply_under_a_notice_gives_its_rows_back() -> None:
    # A notice mounted while the reply streamed (a trimmed context, a failure):
    # rows kept would stay between the two.
    async with started((70, 40)) as (pilot, message, text):
        await pilot.app.query_one(VerticalScroll).mount(Notice("Something happened."))
        await fill_but_a_row(pilot, message)
        message.finish("model · 40 tokens · 50.0 tok/s", cut=False)
        await pilot.pause()
        assert not text.holding and text.size.height == text._lines
