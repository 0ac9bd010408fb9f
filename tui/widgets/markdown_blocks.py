"""Where a growing reply's finished Markdown blocks end, and which of its lines
are settled: what `ReplyText` draws once and keeps while the reply streams."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import NamedTuple

from markdown_it.token import Token

from llamatui.tui.widgets.markdown_lines import PARSER

# A link reference definition: it gives targets to links in blocks above it.
LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:", re.MULTILINE)


class Split(NamedTuple):
    """A growing reply's text, parsed, and where its finished blocks end."""

    end: int
    """How much of the text is finished blocks (0: none)."""
    tokens: list[Token]
    """The text's parse."""
    cut: int
    """How many of `tokens` are the finished blocks' (the rest are the last
    block's). Each part draws as it would parsed alone, unless the text defines a
    link's target (which reaches into every block of a parse)."""

    @property
    def finished(self) -> list[Token]:
        return self.tokens[: self.cut]

    @property
    def last(self) -> list[Token]:
        """The last block's tokens, their lines numbered as in the text from its
        first line (`text[end:]`, which a table's or a list's kept parts read)."""
        tokens = self.tokens[self.cut :]
        first = tokens[0].map[0] if self.cut and tokens and tokens[0].map else 0
        if not first:
            return tokens
        return [
            replace(t, map=[t.map[0] - first, t.map[1] - first]) if t.map else t for t in tokens
        ]


def split_finished(text: str) -> Split:
    """How much of `text`, a reply still growing, is finished Markdown blocks, and
    its parse (to draw each part without parsing it again).

    A top-level block is finished once the next one has begun: CommonMark never
    reopens a block after that, and what a half-written last line turns out to be
    (a setext underline, a table's delimiter row, a lazy continuation) changes only
    the block it is in, the last. Everything before the last block's first line is
    final: drawn once, it is never drawn again while the reply grows.
    """
    tokens = PARSER.parse(text)
    blocks = _top_level(tokens)
    if len(blocks) < 2:
        return Split(0, tokens, 0)
    cut, (first_line, _) = blocks[-1]
    return Split(line_start(text, first_line), tokens, cut)


# What can make text mean more than itself inside a paragraph (emphasis, code,
# links, HTML, escapes, entities, strikethrough, tables, breaks), or start a block.
_INLINE_SYNTAX = re.compile(r"[*_`\[\]<>!\\&~|]")
_ODD_BREAK = re.compile(r"[ \t\\]\n|\n[ \t]")
# What can begin a block at a line's start (the rest of a paragraph is drawn alone
# from one): a heading, list, quote, rule, fence, table, link definition, numbered item.
_BLOCK_START = re.compile(r"[#\-+*_>=|`~\[\s]|\d+[.)]")


def finished_items(text: str, tokens: list[Token]) -> int:
    """For a growing tail that is one list (`tokens`, its parse): how much of `text`
    is its items before the last, which are finished as blocks are (a long list then
    costs what its last item costs); 0 when it is not a list or has one item. The
    rest parses as the same list going on (a numbered one from its own number).
    """
    if not tokens or tokens[0].type not in ("bullet_list_open", "ordered_list_open"):
        return 0
    items = [t.map[0] for t in tokens if t.type == "list_item_open" and t.level == 1 and t.map]
    if len(items) < 2:
        return 0
    return line_start(text, items[-1])


def first_block_end(text: str, tokens: list[Token]) -> int:
    """Where the first top-level block of `text` (`tokens`, its parse) ends."""
    return line_start(text, _top_level(tokens)[0][1][1])


def _top_level(tokens: list[Token]) -> list[tuple[int, list[int]]]:
    """Each top-level block: where its tokens begin, and its lines (the first, and
    the one after its last)."""
    return [(i, t.map) for i, t in enumerate(tokens) if t.level == 0 and t.nesting >= 0 and t.map]


def line_start(text: str, line: int) -> int:
    """Where line number `line` (from 0) of `text` begins."""
    offset = 0
    for _ in range(line):
        offset = text.index("\n", offset) + 1
    return offset


def one_code_block(tokens: list[Token]) -> tuple[str, str] | None:
    """The code and its language, of parsed Markdown that is a single code fence;
    else None."""
    if len(tokens) == 1 and tokens[0].type == "fence":
        return tokens[0].content, tokens[0].info.partition(" ")[0]
    return None


# A line that goes on a paragraph and cannot become anything else as it grows: it
# starts with a letter (no list, heading, quote, fence, rule, table row, setext
# underline, link definition, or code indented four spaces starts so).
_WORDS_LINE = re.compile(r" {0,3}[^\W\d_]")


def still_one_paragraph(before: str, text: str) -> bool:
    """Whether `text` is still one paragraph, as `before` (its start) was: only
    words were added to its last line, which starts with a letter."""
    if not before or not text.startswith(before) or "\n" in text[len(before) :]:
        return False
    return _WORDS_LINE.match(before, before.rfind("\n") + 1) is not None


def is_one_paragraph(tokens: list[Token]) -> bool:
    """Whether parsed Markdown is a single paragraph."""
    return [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"]


def settled_lines(source: str, lines: list[str]) -> tuple[int, int]:
    """For a paragraph of plain words drawn as `lines`: how many of its first lines
    stay as they are however the paragraph goes on, and where in `source` the
    next line starts.

    Wrapping is greedy, so a line's end depends only on the words up to the first
    one that did not fit, and a word only grows: every line but the last is settled,
    as long as nothing before it can change its meaning (no Markdown syntax in that
    part of the source). The rest, drawn on its own from a line start, wraps as it
    would in the whole. (0, 0) when that cannot be said.
    """
    n = len(lines) - 1
    if n < 1:
        return 0, 0
    # A line break inside a paragraph (a soft break) is drawn as a space; one next
    # to spaces, or a hard break ("  " or "\\" before it), is not said here.
    flat = source.replace("\n", " ")
    pos = 0
    for text in lines[:n]:
        text = text.rstrip()
        if not text or flat[pos : pos + len(text)] != text:
            return 0, 0
        pos += len(text)
        if flat[pos : pos + 1] != " ":
            return 0, 0
        pos += 1
    if _INLINE_SYNTAX.search(source, 0, pos) or _BLOCK_START.match(source, pos):
        return 0, 0
    if "\n" in source[:pos] and _ODD_BREAK.search(source, 0, pos):
        return 0, 0
    return n, pos
