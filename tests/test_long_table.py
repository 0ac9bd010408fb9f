"""A table streaming: each update draws its new rows, not the whole table, and what
is drawn is what the table drawn whole shows."""

from __future__ import annotations

import random

import pytest
from test_long_code import append_checked, record_draws, streamed
from test_reply_text import seen, streaming


def table(rows: int, seed: int, *, wide: bool = False) -> str:
    """A table whose cells now and then outgrow their column (its widths change),
    with inline code, bold, an escaped pipe and alignments; `wide`: wider than the
    view, its cells wrapped."""
    rng = random.Random(seed)
    words = ["a", "cache", "`jobs`", "**strict**", "how many files", "where \\| kept", "2"]
    lines = ["| name | value | what it does |", "|:---|---:|:---:|"]
    for i in range(rows):
        cells = [f"`item_{i}`", str(i * rng.randint(1, 999))]
        n = rng.randint(1, 12 if wide else 4) + (8 if i == rows // 2 else 0)
        cells.append(" ".join(rng.choice(words) for _ in range(n)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


ROWS = "".join(f"| {i} | {i * 3} |\n" for i in range(10))
"""Rows enough for a table's rows to be kept (`table_tail.KEEP_FROM`)."""


@pytest.mark.parametrize(("seed", "wide"), [(1, False), (2, False), (3, True)])
async def test_a_table_draws_its_new_rows_at_the_widths_of_the_whole(
    monkeypatch: pytest.MonkeyPatch, seed: int, wide: bool
) -> None:
    text = f"Here:\n\n{table(60, seed, wide=wide)}\nAfter it.\n"
    drawn = record_draws(monkeypatch)
    async with streaming((100, 40)) as (_pilot, reply):
        most = []
        for draws in streamed(reply, text, 45, drawn):
            rows = [sum(t.type == "tr_open" for t in parsed) for _, parsed in draws if parsed]
            if reply.source[reply._done :].count("\n") > 40 and rows:
                most.append(sorted(rows)[len(rows) // 2])
        # Most updates draw the header and a row or two, not the table's 40 and more
        # (drawn whole again only when a cell widens its column).
        assert most and sorted(most)[len(most) // 2] <= 3
        reply.finish()
        whole = [seen(x) for x in reply._markdown(reply.source)]
        assert [seen(x) for x in reply._done_lines] == whole


async def test_a_table_with_an_empty_row_is_drawn_whole() -> None:
    text = f"| a | b |\n|---|---|\n{ROWS}|  |  |\n| 3 | 4 |\n{ROWS}"
    async with streaming((60, 20)) as (_pilot, reply):
        for i in range(0, len(text), 5):
            append_checked(reply, text[i : i + 5])


@pytest.mark.parametrize(
    "text",
    [
        # Opening the reply after a blank line, with a row of dashes to come (read
        # as the rule under the header, were the header taken from the first lines).
        f"\n| a | b |\n|---|---|\n{ROWS}| - | - |\n| 3 | 4 |\n{ROWS}",
        # A line separator in a cell: a line break to Python, not to Markdown.
        f"| a | b |\n|---|---|\n{ROWS}| 1 | 2\u2028two |\n{ROWS}",
        # A row that draws as nothing though text is written in it.
        f"| a | b |\n|---|---|\n{ROWS}| &nbsp; | [](x) |\n| 3 | 4 |\n{ROWS}",
    ],
    ids=["blank-line-first", "line-separator", "nothing-drawn"],
)
async def test_a_table_in_parts_is_drawn_as_whole_however_it_is_written(text: str) -> None:
    async with streaming((60, 20)) as (_pilot, reply):
        for i in range(0, len(text), 4):
            append_checked(reply, text[i : i + 4])
        reply.finish()
        assert [seen(x) for x in reply._done_lines] == [
            seen(x) for x in reply._markdown(reply.source)
        ]


async def test_a_table_arriving_with_the_paragraph_before_it() -> None:
    # The paragraph and the table's first rows in one update: the table is drawn from
    # the parse of both, its lines numbered after the paragraph's.
    first = f"Some words first.\n\n| a | b |\n|---|---|\n{ROWS}"
    async with streaming((60, 20)) as (_pilot, reply):
        append_checked(reply, first)
        # Its rows kept from that update, read where they are in the table's text.
        assert reply._last.table.parts == 10
        assert reply._last.table.head == "| a | b |\n|---|---|\n"
        for i in range(30):
            append_checked(reply, f"| {i} | more {i} |\n")
        reply.finish()
        assert [seen(x) for x in reply._done_lines] == [
            seen(x) for x in reply._markdown(reply.source)
        ]
