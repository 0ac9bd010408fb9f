"""Pasted text stays text, whatever bytes it holds.

Textual's input parser (8.2) reads an ESC inside a bracketed paste as the start of an
escape sequence: what follows it leaves the paste, and once the sequence is too long
to be one, it is typed as keys, before the rest of the paste arrives. A pasted
`one \\e[0m two \\a three` left `^[0m two  threeone` in the prompt, its BEL pressed
Ctrl+G, and a Ctrl+Q byte after an ESC quit the app.

`PasteSafeParser` shows the control characters of a paste as their Unicode pictures
(ESC as ␛, BEL as ␇) before Textual's parser reads them, so a paste reaches the prompt
whole and in order, and nothing in it acts as a key. Tabs and line ends stay as they
are. `install()` makes the Linux driver (Linux and macOS) use it.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._xterm_parser import XTermParser
from textual.message import Message

START = "\x1b[200~"
END = "\x1b[201~"
_PICTURES = {c: chr(0x2400 + c) for c in range(0x20) if chr(c) not in "\t\n\r"}
_PICTURES[0x7F] = "\u2421"  # ␡


def pictured(text: str) -> str:
    """`text` with control characters (but tab and line ends) as visible pictures."""
    return text.translate(_PICTURES)


def _partial(data: str, marker: str) -> int:
    """Where a proper prefix of `marker` that ends `data` starts (len(data) if none)."""
    for size in range(min(len(marker) - 1, len(data)), 0, -1):
        if marker.startswith(data[-size:]):
            return len(data) - size
    return len(data)


class PasteSafeParser(XTermParser):
    """Textual's parser, fed pastes with their control characters made visible."""

    latest: PasteSafeParser | None = None
    """The parser made last: the one the input thread reads with."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        PasteSafeParser.latest = self
        self._pasting = False
        self._held = ""
        """The end of the last read, where it may be the start of a paste's marker."""
        self._esc_last = False
        """Whether the last read ended with an ESC, which a paste's start may follow."""

    @classmethod
    def deadline(cls) -> float | None:
        """When the parser made last stops waiting for the rest of an escape
        sequence (a lone Esc is then the Esc key), on Textual's clock; None if it
        waits for nothing."""
        return cls.latest._timeout_time if cls.latest is not None else None

    def feed(self, data: str) -> Iterable[Message]:
        if not data:
            return super().feed(data)  # the end of input
        guarded = self.guard(data)
        # All of it held (a marker's start): nothing to read yet. An empty feed would
        # tell Textual's parser that input has ended.
        return super().feed(guarded) if guarded else ()

    def guard(self, data: str) -> str:
        """The input with pasted control characters replaced; markers kept."""
        data, self._held = self._held + data, ""
        out: list[str] = []
        at = 0
        if self._esc_last and not self._pasting and data.startswith(START[1:]):
            out.append(START[1:])  # the ESC before it went with the last read
            self._pasting, at = True, len(START) - 1
        self._esc_last = data.endswith("\x1b")
        while at < len(data):
            marker = END if self._pasting else START
            found = data.find(marker, at)
            if found < 0:
                rest = data[at:]
                # A marker split between reads: hold its start for the next read. Not
                # a lone ESC outside a paste: that is the Esc key, and must go now.
                cut = _partial(rest, marker)
                if not self._pasting and len(rest) - cut < 2:
                    cut = len(rest)
                self._held = rest[cut:]
                out.append(pictured(rest[:cut]) if self._pasting else rest[:cut])
                break
            text = data[at:found]
            out.append(pictured(text) if self._pasting else text)
            out.append(marker)
            self._pasting = not self._pasting
            at = found + len(marker)
        return "".join(out)


def install() -> None:
    """Make Textual's Linux driver read input with `PasteSafeParser`."""
    try:
        from textual.drivers import linux_driver
    except ImportError:  # Windows: another driver, another parser
        return
    linux_driver.XTermParser = PasteSafeParser  # type: ignore[attr-defined]
