"""llamatui as a person runs it over SSH: in tmux, at 80x24, under
TERM=xterm-256color and TERM=screen. A prompt streams a reply read back from the
pane; a paste holding ESC, BEL and Ctrl+Q bytes lands in the prompt as text, in
order, and the app runs on (issue 12); Esc alone still closes a dialog; Ctrl+Q
quits. Skipped where tmux is not installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

PASTE = "one \x1b[0m two \x07 three \x1b\x11 four"
SEEN = "one ␛[0m two ␇ three ␛␑ four"


class Tmux:
    """A tmux server of the test's own (its own socket), one 80x24 pane."""

    def __init__(self, tmp: Path, term: str) -> None:
        self.socket = f"llamatui-test-{os.getpid()}-{term}"
        llamatui = Path(sys.executable).with_name("llamatui")
        env = " ".join(
            f"{k}={tmp / k.lower()}"
            for k in ("LLAMATUI_DATA_DIR", "LLAMATUI_CONFIG_DIR", "LLAMATUI_LOG_DIR")
        )
        command = f"env TERM={term} COLORTERM= {env} {llamatui} --threads 2"
        self.tmux("new-session", "-d", "-s", "t", "-x", "80", "-y", "24", command)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen(self, escapes: bool = False) -> str:
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "t")

    def wait_for(self, seen: Callable[[str], bool], what: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if seen(text):
                return text
            assert time.monotonic() < deadline, f"never saw {what}; the pane:\n{text}"
            time.sleep(0.2)

    def alive(self) -> bool:
        """Whether the app still runs (its pane, and so the server, end with it)."""
        done = subprocess.run(
            ["tmux", "-L", self.socket, "list-panes", "-t", "t", "-F", "#{pane_dead}"],
            capture_output=True,
            text=True,
        )
        return done.returncode == 0 and done.stdout.strip() == "0"

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture(params=["xterm-256color", "screen"])
def pane(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Tmux, str]]:
    tmux = Tmux(tmp_path, request.param)
    try:
        yield tmux, request.param
    finally:
        tmux.close()


def test_chat_and_paste_in_tmux(pane: tuple[Tmux, str], tmp_path: Path) -> None:
    tmux, term = pane
    tmux.wait_for(lambda s: "· ready" in s, "the model ready")
    tmux.tmux("send-keys", "-t", "t", "Say hello to me.", "Enter")
    text = tmux.wait_for(lambda s: "TTFT" in s and "tok/s" in s.split("Say hello")[-1], "a reply")
    # (A long reply may have scrolled the prompt out of the pane.)
    reply = text.split("Say hello to me.")[-1].split("tok/s")[0]
    assert sum(c.isalpha() for c in reply) > 10, text  # streamed words, read back
    if term == "screen":  # 16 colours: only the terminal's own, nothing approximated
        drawn = tmux.screen(escapes=True)
        assert "38;2;" not in drawn and "48;2;" not in drawn and "38;5;" not in drawn
    (tmp_path / "paste").write_bytes(PASTE.encode())
    tmux.tmux("load-buffer", str(tmp_path / "paste"))
    tmux.tmux("paste-buffer", "-p", "-t", "t")
    tmux.wait_for(lambda s: SEEN in s, "the paste in the prompt, in order")
    time.sleep(0.5)
    assert tmux.alive() and "· ready" in tmux.screen()  # nothing in it acted as a key
    # Esc alone is a key (the input waits out the rest of a sequence, then reads
    # it): it closes the keys dialog.
    tmux.tmux("send-keys", "-t", "t", "F1")
    tmux.wait_for(lambda s: "Send the message" in s, "the keys dialog")
    tmux.tmux("send-keys", "-t", "t", "Escape")
    tmux.wait_for(lambda s: "Send the message" not in s, "Esc to close the dialog", timeout=10)
    tmux.tmux("send-keys", "-t", "t", "C-q")
    deadline = time.monotonic() + 15
    while tmux.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not tmux.alive()  # Ctrl+Q quits
