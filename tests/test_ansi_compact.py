"""What the app writes, compacted (`tui/ansi_compact.py`): the same screen in fewer
bytes. Each rule on a line written as Rich writes them, read back by a terminal
emulator; a whole streamed reply is compared in tests/test_direct_paint.py."""

from __future__ import annotations

import random
import subprocess
import sys

import pyte

from llamatui.tui.ansi_compact import compact

BG = "\x1b[48;2;26;27;38m"
TEXT = "\x1b[38;2;192;202;245;48;2;26;27;38m"
BAR = "\x1b[38;2;158;206;106;48;2;26;27;38m"
RESET = "\x1b[0m"


def look(data: str, cols: int = 20, rows: int = 3) -> list[list[tuple[object, ...]]]:
    """Each cell as it looks: a space by what shows on it, other characters whole."""
    screen = pyte.Screen(cols, rows)
    pyte.Stream(screen).feed(data)
    cells = []
    for y in range(rows):
        row = []
        for x in range(cols):
            c = screen.buffer[y][x]
            if c.data == " ":
                row.append((" ", c.bg, c.reverse, c.underscore, c.strikethrough))
            else:
                row.append((c.data, c.fg, c.bg, c.bold, c.italics, c.reverse, c.underscore))
        cells.append(row)
    return cells


def test_a_style_reset_and_set_again_stays_set() -> None:
    raw = f"\x1b[1;1H{BG} {RESET}\x1b[1;2H{BG}ab{RESET}{BG}cd{RESET}"
    assert compact(raw) == f"\x1b[1;1H{BG} abcd{RESET}"
    assert look(compact(raw)) == look(raw)


def test_an_empty_run_and_a_move_to_where_the_cursor_is_are_left_out() -> None:
    raw = f"\x1b[2;1H{BAR}ab{RESET}{TEXT}{RESET}\x1b[2;3H{BAR}c{RESET}"
    assert compact(raw) == f"\x1b[2;1H{BAR}abc{RESET}"
    assert look(compact(raw)) == look(raw)


def test_spaces_keep_the_style_in_effect_when_they_look_the_same() -> None:
    # Spaces in another text colour on the same background look the same.
    raw = f"\x1b[1;1H{BAR}x{RESET}{TEXT}   {RESET}{BG} {RESET}{TEXT}y{RESET}"
    assert compact(raw) == f"\x1b[1;1H{BAR}x    {RESET}{TEXT}y{RESET}"
    assert look(compact(raw)) == look(raw)
    # Not when they are underlined, or on another background.
    under = "\x1b[4;38;2;192;202;245;48;2;26;27;38m"
    other = "\x1b[48;2;7;8;23m"
    for style in (under, other):
        raw = f"\x1b[1;1H{BAR}x{RESET}{style}  {RESET}"
        assert style in compact(raw)
        assert look(compact(raw)) == look(raw)


def test_a_move_after_wide_or_unusual_text_is_kept() -> None:
    # The terminal's idea of the width of "█" or "日" may not be Rich's.
    for text in ("█", "日本"):
        raw = f"\x1b[1;1H{BAR}{text}{RESET}\x1b[1;{1 + len(text)}H{BG}z{RESET}"
        assert compact(raw).count("H") == 2


def test_a_reversed_space_is_the_same_only_as_itself() -> None:
    # Reversed, a space shows the text colour, brightened by bold.
    reverse, bold_reverse = "\x1b[7;31m", "\x1b[1;7;31m"
    raw = f"\x1b[1;1H{reverse} {RESET}{bold_reverse} {RESET}"
    assert bold_reverse in compact(raw)
    assert look(compact(raw)) == look(raw)
    # A colour with a 7 in it is not reverse.
    dark = "\x1b[48;2;7;8;23m"
    raw = f"\x1b[1;1H{dark}x{RESET}\x1b[38;2;1;2;3;48;2;7;8;23m {RESET}"
    assert compact(raw) == f"\x1b[1;1H{dark}x {RESET}"


def test_text_not_written_as_rich_writes_is_left_as_it_is() -> None:
    for raw in ("", "plain", "\x1b[?25l", "\x1b[?2026h", "a\r\nb", "\x1b[1m\x1b[31mx\x1b[0m"):
        assert compact(raw) == raw
    # A style left set at the end stays set.
    assert compact("\x1b[1mabc") == "\x1b[1mabc"
    assert compact("\x1b[38:2::255:0:0mRED\x1b[0m") == "\x1b[38:2::255:0:0mRED\x1b[0m"


def test_long_blank_runs_are_erased_where_the_terminal_erases_in_colour() -> None:
    # A reply's held rows and lines' blank ends: erased (ECH) and stepped over (CUF),
    # in the background in effect; not stepped over where a move follows.
    blank, word = " " * 30, "x" + " " * 14 + "y"
    raw = (
        f"\x1b[1;1H{TEXT}ab{blank}cd{RESET}\x1b[2;1H{BG}{blank}{RESET}\x1b[3;1H{TEXT}{word}{RESET}"
    )
    small = compact(raw, erase=True)
    assert small.count("\x1b[30X") == 2 and small.count("\x1b[30C") == 1
    assert "\x1b[14X\x1b[14C" in small
    assert look(small, cols=40) == look(raw, cols=40)
    assert len(small) < len(compact(raw)) - 40
    # What follows a run is written, whatever it ends with ("100 °C"), and a run at
    # a line's end before a break and a move is erased without the step.
    raw = (
        f"\x1b[1;1H{TEXT}Boiling point:{' ' * 14}100 °C{RESET}\x1b[2;1H{BG}x"
        f"{' ' * 20}\n{RESET}\x1b[3;1H{TEXT}end{RESET}"
    )
    small = compact(raw, erase=True)
    assert "100 °C" in small and "\x1b[20X\n" in small
    assert look(small, cols=40) == look(raw, cols=40)
    # Every line break stays (one at the bottom scrolls the screen).
    raw = f"\x1b[1;1H{BG}x{' ' * 20}\n\n{RESET}\x1b[3;1Hy"
    assert compact(raw, erase=True).count("\n") == 2
    # Not where spaces show more than the background, nor short runs; nor on a
    # terminal that does not erase in colour.
    under = "\x1b[4;38;2;192;202;245;48;2;26;27;38m"
    for style in (under, "\x1b[7;31m"):
        raw = f"\x1b[1;1H{style}{blank}{RESET}"
        assert compact(raw, erase=True) == raw
    raw = f"\x1b[1;1H{BG}{' ' * 11}{RESET}"
    assert compact(raw, erase=True) == raw
    raw = f"\x1b[1;1H{BG}{blank}{RESET}"
    assert compact(raw) == raw


STYLES = [None, BG, TEXT, "\x1b[1;38;2;1;2;3;48;2;26;27;38m", "\x1b[4;48;2;26;27;38m",
          "\x1b[7;31m", "\x1b[38;5;3m", "\x1b[48;5;4m", "\x1b[1m", "\x1b[9;48;5;4m"]  # fmt: skip
WORDS = ["a", "ABC", "xyz", "C", "日", "hello", "é", "x"]


def rich_like_write(rng: random.Random, cols: int, rows: int) -> str:
    """Rows of runs as Rich and Textual write them: a move, styled runs of words
    and spaces (wide characters too), a reset after each; a line break sometimes."""
    out = []
    for y in range(1, rows + 1):
        x = 1
        for _ in range(rng.randint(1, 3)):
            if x > cols:
                break
            out.append(f"\x1b[{y};{x}H")
            for _ in range(rng.randint(1, 4)):
                style, text, width = rng.choice(STYLES), "", 0
                while rng.random() < 0.8:
                    piece = " " * rng.randint(1, 20) if rng.random() < 0.5 else rng.choice(WORDS)
                    cells = sum(2 if ch == "日" else 1 for ch in piece)
                    if x + width + cells > cols + 1:
                        break
                    text, width = text + piece, width + cells
                if text:
                    out.append((style or "") + text + (RESET if style else ""))
                    x += width
        if y < rows and rng.random() < 0.5:
            out.append("\n")
    return "".join(out)


def test_compacted_writes_look_the_same_erased_or_not() -> None:
    rng = random.Random(11)
    for _ in range(1500):
        cols = rng.randint(15, 40)
        raw = rich_like_write(rng, cols, 4)
        for erase in (False, True):
            assert look(compact(raw, erase=erase), cols, 4) == look(raw, cols, 4), (raw, erase)


def erases(term: str, in_tmux: bool = False) -> bool:
    # terminfo is set up once per process: each terminal type in one of its own.
    code = (
        "from llamatui.tui.ansi_compact import erases_in_colour as e;"
        f"print(e({term!r}, {in_tmux!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def test_whether_a_terminal_erases_in_colour_is_its_terminfo_entrys_bce() -> None:
    assert erases("xterm-256color") and erases("linux")
    assert not erases("vt100") and not erases("dumb") and not erases("no-such-terminal")
    # tmux erases in colour (its entries do not say so; test_tmux reads its panes).
    assert not erases("screen") and erases("screen", in_tmux=True)
