"""Replies drawn as lines: finished blocks drawn once, no layout per update, the
same lines as a full render at the end, code highlighted, the view anchored."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fakes import fake_settings, scripted
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.strip import Strip
from uitools import chat_ready, count_layouts, send, wait_until

from llamatui.themes import THEMES
from llamatui.tui.app import LlamaTUI
from llamatui.tui.widgets import markdown_lines
from llamatui.tui.widgets.chat_message import AssistantMessage
from llamatui.tui.widgets.markdown_blocks import (
    is_one_paragraph,
    split_finished,
    still_one_paragraph,
)
from llamatui.tui.widgets.markdown_lines import PARSER, warm_lexers
from llamatui.tui.widgets.reply_text import ReplyText

CODE_REPLY = (
    "# Hashing files\n\nA paragraph with **bold** and `code`.\n\n"
    "- first item\n- second item\n\n"
    "```python\ndef hello(name):\n    return 'hello ' + name\n```\n\n"
    "| a | b |\n|---|---|\n| 1 | 2 |\n\nThe end of the reply.\n"
)


def finished_length(text: str) -> int:
    return split_finished(text).end


def test_finished_blocks_end_where_the_last_block_starts() -> None:
    assert finished_length("Half a par") == 0
    assert finished_length("One paragraph.\n") == 0
    text = "One paragraph.\n\nAnother one, still"
    assert finished_length(text) == len("One paragraph.\n\n")
    # An open code fence holds everything after it, blank lines included.
    fence = "Intro.\n\n```python\nx = 1\n\ny = 2\n"
    assert finished_length(fence) == len("Intro.\n\n")
    assert finished_length(fence + "```\n\nAfter") == len(fence + "```\n\n")
    # A list stays open until another block begins.
    items = "- a\n- b\n\n- c\n"
    assert finished_length(items) == 0
    assert finished_length(items + "\nText.\n") == len(items + "\n")
    # The half-written last line never decides: "---" under a line makes a heading.
    assert finished_length("Title\n--") == 0


class OneReply(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll(id="view"):
            yield ReplyText()


@asynccontextmanager
async def streaming(size: tuple[int, int]) -> AsyncIterator[tuple[Pilot[None], ReplyText]]:
    """A reply alone in a view of `size`, started: text may be appended."""
    app = OneReply()
    async with app.run_test(size=size) as pilot:
        reply = app.query_one(ReplyText)
        reply.start()
        await pilot.pause()
        yield pilot, reply


async def test_streamed_lines_match_a_full_render_and_need_few_layouts() -> None:
    async with streaming((80, 40)) as (pilot, reply):
        layouts = count_layouts(pilot.app.screen)
        pieces = [CODE_REPLY[i : i + 3] for i in range(0, len(CODE_REPLY), 3)]
        for piece in pieces:
            reply.append(piece)
            await pilot.pause()
        # Each append repainted lines; only growing past the held rows (by half the
        # screen) laid out: two layouts each here, one of them Textual's own for
        # this plain scroll view's new virtual size.
        assert len(pieces) > 50 and layouts() <= 4, layouts()
        assert reply._done > 0  # finished blocks were drawn once and kept
        streamed = [s.text.rstrip() for s in reply._done_lines + reply._tail_lines]
        reply.finish()
        await pilot.pause()
        assert reply.size.height == len(streamed)  # the held rows are given back
        reply.update(reply.source)  # the whole reply drawn at once
        await pilot.pause()
        assert reply.source == CODE_REPLY
        assert streamed == [s.text.rstrip() for s in reply._done_lines]


RECORDED = Path(__file__).resolve().parent.parent / "bench" / "streams" / "markdown.json"


@pytest.mark.parametrize("per_update", [1, 7, 25, 61])
async def test_a_recorded_reply_streamed_in_parts_ends_as_drawn_whole(per_update: int) -> None:
    # SmolLM2's token pieces of a Markdown document (headings, nested and numbered
    # lists, code in four languages, tables, quotes), in updates of a few tokens
    # to many: every line as drawn whole, style for style.
    tokens = json.loads(RECORDED.read_text())["tokens"][:1200]
    async with streaming((100, 40)) as (_pilot, reply):
        for i in range(0, len(tokens), per_update):
            reply.append("".join(tokens[i : i + per_update]))
        assert reply._done > len(reply.source) / 2  # finished blocks were kept
        reply.finish()
        streamed = [seen(line) for line in reply._done_lines]
        assert streamed == [seen(line) for line in reply._markdown(reply.source)]


def seen(strip: Strip) -> list[tuple[str, object]]:
    """A line as a terminal shows it, cell by cell: a space's colour is not seen
    (a blank line between a table and what follows has the table's, drawn whole)."""
    out: list[tuple[str, object]] = []
    for seg in strip:
        style = seg.style or Style()
        for ch in seg.text:
            if ch == " " and not style.reverse:
                out.append((ch, (style.bgcolor, style.underline, style.strike, style.overline)))
            else:
                out.append((ch, style))
    return out


def long_paragraph(between: str) -> str:
    sentences = [
        f"Sentence {i} of one long paragraph goes on, as a small model's do." for i in range(40)
    ]
    return between.join(sentences) + " It ends **in bold** at last.\n\nThen a new one."


@pytest.mark.parametrize(
    ("between", "kept_at_least"),
    [
        (" ", 100),
        ("\n", 100),  # soft breaks, as small models write: drawn as spaces
        ("  \n", 0),  # hard breaks: drawn whole each time, and right
    ],
    ids=["spaces", "soft-breaks", "hard-breaks"],
)
async def test_a_long_paragraph_redraws_only_its_last_lines(
    between: str, kept_at_least: int
) -> None:
    text = long_paragraph(between)
    # Tall enough for no scrollbar to come and narrow the lines at the end.
    async with streaming((80, 120)) as (pilot, reply):
        kept = 0
        for i in range(0, len(text), 11):
            before = list(reply._tail_lines)
            reply.append(text[i : i + 11])
            after = reply._tail_lines
            # Lines drawn before are the same objects: not drawn again.
            kept += sum(1 for a, b in zip(before, after, strict=False) if a is b)
        await pilot.pause()
        assert kept >= kept_at_least
        streamed = [s.text.rstrip() for s in reply._done_lines + reply._tail_lines]
        reply.update(reply.source)
        await pilot.pause()
        assert streamed == [s.text.rstrip() for s in reply._done_lines]


async def test_a_link_defined_below_is_drawn_right_when_the_reply_ends() -> None:
    async with streaming((80, 40)) as (pilot, reply):
        for piece in ("See [the docs][1].\n\n", "More text.\n\n", "[1]: https://example.com\n"):
            reply.append(piece)
        text = "\n".join(s.text for s in reply._done_lines + reply._tail_lines)
        assert "[the docs][1]" in text  # drawn before its target was known
        reply.finish()
        await pilot.pause()
        text = "\n".join(s.text for s in reply._done_lines)
        assert "the docs (https://example.com)" in text


async def test_a_link_target_defined_in_the_tail_draws_each_block_as_alone() -> None:
    # A target defined in one block reaches into the others of its parse: the block
    # after it is drawn as it is on the next update (and as the whole reply's
    # redraw at the end settles it).
    async with streaming((80, 40)) as (_pilot, reply):
        reply.append("Intro.\n\n[a]: https://example.com\n\nSee [a] here")
        drawn = [s.text.rstrip() for s in reply._tail_lines]
        reply.append(" and on.")
        assert drawn[-1] == "See [a] here"
        assert [s.text.rstrip() for s in reply._tail_lines][-1] == "See [a] here and on."


async def test_code_is_highlighted() -> None:
    app = OneReply()
    async with app.run_test(size=(80, 40)) as pilot:
        reply = app.query_one(ReplyText)
        reply.update(CODE_REPLY)
        await pilot.pause()
        line = next(s for s in reply._done_lines if "def hello" in s.text)
        colours = {seg.style.color for seg in line if seg.text.strip() and seg.style}
        assert len(colours) >= 2  # the keyword and the name differ
        heading = next(s for s in reply._done_lines if "Hashing files" in s.text)
        assert "#" not in heading.text  # Markdown, not source
        assert any(seg.style and seg.style.bold for seg in heading if seg.text.strip())


async def test_the_view_follows_the_reply_unless_scrolled_up() -> None:
    step = threading.Event()
    long_reply = "\n\n".join(f"Paragraph {i} of a long reply, said slowly." for i in range(80))
    app = LlamaTUI(fake_settings(), keep_history=False, make_handle=scripted(long_reply, step))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await chat_ready(pilot)
        await send(pilot, "Talk.")
        view = screen.conversation
        reply = screen.query_one(AssistantMessage)

        async def release(n: int) -> None:
            for _ in range(n):
                step.set()
                await pilot.pause(0.01)
                step.clear()
            await pilot.pause(0.3)

        await release(120)
        assert view.max_scroll_y > 0
        assert view.scroll_y == view.max_scroll_y  # anchored to the tail
        view.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        await release(60)
        assert view.scroll_y == 0  # the user scrolled up: it stays put
        assert len(reply.text) > 0
        view.scroll_end(animate=False)
        await pilot.pause()
        await release(60)
        assert view.scroll_y == view.max_scroll_y  # back at the end: it follows again
        step.set()
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.session.generating)


def test_model_text_is_shown_as_written_never_as_markup_or_links() -> None:
    from rich.console import Console
    from rich.style import Style

    from llamatui.themes import LLAMATUI_DARK
    from llamatui.tui.widgets.markdown_lines import MarkdownLook

    text = "[bold red]x[/] <b>tag</b> [site](http://example.com)\n\n<div>block</div>\n"
    lines = MarkdownLook.of(LLAMATUI_DARK).render(Console(width=80), text, 78, Style())
    shown = "\n".join(line.text.rstrip() for line in lines)
    assert "[bold red]x[/] <b>tag</b> site (http://example.com)" in shown
    assert "<div>block</div>" in shown  # HTML is text, not dropped
    assert not any(seg.style and seg.style.link for line in lines for seg in line)


async def test_a_long_list_draws_its_finished_items_once() -> None:
    items = "".join(f"- Item {i}: something said about it, at some length.\n" for i in range(30))
    text = "Tips:\n\n" + items + "\nDone.\n"
    async with streaming((80, 120)) as (pilot, reply):
        longest_tail = 0
        for i in range(0, len(text), 9):
            reply.append(text[i : i + 9])
            longest_tail = max(longest_tail, len(reply._tail_lines))
        assert longest_tail <= 4  # never the whole list again
        streamed = [s.text.rstrip() for s in reply._done_lines + reply._tail_lines]
        reply.update(reply.source)
        await pilot.pause()
        assert streamed == [s.text.rstrip() for s in reply._done_lines]


async def test_a_numbered_list_drawn_in_parts_is_drawn_whole_at_the_end() -> None:
    text = "".join(f"{i}. Step {i}.\n" for i in range(1, 13))
    async with streaming((80, 60)) as (pilot, reply):
        for i in range(0, len(text), 5):
            reply.append(text[i : i + 5])
        reply.finish()
        await pilot.pause()
        lines = [s.text.rstrip() for s in reply._done_lines]
        assert lines[0] == "  1. Step 1." and lines[11] == " 12. Step 12."  # aligned


CODE = (
    "Some code:\n\n```python\n"
    'def greet(name):\n    """Say hello.\n\n    A docstring over lines.\n    """\n\n\n'
    "    message = 'hello, ' + name + '! ' * 40  # a line too long for the view\n"
    "\tif name:\n        print(message)\n    return message\n```\n\n"
    "```nosuchlanguage\nplain text\n\nmore of it\n```\n\n"
    "```go\nfunc main() {\n    fmt.Println(`a raw string\nover lines`)\n}\n"
)


@pytest.mark.parametrize("theme", ["llamatui-dark", "llamatui-light", "llamatui-16"])
async def test_a_growing_code_block_draws_only_its_last_lines(theme: str) -> None:
    app = OneReply()
    async with app.run_test(size=(60, 80)) as pilot:
        for t in THEMES:
            app.register_theme(t)
        app.theme = theme
        reply = app.query_one(ReplyText)
        reply.start()
        await pilot.pause()
        kept = 0
        for i in range(0, len(CODE), 7):
            before = list(reply._tail_lines)
            reply.append(CODE[i : i + 7])
            tail = reply.source[reply._done :]
            # The lines shown are those of the tail drawn whole: the same characters
            # in the same styles (a token may be split where the whole has one).
            whole = reply._spaced(reply._markdown(tail))
            assert looks(reply._tail_lines) == looks(whole), tail
            kept += sum(1 for a, b in zip(before, reply._tail_lines, strict=False) if a is b)
        assert kept >= 100  # settled lines of code were kept, not drawn again
        streamed = looks(reply._done_lines + reply._tail_lines)
        reply.update(reply.source)
        await pilot.pause()
        assert streamed == looks(reply._done_lines)


def looks(lines: list[Strip]) -> list[list[Segment]]:
    """Lines as what they look like: runs of one style joined."""
    return [list(Segment.simplify(line)) for line in lines]


def test_the_common_languages_lexers_are_made_ahead() -> None:
    warm_lexers()
    # Each name is one Pygments knows (a lexer, not None), now made and kept.
    made = [markdown_lines._lexer(name) for name in markdown_lines.COMMON_LANGUAGES]
    assert all(lexer is not None for lexer in made)
    assert markdown_lines._made_lexer.cache_info().currsize >= len(made)


LISTS = (
    "Intro paragraph.\n\n"
    + "".join(f"{i}. Step {i}, said at some length.\n" for i in range(1, 12))
    + "\nBetween them.\n\n- one\n- two\n  - nested\n- three\n\n"
    "* loose one\n\n* loose two\n\n```python\nx = 1\n```\n\n"
    + "".join(f"{i}) Last {i}.\n" for i in range(8, 13))
)


@pytest.mark.parametrize("cut", [len(LISTS), len(LISTS) - 30], ids=["ends-in-a-list", "mid"])
async def test_lists_drawn_in_parts_are_drawn_again_alone_at_the_end(cut: int) -> None:
    text = LISTS[:cut]
    async with streaming((70, 120)) as (pilot, reply):
        for i in range(0, len(text), 6):
            reply.append(text[i : i + 6])
        assert len(reply._lists) >= 2  # lists were drawn in parts
        intro = reply._done_lines[0]
        reply.finish()
        assert reply._width  # not drawn again whole: only the lists were
        assert reply._done_lines[0] is intro
        ended = looks(reply._done_lines)
        await pilot.pause()
        reply.update(reply.source)
        await pilot.pause()
        assert ended == looks(reply._done_lines)
        numbered = [s.text.rstrip() for s in reply._done_lines if "Step" in s.text]
        assert numbered[0].startswith("  1.") and numbered[-1].startswith(" 11.")


@pytest.mark.parametrize(
    ("before", "text", "still"),
    [
        ("Hello", "Hello world", True),
        ("Hello\nwor", "Hello\nworld, again", True),  # a soft break's next line
        ("Hello", "Hello\nworld", False),  # a new line may start a block
        ("Hello\n", "Hello\n- x", False),
        ("Hello\n1", "Hello\n1. x", False),  # a numbered item
        ("Title\n-", "Title\n---", False),  # a setext heading's underline
        ("a | b\n|", "a | b\n|---|", False),  # a table's delimiter row
        ("    code", "    code more", False),
        ("Other", "Hello there", False),
        ("", "Hello", False),
    ],
)
def test_words_added_to_a_paragraphs_line_keep_it_one_paragraph(
    before: str, text: str, still: bool
) -> None:
    assert still_one_paragraph(before, text) is still
    if still:  # what the parser says
        assert is_one_paragraph(PARSER.parse(text))


async def test_a_code_block_closed_in_pieces_keeps_no_line_it_no_longer_has() -> None:
    async with streaming((60, 40)) as (pilot, reply):
        # The blank line is code while the fence is half written, and none once it
        # closes (a code block's blank end is not drawn).
        for piece in ("Code:\n\n```python\nx = 1\n", "\n``", "`"):
            reply.append(piece)
        streamed = looks(reply._done_lines + reply._tail_lines)
        reply.finish()
        await pilot.pause()
        ended = looks(reply._done_lines)
        reply.update(reply.source)
        await pilot.pause()
        assert streamed == ended == looks(reply._done_lines)


def test_a_code_block_is_lexed_once_to_settle_and_draw_it() -> None:
    lexer = markdown_lines._lexer("python")
    assert lexer is not None
    lexings = []
    lex = lexer.get_tokens._get_tokens  # type: ignore[attr-defined]
    lexer.get_tokens._get_tokens = lambda *a: lexings.append(a) or lex(*a)  # type: ignore[attr-defined]
    try:
        code = "def f(x):\n\tif x:\n        return 1"
        settled = markdown_lines.code_lines(code, "python")
        look = markdown_lines.MarkdownLook.of(THEMES[0])
        drawn = look.render(Console(width=60), f"```python\n{code}", 58, Style(), None, 1)
    finally:
        lexer.get_tokens._get_tokens = lex  # type: ignore[attr-defined]
    assert len(settled) == 3 and len(drawn) == 2  # from its second line on
    assert len(lexings) == 1
