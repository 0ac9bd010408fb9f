"""Textual's terminal input and output, for a terminal that goes away.

When a terminal hangs up (an SSH connection drops, tmux's server is killed), two
things in Textual (8.2) keep the app from hearing of it:

- Its writer thread dies at the first failed write; its queue, 30 writes long, then
  fills, and the next frame blocks the event loop for good. `GoneSafeWriter` drops
  what it cannot write and goes on.
- Its input thread reads the end of the terminal's input, and reads it again, ten
  times a second, forever: about a fifth of a core, and nothing else happens. The
  hang-up signal does not always come either: it goes to the terminal's session
  leader, and one that waits for the app (`make run`) never passes it on. The reads
  here take that end of input as the hang-up it is, and raise SIGHUP in the app:
  the app quits in order, as on a signal.

`install()` makes the Linux driver use both. The writer also writes what the app
draws compacted (`ansi_compact`): the same screen in fewer bytes (blank runs
erased, where the terminal's type says it erases in the background colour).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
from types import ModuleType
from typing import Any

from textual.drivers._writer_thread import WriterThread

from llamatui.tui.ansi_compact import compact, erases_in_colour


class GoneSafeWriter(WriterThread):
    """Textual's writer thread, which outlives a terminal that is gone."""

    gone = False
    """Whether a write has failed: the terminal is gone, the rest is dropped."""
    erase = False
    """Whether the terminal erases in the background colour: long runs of spaces
    are written as erased cells (`ansi_compact`)."""

    def run(self) -> None:
        while True:
            text = self._queue.get()
            if text is None:
                break
            if self.gone:
                continue
            # A bug in compacting must not stop the screen: the text goes as it was.
            with contextlib.suppress(Exception):
                text = compact(text, erase=self.erase)
            try:
                self._file.write(text)
                if self._queue.qsize() == 0:
                    self._file.flush()
            except (OSError, ValueError):  # EIO from a hung-up terminal; a closed file
                self.gone = True
        if not self.gone:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self.gone = True


class HangUpReads(ModuleType):
    """The `os` module as Textual's input thread sees it: a read that finds the end of
    the input of a terminal that hung up raises SIGHUP in the app, once (a terminal in
    raw mode reads Ctrl+D as a key; piped input that ends is not a hang-up)."""

    told = False

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def read(self, fd: int, n: int) -> bytes:
        data = os.read(fd, n)
        if not data and not self.told and hung_up(fd):
            self.told = True
            os.kill(os.getpid(), signal.SIGHUP)
        return data


def hung_up(fd: int) -> bool:
    """Whether `fd` is a terminal that hung up: asked for its settings it answers EIO
    (a pipe or a file answers ENOTTY)."""
    import termios  # the Linux driver's platforms only

    try:
        termios.tcgetattr(fd)
    except termios.error as e:
        return bool(e.args) and e.args[0] == errno.EIO
    return False


def install() -> None:
    """Make Textual's Linux driver write with `GoneSafeWriter` and read with
    `HangUpReads`."""
    try:
        from textual.drivers import linux_driver
    except ImportError:  # Windows: another driver
        return
    # In a tmux pane (here or over SSH), tmux sets TMUX for what runs in it.
    GoneSafeWriter.erase = erases_in_colour(os.environ.get("TERM"), bool(os.environ.get("TMUX")))
    linux_driver.WriterThread = GoneSafeWriter  # type: ignore[attr-defined]
    linux_driver.os = HangUpReads("os")  # type: ignore[attr-defined]
