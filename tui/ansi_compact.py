"""Fewer bytes for the same screen: what Textual writes, with what repeats left out.

Rich writes every run of styled text whole: its colours (`ESC[38;2;r;g;b;48;2;r;g;bm`),
the text, and a reset (`ESC[0m`); Textual puts a cursor move before each widget's part
of a line. So a row of the conversation is a dozen runs, most of them the same
background, some of them empty, and each cursor move lands where the cursor already
is. Over SSH every byte is paid for, and a terminal parses each one. Rewritten here,
with what the terminal shows unchanged:

- a style that is reset and set again with nothing printed between stays set
  (cursor moves in between do not change the style);
- a style set and reset with nothing printed is left out;
- spaces are printed in the style in effect if it looks the same on a space (the
  same background; text colour, bold and italic do not show);
- a cursor move to where the cursor already is, after plain ASCII text (whose width
  no terminal disagrees on), is left out;
- on a terminal that erases in the background colour in effect (terminfo's `bce`,
  as xterm's and most emulators' entries say; tmux, whose entries do not), a long
  run of spaces in a style
  that looks the same as the background is erased (ECH) and stepped over (CUF):
  a held row of a reply, or the blank end of a line, is a few bytes, not a
  screen's width of spaces (they were over 40% of what a reply wrote).

Each write starts and ends with the style reset, as Rich's output does, and sets a
style only after a reset; text written otherwise is left as it is.
"""

from __future__ import annotations

import re
from functools import lru_cache

RESET = "\x1b[0m"
# An SGR (style) sequence, or a cursor move to a row and column.
TOKEN = re.compile(r"(\x1b\[[0-9;:]*m|\x1b\[\d+;\d+H)")
PLAIN = re.compile(r"[ -~]*")
"""Printable ASCII: one cell per character on every terminal."""


ERASE_FROM = 12
"""The shortest run of spaces erased rather than printed (ECH and CUF take 10-12
bytes; 5-6 at a line's end, where a cursor move follows)."""
SPACES = re.compile(f" {{{ERASE_FROM},}}")
LINE_END = re.compile(rf"( {{{ERASE_FROM},}})(\r?\n)?\Z")
"""A run at the end of a text part (before any line break ending it)."""


def compact(text: str, *, erase: bool = False) -> str:
    """`text` as the terminal should receive it: the same screen in fewer bytes.
    With `erase`, the terminal erases in the background colour (`erases_in_colour`)."""
    if "\x1b[" not in text:
        return text
    out: list[str] = []
    shown: str | None = None
    """The style in effect on the terminal (None: reset)."""
    wanted: str | None = None
    """The style the next printed text is in."""
    cursor: tuple[int, int] | None = None
    """Where the cursor is, when known (row, column; 1-based, as CUP has them)."""
    parts = TOKEN.split(text)
    for i, part in enumerate(parts):
        if i % 2 == 0:  # text, and any other control sequence
            if not part:
                continue
            if wanted != shown and not (part.strip(" ") == "" and _blank(wanted) == _blank(shown)):
                if shown is not None:
                    out.append(RESET)
                if wanted is not None:
                    out.append(wanted)
                shown = wanted
            if erase and len(part) >= ERASE_FROM and _erasable(shown) and SPACES.search(part):
                out.append(_erase(part, moved_after=_moves_next(parts, i)))
                cursor = None
                continue
            out.append(part)
            if cursor is not None and PLAIN.fullmatch(part):
                cursor = (cursor[0], cursor[1] + len(part))
            else:
                cursor = None
        elif part.endswith("H"):  # a cursor move: the style stays as it is
            row, col = part[2:-1].split(";")
            target = (int(row), int(col))
            if target != cursor:
                out.append(part)
                cursor = target
        elif part in (RESET, "\x1b[m"):
            wanted = None
        elif wanted is None:
            wanted = part  # Rich sets a style whole, after a reset
        else:
            return text  # styles set on top of one another: not Rich's, left alone
    if wanted != shown:
        if shown is not None:
            out.append(RESET)
        if wanted is not None:
            out.append(wanted)  # a style left set at the end (not Rich's): kept
    return "".join(out)


# SGR attributes a space shows: underline, strike-through, double underline,
# framed, encircled, overline. Reversed, a space shows its text colour and more (bold
# brightens it, dim darkens it): a reversed style is only ever the same as itself.
SHOWN_ON_SPACE = frozenset({"4", "9", "21", "51", "52", "53"})


@lru_cache(maxsize=256)
def _blank(sgr: str | None) -> tuple[str, ...]:
    """What a space printed in style `sgr` looks like: its background and the
    attributes that show on it; for a reversed style, the style itself."""
    if sgr is None:
        return ()
    if ":" in sgr:
        return (sgr,)  # colours written another way: the same as itself only
    params = sgr[2:-1].split(";")
    bg, attrs = "", set()
    i = 0
    while i < len(params):
        p = params[i]
        if p in ("38", "48"):
            # 38;5;n or 38;2;r;g;b: a colour, whose parts are not attributes.
            n = 3 if params[i + 1 : i + 2] == ["5"] else 5
            if p == "48":
                bg = ";".join(params[i : i + n])
            i += n
            continue
        if p == "7":
            return (sgr,)
        if p.isdigit() and (40 <= int(p) <= 47 or 100 <= int(p) <= 107 or p == "49"):
            bg = p
        elif p in SHOWN_ON_SPACE:
            attrs.add(p)
        i += 1
    return (bg, *sorted(attrs))


def _moves_next(parts: list[str], i: int) -> bool:
    """Whether the cursor is moved after text part `i`, before more is printed."""
    for j in range(i + 1, len(parts) - 1, 2):  # the tokens after it, and their text
        if parts[j].endswith("H"):
            return True
        if parts[j + 1]:
            return False
    return False


def _erase(text: str, *, moved_after: bool) -> str:
    """`text` with its long runs of spaces erased and stepped over; a run that ends
    it (before a line break) only erased if the cursor is moved after it."""
    end = LINE_END.search(text) if moved_after else None
    if end is None:
        return SPACES.sub(_erased, text)
    run, newline = end.group(1), end.group(2) or ""
    return SPACES.sub(_erased, text[: end.start()]) + f"\x1b[{len(run)}X" + newline


def _erased(run: re.Match[str]) -> str:
    n = len(run.group())
    return f"\x1b[{n}X\x1b[{n}C"


def _erasable(sgr: str | None) -> bool:
    """Whether spaces in style `sgr` look like erased cells on a terminal that erases
    in the background colour: nothing but the background shows on them."""
    if sgr is None:
        return True
    look = _blank(sgr)
    return len(look) == 1 and look[0] != sgr


def erases_in_colour(term: str | None, in_tmux: bool = False) -> bool:
    """Whether terminal type `term` erases cells in the background colour in effect
    (terminfo's `bce`), rather than the terminal's default, and has ECH and CUF; or
    the app writes to a tmux pane (`in_tmux`), which does, though its entries
    (`tmux-256color`, `screen-256color`) do not say so. Asked once, for the app's
    terminal: Python sets terminfo up once per process, so a later call answers for
    the first type asked about."""
    if in_tmux:
        return True
    if not term:
        return False
    try:
        import curses

        curses.setupterm(term, -1)
        return curses.tigetflag("bce") == 1 and all(curses.tigetstr(cap) for cap in ("ech", "cuf"))
    except Exception:  # no terminfo for it, no curses: spaces, as ever
        return False
