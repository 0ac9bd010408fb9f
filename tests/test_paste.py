"""A paste reaches the prompt as text, whole and in order, whatever bytes it holds
(issue 12, bug 1: an ESC in a paste sent what followed it as keys)."""

from __future__ import annotations

import pytest
from textual import events

from llamatui.tui.paste import PasteSafeParser, pictured

# What `tmux paste-buffer -p` sends for the file: ESC, BEL and Ctrl+Q inside.
PASTED = "one \x1b[0m two \x07 three \x1b\x11 four\tfive\nsix"
WIRE = "\x1b[200~" + PASTED + "\x1b[201~"


def read(chunks: list[str]) -> list[events.Event]:
    parser = PasteSafeParser()
    got: list[events.Event] = []
    for chunk in chunks:
        got += [e for e in parser.feed(chunk) if isinstance(e, events.Event)]
    return got


@pytest.mark.parametrize("split", [None, *range(1, len(WIRE))])
def test_a_paste_is_text_in_order_however_it_is_read(split: int | None) -> None:
    chunks = [WIRE] if split is None else [WIRE[:split], WIRE[split:]]
    got = read([*chunks, "x"])
    pastes = [e for e in got if isinstance(e, events.Paste)]
    keys = [e.key for e in got if isinstance(e, events.Key)]
    assert [p.text for p in pastes] == ["one ␛[0m two ␇ three ␛␑ four\tfive\nsix"]
    assert keys == ["x"]  # nothing in the paste acted as a key; typing goes on


def test_esc_alone_is_still_the_escape_key() -> None:
    parser = PasteSafeParser()
    assert parser.guard("\x1b") == "\x1b"  # not held for the next read
    assert parser.guard("\x1b[A") == "\x1b[A"  # nor the keys' sequences


def test_pictures_keep_tabs_and_line_ends() -> None:
    assert pictured("a\tb\r\nc\x1b\x7f\x00") == "a\tb\r\nc␛␡␀"
