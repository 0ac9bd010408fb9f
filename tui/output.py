"""Textual's output, written so that a terminal that went away cannot hang the app.

When the terminal hangs up (an SSH connection drops), every write to it fails.
Textual's writer thread (8.2) dies at the first failure; its queue, 30 writes long,
then fills, and the next frame blocks the app's event loop for good: the hang-up
signal is never handled, and the app stays, with its engine and the model's memory.
`GoneSafeWriter` drops what it cannot write and goes on, so the app hears the
hang-up and quits in order. `install()` makes the Linux driver use it.
"""

from __future__ import annotations

from textual.drivers._writer_thread import WriterThread


class GoneSafeWriter(WriterThread):
    """Textual's writer thread, which outlives a terminal that is gone."""

    gone = False
    """Whether a write has failed: the terminal is gone, the rest is dropped."""

    def run(self) -> None:
        while True:
            text = self._queue.get()
            if text is None:
                break
            if self.gone:
                continue
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


def install() -> None:
    """Make Textual's Linux driver write with `GoneSafeWriter`."""
    try:
        from textual.drivers import linux_driver
    except ImportError:  # Windows: another driver
        return
    linux_driver.WriterThread = GoneSafeWriter  # type: ignore[attr-defined]
