"""A table at the end of a streaming reply, drawn a few rows at a time.

Drawn whole on every update, a table costs what all its rows cost: 35 ms an
update at 120 rows, a seventh of a core at four updates a second. But a row's
lines depend only on the table's column widths, and those only on each column's
widest cell (Rich finds them from those alone). So the rows drawn are kept, and
each update draws the table's header with its new rows only, at the widths of the
whole (`TableSizes`): while no new cell is wider than any before in its column,
those are the lines the new rows have in the table drawn whole. When one is, the
table is drawn whole once, at its new widths, and goes on from there.
"""

from __future__ import annotations

from markdown_it.token import Token
from textual.strip import Strip

from llamatui.tui.widgets.kept_parts import KeptParts
from llamatui.tui.widgets.markdown_blocks import line_start
from llamatui.tui.widgets.markdown_lines import Draw
from llamatui.tui.widgets.markdown_table import TableSizes

KEEP_FROM = 8
"""Rows a table has before its rows are kept (a short one is drawn whole: drawing
it in parts starts with drawing its rows, and its header, apart)."""


class TableTail(KeptParts):
    """The rows of the table last drawn at the end of a reply (its parts), kept."""

    def reset(self) -> None:
        super().reset()
        self.sizes = TableSizes()
        """Its widths, and each column's widest cell, so far."""
        self.first = 0
        """The line of the text the table starts on."""

    def lines(
        self, text: str, parsed: list[Token], draw: Draw, *, from_rest: bool = False
    ) -> list[Strip] | None:
        """A tail that is one table: the lines kept, and its new rows drawn at the
        table's widths; None if it is not one table (it is drawn whole). With
        `from_rest`, `text` is what `rest_of` gave, and None also when a new row
        widens the table (the tail is parsed whole, to draw it at its new widths)."""
        table = _parts(text, parsed)
        if table is None:
            self.reset()
            return None
        head, rows, ended_rows = table
        if not from_rest and not self.parts and ended_rows < KEEP_FROM:
            return None  # a short table: drawn whole, in one go
        if any(_empty(row) for row in rows[:ended_rows]):
            # Drawn alone, an empty row at the end of a part would be a blank end,
            # left out: such a table is drawn whole.
            self.reset()
            return None
        if from_rest:
            if ended_rows:
                new = self._part(text, head, rows[:ended_rows], draw)
                if new is None:
                    return None
                self.kept += new
                end = _row_end(rows[ended_rows - 1])
                self.source += text[line_start(text, 2) : line_start(text, end)]
                self.parts += ended_rows
            return self._with_live(text, parsed, head, rows[ended_rows:], draw, from_rest=True)
        if not (self.source and text.startswith(self.source) and ended_rows >= self.parts):
            if not self._start(text, parsed, head, rows[:ended_rows], draw):
                return None
        elif ended_rows > self.parts:
            new = self._part(text, head, rows[self.parts : ended_rows], draw)
            if new is not None:
                self.kept += new
                self._kept_to(text, rows, ended_rows)
            elif not self._start(text, parsed, head, rows[:ended_rows], draw):
                return None  # (a cell wider than its column: at the new widths)
        return self._with_live(text, parsed, head, rows[ended_rows:], draw, from_rest=False)

    def _with_live(
        self,
        text: str,
        parsed: list[Token],
        head: list[Token],
        live: list[list[Token]],
        draw: Draw,
        *,
        from_rest: bool,
    ) -> list[Strip] | None:
        """The lines kept, and those of `live`, the row still being written."""
        if not live:
            return list(self.kept)
        new = self._part(text, head, live, draw)
        if new is None:  # drawn whole, at the widths that row makes
            return None if from_rest else draw(text, parsed, 0, None)
        return self.kept + new

    def _start(
        self,
        text: str,
        parsed: list[Token],
        head: list[Token],
        rows: list[list[Token]],
        draw: Draw,
    ) -> bool:
        """Draw the table's header and `rows` whole; keep them, and their widths.
        False (nothing kept) if the widths could not be read."""
        self.sizes = TableSizes()
        self.kept = draw(text, _table(head, rows), 0, self.sizes)
        if not self.sizes.widths:
            self.reset()
            return False
        self.sizes.given = self.sizes.widths
        self.header = len(draw(text, _table(head, []), 0, TableSizes(given=self.sizes.widths)))
        self.first = parsed[0].map[0]  # type: ignore[index]
        self._kept_to(text, rows, len(rows))
        return True

    def _kept_to(self, text: str, rows: list[list[Token]], ended_rows: int) -> None:
        """Note rows up to `ended_rows` kept: the text to the end of the last one."""
        self.parts = ended_rows
        if not ended_rows:
            self.source = ""
            return
        self.source = text[: line_start(text, _row_end(rows[ended_rows - 1]))]
        # (The header's lines have ended too, a row after them.)
        self.head = text[line_start(text, self.first) : line_start(text, self.first + 2)]

    def _part(
        self, text: str, head: list[Token], rows: list[list[Token]], draw: Draw
    ) -> list[Strip] | None:
        """The lines `rows` have in the table drawn whole, or None when a cell of
        theirs is wider than its column's widest (the widths change), or a row is
        empty (see `lines`)."""
        if any(_empty(row) for row in rows):
            return None
        sizes = TableSizes(given=self.sizes.given)
        lines = draw(text, _table(head, rows), 0, sizes)
        if any(new > old for new, old in zip(sizes.widest, self.sizes.widest, strict=True)):
            return None
        return lines[self.header :]


def _parts(text: str, parsed: list[Token]) -> tuple[list[Token], list[list[Token]], int] | None:
    """Of a parse that is one table: its tokens before the body, each body row's
    tokens, and how many rows have ended (a line break after them); None if the
    parse is not one table."""
    if not parsed or parsed[0].type != "table_open" or parsed[-1].type != "table_close":
        return None
    if parsed[0].map is None or any(t.level == 0 for t in parsed[1:-1]):
        return None
    try:
        body = next(i for i, t in enumerate(parsed) if t.type == "tbody_open")
    except StopIteration:
        body = len(parsed) - 1
    rows: list[list[Token]] = []
    for token in parsed[body:-1]:
        if token.type == "tr_open":
            rows.append([])
        if rows and token.type not in ("tbody_open", "tbody_close"):
            rows[-1].append(token)
    if any(row[0].map is None for row in rows):
        return None
    lines_ended = text.count("\n")
    ended_rows = sum(1 for row in rows if _row_end(row) <= lines_ended)
    if ended_rows < len(rows) - 1:
        return None  # (rows end in order: only the last may go on)
    return parsed[:body], rows, ended_rows


def _row_end(row: list[Token]) -> int:
    """The line after a row's (the parse maps every row's line)."""
    assert row[0].map is not None
    return row[0].map[1]


def _empty(row: list[Token]) -> bool:
    """Whether a row's cells all draw as nothing (`&nbsp;` or an empty link is
    nothing drawn, though it is text written)."""
    return not any(c.content.strip() for t in row if t.type == "inline" for c in t.children or ())


def _table(head: list[Token], rows: list[list[Token]]) -> list[Token]:
    """The tokens of a table of `head` and `rows`."""
    if not rows:
        return [*head, Token("table_close", "table", -1)]
    body = [Token("tbody_open", "tbody", 1), *(t for row in rows for t in row)]
    return [*head, *body, Token("tbody_close", "tbody", -1), Token("table_close", "table", -1)]
