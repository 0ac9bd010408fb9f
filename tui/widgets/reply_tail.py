"""The growing end of a streaming reply (its tail), drawn from how it was drawn
last: a paragraph's settled lines, and a code block's settled lines of code, are
kept, and only the rest drawn again (`ReplyText` draws the tail on every update)."""

from __future__ import annotations

from collections.abc import Callable

from markdown_it.token import Token
from rich.cells import cell_len
from textual.strip import Strip

from llamatui.tui.widgets.markdown_blocks import (
    is_one_paragraph,
    one_code_block,
    settled_lines,
    still_one_paragraph,
)
from llamatui.tui.widgets.markdown_lines import LexedLine, code_lines

Draw = Callable[[str, list[Token] | None, int], list[Strip]]
"""Draws Markdown text (its parse, if known; code blocks' lines from a line on)."""


class LastTail:
    """The tail last drawn, when it was one paragraph or one code block."""

    def __init__(self) -> None:
        self.paragraph: tuple[str, list[Strip]] = ("", [])
        """When it was one paragraph: its source and lines."""
        self.code: tuple[str, list[Strip], list[LexedLine]] = ("", [], [])
        """When it was one code block: its source, the lines of its code's settled
        lines (each drawn as one line) and how they were lexed."""

    def still_one_paragraph(self, tail: str) -> bool:
        """Whether `tail` is the paragraph last drawn with words added to its line."""
        return still_one_paragraph(self.paragraph[0], tail)

    def paragraph_lines(
        self, text: str, parsed: list[Token] | None, draw: Draw
    ) -> list[Strip] | None:
        """A tail that is one paragraph (so `parsed` says, or None: known to be),
        grown from the last: its settled lines as they were and only the rest drawn
        (a long paragraph costs what its last lines cost); None to draw it whole."""
        if parsed is not None and not is_one_paragraph(parsed):
            self.paragraph = ("", [])
            return None
        before, old = self.paragraph
        settled, cut = 0, 0
        if before and text.startswith(before):
            settled, cut = settled_lines(text, [line.text for line in old])
        lines = old[:settled] + draw(text[cut:], None, 0) if settled else draw(text, parsed, 0)
        self.paragraph = (text, lines)
        return list(lines)

    def code_lines(
        self, text: str, parsed: list[Token], draw: Draw, width: int
    ) -> list[Strip] | None:
        """A tail that is one code block, grown from the last: the lines of its
        settled code as they were, and only the rest drawn (a long block costs what
        its last lines cost, and lexing it); None to draw it whole.

        A line of code with another after it is settled, unless lexing it now
        gives other tokens than it did (a string or comment a later line ends):
        lines are wrapped each on its own. The block drawn finished keeps them too.
        """
        block = one_code_block(parsed)
        if block is None:
            self.code = ("", [], [])
            return None
        # What is drawn: the code without its blank end.
        code = block[0].rstrip()
        lexed = code_lines(code, block[1])
        before, settled, lexed_before = self.code
        if not (before and text.startswith(before)):
            settled = []
        same = next(
            (i for i, (a, b) in enumerate(zip(lexed_before, lexed, strict=False)) if a != b),
            len(settled),
        )
        # Not past the code's last line: it may have become shorter (a blank line
        # before a closing fence that arrived in pieces is no longer drawn).
        settled = settled[: min(same, len(settled), len(lexed) - 1)]
        lines = settled + draw(text, parsed, len(settled))
        # Its lines but the last are settled, when each was drawn as one line: none
        # too long for the width, none left out (two blank lines drawn as one when
        # the code's background is the reply's).
        done = len(lexed) - 1
        fits = width - 2  # the code's padding
        new = code.split("\n")[len(settled) :]
        if len(lines) == done + 1 and all(cell_len(x.expandtabs(4)) < fits for x in new):
            settled = lines[:done]
        self.code = (text, settled, lexed[: len(settled)])
        return lines
