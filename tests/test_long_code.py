"""A long code block streaming: each update lexes a few lines, not the whole block,
and what is drawn is what the block drawn whole shows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from markdown_it.token import Token
from test_reply_text import seen, streaming

from llamatui.tui.widgets import markdown_lines, reply_tail


def python_module(classes: int, docstring_at: int | None = None) -> str:
    """About 30 lines of Python a class; with a docstring of 30 lines at column 0
    in class `docstring_at` (a string a lexer started inside it reads as code)."""
    parts = ['"""A module.\n\nIts docstring over lines.\n"""\nimport os\n\n']
    for c in range(classes):
        parts.append(f'class Thing{c}:\n    """Thing {c}."""\n\n')
        if c == docstring_at:
            parts.append('    NOTE = """\n' + "".join(f"line {i} of a note\n" for i in range(30)))
            parts.append('"""\n\n')
        for m in range(4):
            parts.append(
                f"    def method_{m}(self, items: list[str]) -> int:\n"
                "        total = 0\n"
                "        for i, name in enumerate(items):\n"
                f"            if name.startswith('x{m}'):  # a comment\n"
                f"                total += len(name) * {m}\n"
                "        return total\n\n"
            )
    return "".join(parts)


def shown_tail(reply: object) -> list[list[tuple[str, object]]]:
    """The tail's lines as seen, without the blank line between it and the blocks
    before it."""
    lines = reply._tail_lines  # type: ignore[attr-defined]
    if reply._done_lines and lines and not lines[0].text.strip():  # type: ignore[attr-defined]
        lines = lines[1:]
    return [seen(line) for line in lines]


def record_draws(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[Token] | None]]:
    """What the reply draws through Rich from now on: each text, and its parse if
    it was given one."""
    drawn: list[tuple[str, list[Token] | None]] = []
    real = markdown_lines.MarkdownLook.render

    def recorded(
        self: markdown_lines.MarkdownLook, console: object, text: str, *args: object
    ) -> object:
        parsed = args[2] if len(args) > 2 else None
        drawn.append((text, parsed if isinstance(parsed, list) else None))
        return real(self, console, text, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(markdown_lines.MarkdownLook, "render", recorded)
    return drawn


def streamed(
    reply: object, text: str, step: int, drawn: list[tuple[str, list[Token] | None]]
) -> Iterator[list[tuple[str, list[Token] | None]]]:
    """Append `text` to a streaming reply `step` characters at a time: after each
    update, what it drew (`record_draws`); then `check_tail`."""
    for i in range(0, len(text), step):
        drawn.clear()
        reply.append(text[i : i + step])  # type: ignore[attr-defined]
        yield list(drawn)
        check_tail(reply)


def append_checked(reply: object, piece: str) -> None:
    """Append `piece` to a streaming reply, and `check_tail`."""
    reply.append(piece)  # type: ignore[attr-defined]
    check_tail(reply)


def check_tail(reply: object) -> None:
    """The tail shows what it shows drawn whole, colour for colour."""
    tail = reply.source[reply._done :]  # type: ignore[attr-defined]
    whole = [seen(x) for x in reply._markdown(tail)]  # type: ignore[attr-defined]
    assert shown_tail(reply) == whole, len(reply.source)  # type: ignore[attr-defined]


@pytest.mark.parametrize("ends", ["closed", "open"])
@pytest.mark.parametrize("docstring_at", [None, 2])
async def test_a_long_code_block_lexes_a_few_lines_an_update(
    monkeypatch: pytest.MonkeyPatch, docstring_at: int | None, ends: str
) -> None:
    code = python_module(7, docstring_at)
    text = f"Here:\n\n```python\n{code}" + ("```\n\nAfter it.\n" if ends == "closed" else "")
    lexed: list[int] = []
    real = reply_tail.code_lines

    def counted(code: str, language: str) -> list[reply_tail.LexedLine]:
        lexed.append(len(code))
        return real(code, language)

    monkeypatch.setattr(reply_tail, "code_lines", counted)
    async with streaming((100, 40)) as (_pilot, reply):
        most = []
        for i in range(0, len(text), 90):
            lexed.clear()
            append_checked(reply, text[i : i + 90])
            if len(reply.source) - reply._done > 3000:  # well into the block
                most.append(max(lexed, default=0))
        assert len(code) > 6000
        # Lexed a few lines around the new ones, not the block from its start; the
        # docstring lexed from inside makes the block lexed whole until past it.
        assert sorted(most)[len(most) // 2] < 600
        if docstring_at is None:
            assert max(most) < 1000
        reply.finish()
        assert [seen(x) for x in reply._done_lines] == [
            seen(x) for x in reply._markdown(reply.source)
        ]


def test_lexing_starts_at_a_statement_a_few_lines_up() -> None:
    rows = ["class A:", *["        a = 1"] * 20, "    def f(self):", *["        b = 2"] * 10]
    # A short block, or one drawn from near its start: lexed from its start.
    assert reply_tail.restart_line(rows, reply_tail.CODE_CONTEXT) == 0
    assert reply_tail.restart_line(rows, 8) == 0
    # Further down: the least indented of the lines a few above the first drawn
    # (the method's start, not a line of its body).
    assert reply_tail.restart_line(rows, 31) == 21
