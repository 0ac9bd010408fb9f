"""Textual's input thread wakes when there is something to do, not ten times a second.

Textual 8.2's Linux driver waits for input a tenth of a second at a time, to see
whether it should stop and to time out a lone Esc (the start of an escape sequence
whose rest never comes). Each wake-up of a Python thread costs about 0.15 ms of CPU
here: 1.5 ms a second, 0.15% of a core, idle and while a reply streams (measured:
17 ms in 10 s of the idle app; a bare loop of such waits, 15 ms).

`install()` makes its wait end only on input, when the driver is told to stop (its
exit event, when set, writes to a pipe the wait also watches), or when the parser
waits for the rest of an escape sequence (its own deadline): else after a second,
in case something stops the driver without telling it.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
import weakref
from types import ModuleType
from typing import Any

from textual._time import get_time

from llamatui.tui.paste import PasteSafeParser

LONGEST_WAIT_S = 1.0
"""How long the wait lasts when nothing is due (input and stopping wake it)."""


class WakingEvent(threading.Event):
    """The driver's exit event: setting it wakes the input thread's wait."""

    latest: WakingEvent | None = None
    """The event made last, which the input threads started from then on watch:
    the app has one driver (one event) at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.wake_fd, self._write_fd = os.pipe()
        os.set_blocking(self.wake_fd, False)
        self._signalled = False
        self._watching = 0
        """Input threads whose waits watch this event (their selectors are open)."""
        self._changed = threading.Condition()
        weakref.finalize(self, _close, self.wake_fd, self._write_fd)
        WakingEvent.latest = self

    def watched(self, by: int) -> None:
        """A selector began (+1) or stopped (-1) watching this event."""
        with self._changed:
            self._watching += by
            self._changed.notify_all()

    def set(self) -> None:
        super().set()
        if not self._signalled:  # a byte at most in the pipe: never a blocking write
            self._signalled = True
            os.write(self._write_fd, b"x")

    def clear(self) -> None:
        # Textual clears the event once the input thread it knows of has ended; a
        # terminal that hangs up also sends SIGCONT, on which Textual starts
        # another. Every thread that watches must have seen the event set first.
        with self._changed:
            self._changed.wait_for(lambda: self._watching <= 0, timeout=LONGEST_WAIT_S)
        super().clear()
        with contextlib.suppress(BlockingIOError):
            while os.read(self.wake_fd, 64):
                pass
        self._signalled = False


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


class PatientSelector(selectors.SelectSelector):
    """The input thread's selector: its waits end as described above. It reports
    only the input's readiness (Textual reads its input for every event it gets)."""

    def __init__(self) -> None:
        super().__init__()
        self._event = WakingEvent.latest
        if self._event is not None:
            super().register(self._event.wake_fd, selectors.EVENT_READ)
            self._event.watched(+1)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self._event is None:  # nothing would wake it: Textual's own wait
            return super().select(timeout)
        wait = LONGEST_WAIT_S
        deadline = PasteSafeParser.deadline()
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - get_time()))
        wake = self._event.wake_fd
        return [(key, mask) for key, mask in super().select(wait) if key.fd != wake]

    def close(self) -> None:
        super().close()
        if self._event is not None:
            self._event.watched(-1)
            self._event = None


class PatientSelectors(ModuleType):
    """The `selectors` module as Textual's Linux driver sees it."""

    SelectSelector = PatientSelector

    def __getattr__(self, name: str) -> Any:
        return getattr(selectors, name)


def install() -> None:
    """Make Textual's Linux driver wait for input with `PatientSelector`."""
    try:
        from textual.drivers import linux_driver
    except ImportError:  # Windows: another driver
        return
    linux_driver.Event = WakingEvent  # type: ignore[attr-defined]
    linux_driver.selectors = PatientSelectors("selectors")  # type: ignore[attr-defined]
