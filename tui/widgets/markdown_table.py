"""Rich's Markdown tables with widths that can be given and read: a table drawn a
few rows at a time (`table_tail.py`) draws its new rows at the widths of the whole.

Rich finds a table's column widths from each column's widest cell alone (its
`Table._calculate_column_widths`, which this reads and replaces: a private method,
so where Rich has none, nothing is noted and the table is drawn whole each time).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markdown_it.token import Token
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import Markdown, MarkdownElement, TableElement
from rich.table import Table


@dataclass
class TableSizes:
    """A table's column widths, found or given: a table drawn a few rows at a time
    (`table_tail.py`) draws its new rows at the widths of the whole, which change
    only when a new cell is wider than any before in its column."""

    given: list[int] | None = None
    """The widths to draw at (padding included), instead of finding them."""
    widths: list[int] = field(default_factory=list)
    """The widths found for the rows drawn (when none were given)."""
    widest: list[int] = field(default_factory=list)
    """Each column's widest cell as drawn (padding included): what the widths are
    found from (Rich's `Table._calculate_column_widths` uses these alone)."""


class SizedTable(TableElement):
    """A table whose column widths can be given and read (`TableSizes`)."""

    sizes: TableSizes | None = None

    @classmethod
    def create(cls, markdown: Markdown, token: Token) -> MarkdownElement:
        table = super().create(markdown, token)
        assert isinstance(table, SizedTable)
        table.sizes = getattr(markdown, "table_sizes", None)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for part in super().__rich_console__(console, options):
            if self.sizes is not None and isinstance(part, Table):
                _sized(part, self.sizes)
            yield part


def _sized(table: Table, sizes: TableSizes) -> None:
    """Make `table` note its columns' widest cells and its widths in `sizes`, or
    draw at the widths given there (unless this Rich has not the methods: then
    nothing is noted, and the table is drawn whole)."""
    find = getattr(table, "_calculate_column_widths", None)
    if find is None or not hasattr(table, "_measure_column"):
        return

    def widths(console: Console, options: ConsoleOptions) -> list[int]:
        sizes.widest = [table._measure_column(console, options, c).maximum for c in table.columns]
        if sizes.given is not None:
            return list(sizes.given)
        sizes.widths = find(console, options)
        return sizes.widths

    table._calculate_column_widths = widths  # type: ignore[method-assign]
