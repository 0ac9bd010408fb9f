"""Markdown to terminal lines, for replies (where a growing reply's blocks end, and
which of its lines are settled: `markdown_blocks.py`).

Rich's Markdown renderer draws a whole reply as one widget's lines (Textual's
Markdown widget mounts a widget per block and per list item, and every one of them
is laid out again on each update). Here it gets a parser made once, headings on
the left, code on the theme's surface with the theme's colours, and links shown
as text, never opened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import ClassVar, Protocol

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import CodeBlock, Heading, ListItem, Markdown, MarkdownElement
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from rich.theme import Theme
from textual.color import Color
from textual.strip import Strip
from textual.theme import Theme as TextualTheme

from llamatui.tui.widgets.markdown_table import SizedTable, TableSizes

# The parser Rich makes for every Markdown object (about 0.3 ms each), made once;
# with HTML off, so HTML a model writes is shown as text, not dropped.
PARSER = MarkdownIt("commonmark", {"html": False}).enable("strikethrough").enable("table")


class _Heading(Heading):
    """Headings on the left, like the rest of a chat."""

    LEVEL_ALIGN: ClassVar = dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6"), "left")


class _CodeBlock(CodeBlock):
    """A code fence, highlighted on the theme's surface colour."""

    background = ""
    first_line = 0
    """The first line of code to draw (the ones above are drawn already)."""

    @classmethod
    def create(cls, markdown: Markdown, token: Token) -> CodeBlock:
        block = super().create(markdown, token)
        assert isinstance(block, _CodeBlock)
        block.background = getattr(markdown, "code_background", "")
        block.first_line = getattr(markdown, "code_from", 0)
        return block

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        code = str(self.text).rstrip()
        yield Syntax(
            code,
            _lexer(self.lexer_name) or self.lexer_name,
            theme=self.theme,
            word_wrap=True,
            padding=(0, 1),
            background_color=self.background or None,
            # Each line is wrapped on its own: the lines from one on are drawn as
            # in the whole block (the code still highlighted from where it was
            # given from: its start, or a line a long block is lexed from).
            line_range=(self.first_line + 1, None) if self.first_line else None,
        )


class _ListItem(ListItem):
    """Numbered items as "1." (Rich draws "1"), as the model wrote them."""

    def render_number(
        self, console: Console, options: ConsoleOptions, number: int, last_number: int
    ) -> RenderResult:
        width = len(str(last_number)) + 3
        lines = console.render_lines(
            self.elements, options.update(width=options.max_width - width), style=self.style
        )
        style = console.get_style("markdown.item.number", default="none")
        numeral = Segment(f"{number}.".rjust(width - 1) + " ", style)
        padding = Segment(" " * width, style)
        for i, line in enumerate(lines):
            yield padding if i else numeral
            yield from line
            yield Segment.line()


class Draw(Protocol):
    """Draws Markdown text (its parse, if known), code blocks from a line of their
    code on, a table's widths noted in or given by `table_sizes` (a reply's
    `_markdown`)."""

    def __call__(
        self,
        text: str,
        parsed: list[Token] | None = None,
        code_from: int = 0,
        table_sizes: TableSizes | None = None,
    ) -> list[Strip]: ...


# The languages models write most: their lexers are made before the first reply
# (HTML's uses CSS's and JavaScript's: those first).
COMMON_LANGUAGES = (
    "python", "javascript", "typescript", "css", "html", "bash", "json", "c", "cpp",
    "rust", "go", "java", "sql", "yaml", "toml",
)  # fmt: skip

_MAKING = threading.Lock()
"""Held while a lexer is made: Pygments compiles a lexer class's rules into the
class, and two threads doing so at once can leave them wrong."""


def warm_lexers() -> None:
    """Make the lexers of the common languages (about 140 ms of compiling, once),
    so that the first code block in one does not make it while a reply streams.
    For a thread of its own: one lexer at a time, so a block drawn meanwhile waits
    for one at most."""
    for name in COMMON_LANGUAGES:
        _lexer(name)


def _lexer(name: str) -> Lexer | None:
    """Pygments' lexer for a language, made once: making one compiles its rules
    (milliseconds), and Rich makes one for every code block it draws."""
    with _MAKING:
        return _made_lexer(name)


@cache
def _made_lexer(name: str) -> Lexer | None:
    try:
        lexer = get_lexer_by_name(name, stripnl=False, ensurenl=True, tabsize=4)
    except ClassNotFound:
        return None
    lexer.get_tokens = _LastLexed(lexer.get_tokens)
    return lexer


class _LastLexed:
    """A lexer's `get_tokens` that keeps its last result. A growing code block is
    lexed to find its settled lines (`code_lines`), then Rich lexes the same text
    to draw it: once is enough."""

    def __init__(self, get_tokens: Callable[..., Iterator[tuple[object, str]]]) -> None:
        self._get_tokens = get_tokens
        self._last: tuple[str, list[tuple[object, str]]] | None = None

    def __call__(self, text: str, unfiltered: bool = False) -> Iterator[tuple[object, str]]:
        if unfiltered:
            return self._get_tokens(text, unfiltered)
        if self._last is None or self._last[0] != text:
            self._last = (text, list(self._get_tokens(text)))
        return iter(self._last[1])


class ReplyMarkdown(Markdown):
    """Rich's Markdown with the shared parser and llamatui's headings and code."""

    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **Markdown.elements,
        "heading_open": _Heading,
        "fence": _CodeBlock,
        "code_block": _CodeBlock,
        "list_item_open": _ListItem,
        "table_open": SizedTable,
    }

    def __init__(
        self,
        markup: str,
        *,
        code_theme: str,
        code_background: str,
        parsed: list[Token] | None = None,
        code_from: int = 0,
        table_sizes: TableSizes | None = None,
    ) -> None:
        # Rich's __init__ only makes a parser and keeps its arguments: the same,
        # with the parser made once.
        self.markup = markup
        self.parsed = PARSER.parse(markup) if parsed is None else parsed
        self.code_theme = code_theme
        self.justify = None
        self.style = "none"
        self.hyperlinks = False  # no OSC 8 links: model output opens nothing
        self.inline_code_lexer = None
        self.inline_code_theme = code_theme
        self.code_background = code_background
        self.code_from = code_from
        self.table_sizes = table_sizes


@dataclass(frozen=True)
class MarkdownLook:
    """How replies are drawn in one app theme."""

    theme: Theme
    """Rich's Markdown styles in the theme's colours."""
    code_theme: str
    """The Pygments style for code."""
    code_background: str
    """The colour under code blocks."""

    @classmethod
    def of(cls, app_theme: TextualTheme) -> MarkdownLook:
        """The look for an app theme."""
        primary = app_theme.primary
        secondary = app_theme.secondary or primary
        accent = app_theme.accent or primary
        if app_theme.ansi:
            # The terminal's own colours by name ("ansi_blue" is Rich's "blue"); code in
            # Rich's ANSI themes, on the terminal's background.
            primary, secondary, accent = (
                c.removeprefix("ansi_") for c in (primary, secondary, accent)
            )
            theme = _markdown_theme(primary, secondary, accent, "bright_black", "default")
            return cls(theme, "ansi_dark" if app_theme.dark else "ansi_light", "default")
        background = Color.parse(app_theme.background or "#000000")
        foreground = Color.parse(app_theme.foreground or "#ffffff")
        muted = background.blend(foreground, 0.6).hex
        surface = app_theme.surface or background.hex
        theme = _markdown_theme(primary, secondary, accent, muted, surface)
        return cls(theme, "monokai" if app_theme.dark else "default", surface)

    def render(
        self,
        console: Console,
        text: str,
        width: int,
        base: Style,
        parsed: list[Token] | None = None,
        code_from: int = 0,
        table_sizes: TableSizes | None = None,
    ) -> list[Strip]:
        """`text` (or its `parsed` tokens) as Markdown: lines `width` cells wide.
        With `code_from`, code blocks are drawn from that line of their code on;
        with `table_sizes`, a table's widths are noted there, or given."""
        markdown = ReplyMarkdown(
            text,
            code_theme=self.code_theme,
            code_background=self.code_background,
            parsed=parsed,
            code_from=code_from,
            table_sizes=table_sizes,
        )
        console.push_theme(self.theme)
        try:
            options = console.options.update(width=width, height=None, highlight=False)
            lines = console.render_lines(markdown, options, style=base, pad=True)
        finally:
            console.pop_theme()
        return _tidy([Strip(line, width) for line in lines], base)


def _tidy(lines: list[Strip], base: Style) -> list[Strip]:
    """One blank line between blocks, none around them.

    Rich puts one or two blank lines after a block depending on what follows it;
    tidied, a reply drawn a few blocks at a time has the same lines as drawn whole.
    A blank line inside a code block has the code's background, and stays.
    """

    def blank(line: Strip) -> bool:
        return not line.text.strip() and all(
            seg.style is None or seg.style.bgcolor in (None, base.bgcolor) for seg in line
        )

    out: list[Strip] = []
    for line in lines:
        if blank(line) and (not out or blank(out[-1])):
            continue
        out.append(line)
    while out and blank(out[-1]):
        out.pop()
    return out


LexedLine = tuple[tuple[object, str], ...]
"""A line of code as lexed: its tokens, each a kind and its text."""


def code_lines(code: str, language: str) -> list[LexedLine]:
    """`code`'s lines as highlighted: each line's tokens (kind and text). Lexing a
    line can depend on text after it (a comment or string that a later line ends):
    comparing these finds the lines whose look is settled. The text lexed is the
    one Rich's `Syntax` lexes (an end of line added, tabs expanded): drawn next, it
    finds it lexed."""
    lexer = _lexer(language)
    if lexer is None:
        return [((None, line),) for line in code.split("\n")]
    lines: list[LexedLine] = []
    line: list[tuple[object, str]] = []
    for kind, text in lexer.get_tokens((code + "\n").expandtabs(4)):
        while text:
            part, newline, text = text.partition("\n")
            line.append((kind, part))
            if newline:
                lines.append(tuple(line))
                line = []
    lines.append(tuple(line))
    return lines[: code.count("\n") + 1]  # not the line after the end the lexer adds


def _markdown_theme(primary: str, secondary: str, accent: str, muted: str, surface: str) -> Theme:
    """Rich's Markdown styles in the app theme's colours."""
    return Theme(
        {
            "markdown.h1": f"bold underline {primary}",
            "markdown.h2": f"bold {primary}",
            "markdown.h3": f"bold {secondary}",
            "markdown.h4": f"italic {secondary}",
            "markdown.h5": "italic",
            "markdown.h6": f"italic {muted}",
            "markdown.code": f"bold {accent} on {surface}",
            "markdown.block_quote": f"italic {muted}",
            "markdown.item.bullet": f"bold {accent}",
            "markdown.item.number": f"bold {accent}",
            "markdown.hr": muted,
            "markdown.link": f"underline {primary}",
            "markdown.link_url": f"underline {muted}",
            "markdown.table.border": muted,
            "markdown.table.header": f"bold {primary}",
        }
    )
