"""A list of many items under one item, streaming: each update draws its new items,
not the whole list, and what is drawn is what the list drawn whole shows."""

from __future__ import annotations

import pytest
from test_long_code import record_draws, streamed
from test_reply_text import seen, streaming


def steps(n: int, outer: str) -> str:
    """`outer` ("- Steps:"), and `n` items under it that wrap, with inline code,
    bold, a list under some of them and now and then a lazy line."""
    parts = [f"{outer}\n"]
    pad = " " * (len(outer.split(" ")[0]) + 1)
    for i in range(n):
        words = " ".join(["step", f"`s_{i}`", "does **this**", "and that"] * (1 + i % 3))
        parts.append(f"{pad}- {words}\n")
        if i % 7 == 3:
            parts.append(f"{pad}  - a detail of step {i}\n")
        if i % 11 == 5:
            parts.append("a lazy line going on the step above\n")
    return "".join(parts)


@pytest.mark.parametrize(
    ("before", "outer"),
    [("Here:\n\n", "- Steps:"), ("", "12. Steps, numbered, with a long head that wraps around:")],
)
async def test_a_list_under_one_item_draws_its_new_items(
    monkeypatch: pytest.MonkeyPatch, before: str, outer: str
) -> None:
    text = before + steps(40, outer) + "\nAfter it.\n"
    drawn = record_draws(monkeypatch)
    async with streaming((60, 30)) as (_pilot, reply):
        most = []
        for draws in streamed(reply, text, 45, drawn):
            if len(reply.source) - reply._done > 2500:
                most.append(max((len(drawn_text) for drawn_text, _ in draws), default=0))
        # Most updates draw the head and an item or two, not the list's 30 and more.
        assert most and sorted(most)[len(most) // 2] < 600
        reply.finish()
        assert [seen(x) for x in reply._done_lines] == [
            seen(x) for x in reply._markdown(reply.source)
        ]
