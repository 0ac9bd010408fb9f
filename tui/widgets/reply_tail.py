"""The growing end of a streaming reply (its tail), drawn from how it was drawn
last: a paragraph's settled lines, a code block's settled lines of code, a table's
rows (`table_tail.py`) and a list's items under one item (`list_tail.py`) are
kept, and only the rest drawn again (`ReplyText` draws the tail on every update).

A long code block is lexed, while it grows, from a line a little above its lines
still to settle, not from its start: lexing is the slow part (about 0.1 ms a line
of Python), and lexing all of a 200-line block on every update cost 20 ms each, a
tenth of a core. A line that starts a statement (the least indented of those
near) is where a lexer starts afresh in nearly all code. Where it is not (inside a
string or comment over many lines), the settled lines lexed from it come out
otherwise than they were, and the block is lexed whole, as before. Text added can
change how lines far above it lex only rarely (lexers look ahead a line or two):
those are drawn again when the block ends, lexed whole once.
"""

from __future__ import annotations

from dataclasses import replace

from markdown_it.token import Token
from rich.cells import cell_len
from textual.strip import Strip

from llamatui.tui.widgets.list_tail import ListTail
from llamatui.tui.widgets.markdown_blocks import (
    is_one_paragraph,
    one_code_block,
    settled_lines,
    split_finished,
    still_one_paragraph,
)
from llamatui.tui.widgets.markdown_lines import Draw, LexedLine, code_lines
from llamatui.tui.widgets.table_tail import TableTail

CODE_CONTEXT = 4
"""Lines of a growing code block lexed above its first line still to settle (a
block with no more settled lines than this is lexed whole)."""
RESTART_SEARCH = 12
"""How far above those lines to look for a line to start lexing from."""


class LastTail:
    """The tail last drawn, when it was one paragraph, code block, table or list
    under one item."""

    def __init__(self) -> None:
        self.paragraph: tuple[str, list[Strip]] = ("", [])
        """When it was one paragraph: its source and lines."""
        self.code: tuple[str, list[Strip], list[LexedLine]] = ("", [], [])
        """When it was one code block: its source, the lines of its code's settled
        lines (each drawn as one line) and how they were lexed."""
        self.table = TableTail()
        """When it was one table: its rows drawn so far."""
        self.list = ListTail()
        """When it was one item with a list under it: that list's items drawn so far."""
        self.lexed_in_part = False
        """Whether that code block was lexed from a line other than its first (its
        lines are drawn again, as lexed whole, once it ends: `whole`)."""

    def lines(
        self,
        text: str,
        parsed: list[Token] | None,
        draw: Draw,
        width: int,
        *,
        paragraph: bool = False,
        ended: bool = False,
    ) -> list[Strip] | None:
        """The lines of tail `text` (`parsed`, its parse; `paragraph`: known to be
        one paragraph, not parsed; `ended`: its blocks have ended, drawn as in the
        whole reply) drawn from the last, when it is one paragraph, code block, table
        or list under one item; None to draw it whole."""
        lines: list[Strip] | None = None
        kind = ""
        if paragraph or parsed is not None:
            lines, kind = self.paragraph_lines(text, parsed, draw), "paragraph"
        if lines is None and parsed is not None:
            lines, kind = self.code_lines(text, parsed, draw, width, whole=ended), "code"
        if lines is None and parsed is not None:
            lines, kind = self.table.lines(text, parsed, draw), "table"
        if lines is None and parsed is not None:
            lines, kind = self.list.lines(text, parsed, draw), "list"
        self._forget(but=kind if lines is not None else "")
        return lines

    def _forget(self, but: str) -> None:
        """Forget what each kind of tail kept, `but` the kind the tail is."""
        if but != "paragraph":
            self.paragraph = ("", [])
        if but != "code":
            self.code = ("", [], [])
            self.lexed_in_part = False
        if but != "table":
            self.table.reset()
        if but != "list":
            self.list.reset()

    def parts_added(self, tail: str, draw: Draw) -> list[Strip] | None:
        """When `tail` is the table last drawn with rows added, or the list under one
        item with items added, and nothing after it: its lines, only the header (or
        head) and the rows (or items) not kept parsed; else None."""
        for kind in (self.table, self.list):
            rest = kind.rest_of(tail)
            if rest is not None and not (split := split_finished(rest)).end:
                return kind.lines(rest, split.tokens, draw, from_rest=True)
        return None

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
        self, text: str, parsed: list[Token], draw: Draw, width: int, *, whole: bool = False
    ) -> list[Strip] | None:
        """A tail that is one code block, grown from the last: the lines of its
        settled code as they were, and only the rest drawn (a long block costs what
        its last lines cost, and lexing a few lines above them); None to draw it
        whole. With `whole` (the block has ended, or the reply), it is lexed whole:
        drawn as it is when the reply is drawn at once.

        A line of code with another after it is settled, unless lexing it now
        gives other tokens than it did (a string or comment a later line ends):
        lines are wrapped each on its own. The block drawn finished keeps them too.
        """
        block = one_code_block(parsed)
        if block is None:
            return None
        # What is drawn: the code without its blank end.
        code = block[0].rstrip()
        rows = code.split("\n")
        before, settled, lexed_before = self.code
        if not (before and text.startswith(before)):
            settled, lexed_before = [], []
            self.lexed_in_part = False
        start = 0 if whole else restart_line(rows, len(settled))
        # Lines above `start` are not lexed again: they are as they were.
        lexed = lexed_before[:start] + code_lines("\n".join(rows[start:]), block[1])
        compared = range(start, min(len(lexed_before), len(lexed)))
        same = next((i for i in compared if lexed_before[i] != lexed[i]), len(settled))
        if start and same < len(settled):
            # Its settled lines lexed otherwise from there (it is inside a string or
            # comment, say): lexed whole, as they were.
            return self.code_lines(text, parsed, draw, width, whole=True)
        # Not past the code's last line: it may have become shorter (a blank line
        # before a closing fence that arrived in pieces is no longer drawn).
        settled = settled[: min(same, len(settled), len(lexed) - 1)]
        if len(settled) < start:
            return self.code_lines(text, parsed, draw, width, whole=True)
        if start:
            # The block from `start` on, drawn from its first unsettled line.
            part = replace(parsed[0], content="\n".join(rows[start:]) + "\n")
            lines = settled + draw(text, [part], len(settled) - start)
            self.lexed_in_part = True
        else:
            lines = settled + draw(text, parsed, len(settled))
            self.lexed_in_part = False
        # Its lines but the last are settled, when each was drawn as one line: none
        # too long for the width, none left out (two blank lines drawn as one when
        # the code's background is the reply's).
        done = len(lexed) - 1
        fits = width - 2  # the code's padding
        new = rows[len(settled) :]
        if len(lines) == done + 1 and all(cell_len(x.expandtabs(4)) < fits for x in new):
            settled = lines[:done]
        self.code = (text, settled, lexed[: len(settled)])
        return lines


def restart_line(rows: list[str], first: int) -> int:
    """Where to start lexing a code block whose lines from `first` on are drawn: 0
    (its start) for a short block; else, a little above `first`, the least indented
    line of those near (a statement's start, where lexers start afresh)."""
    top = first - CODE_CONTEXT
    if top <= 0:
        return 0
    best, depth = top, None
    for i in range(top, max(0, top - RESTART_SEARCH) - 1, -1):
        row = rows[i]
        if not row.strip():
            continue
        indent = len(row) - len(row.lstrip())
        if depth is None or indent < depth:
            best, depth = i, indent
            if not indent:
                break
    return best
