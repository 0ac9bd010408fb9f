"""Textual's input thread waits for input, for its driver to stop, or for the rest
of an escape sequence: not a tenth of a second at a time."""

from __future__ import annotations

import os
import selectors
import threading
import time
from collections.abc import Iterator

import pytest
from textual._time import get_time

from llamatui.tui import input_wait
from llamatui.tui.input_wait import LONGEST_WAIT_S, PatientSelector, WakingEvent
from llamatui.tui.paste import PasteSafeParser


@pytest.fixture
def wait() -> Iterator[tuple[WakingEvent, PatientSelector, int]]:
    """An exit event, and the selector made after it watching a pipe's read end
    (the terminal's input); the pipe's write end, to type with."""
    event = WakingEvent()
    typed, typing = os.pipe()
    selector = PatientSelector()
    selector.register(typed, selectors.EVENT_READ)
    PasteSafeParser.latest = None
    yield event, selector, typing
    selector.close()
    os.close(typed)
    os.close(typing)


def timed_select(selector: PatientSelector) -> tuple[list[object], float]:
    start = time.monotonic()
    events = selector.select(0.1)  # Textual's timeout, which the wait goes past
    return list(events), time.monotonic() - start


def test_with_nothing_to_do_it_waits_past_textuals_tenth_of_a_second(wait) -> None:
    _, selector, _ = wait
    events, waited = timed_select(selector)
    assert events == [] and waited >= LONGEST_WAIT_S * 0.9


def test_input_ends_the_wait_and_is_all_it_reports(wait) -> None:
    event, selector, typing = wait
    threading.Timer(0.05, os.write, (typing, b"a")).start()
    events, waited = timed_select(selector)
    assert waited < LONGEST_WAIT_S / 2
    assert [key.fd for key, _ in events] != [] and all(key.fd != event.wake_fd for key, _ in events)


def test_stopping_the_driver_ends_the_wait_and_clearing_rearms_it(wait) -> None:
    event, selector, _ = wait
    threading.Timer(0.05, event.set).start()
    events, waited = timed_select(selector)
    assert events == [] and waited < LONGEST_WAIT_S / 2  # woken, not timed out
    event.set()  # twice: still one byte, nothing blocks
    event.clear()
    events, waited = timed_select(selector)
    assert waited >= LONGEST_WAIT_S * 0.9  # cleared: the pipe no longer wakes it


def test_a_half_read_escape_sequence_ends_the_wait_at_its_deadline(wait) -> None:
    _, selector, _ = wait
    parser = PasteSafeParser()
    list(parser.feed("\x1b"))  # a lone Esc: the parser waits for what follows
    deadline = PasteSafeParser.deadline()
    assert deadline is not None and deadline > get_time()
    _, waited = timed_select(selector)
    assert waited < LONGEST_WAIT_S / 2
    assert [type(k).__name__ for k in parser.tick()] == ["Key"]  # Esc, then


def test_install_changes_only_textuals_linux_driver() -> None:
    from textual.drivers import linux_driver

    input_wait.install()
    assert linux_driver.Event is WakingEvent  # type: ignore[attr-defined]
    assert linux_driver.selectors.SelectSelector is PatientSelector  # type: ignore[attr-defined]
    assert linux_driver.selectors.EVENT_READ == selectors.EVENT_READ  # type: ignore[attr-defined]
    assert threading.Event is not WakingEvent and selectors.SelectSelector is not PatientSelector


def test_every_input_thread_sees_the_event_set_before_it_is_cleared() -> None:
    # A terminal that hangs up also sends SIGCONT, on which Textual starts a second
    # input thread; it joins only the one it knows of, then clears the event.
    event = WakingEvent()
    typed, typing = os.pipe()
    os.write(typing, b"x")  # input always ready: the threads spin, as on a dead tty

    def input_thread(busy_s: float) -> None:
        selector = PatientSelector()
        selector.register(typed, selectors.EVENT_READ)
        try:
            while not event.is_set():
                selector.select(0.1)
                time.sleep(busy_s)  # reading what came: the event is not looked at
        finally:
            selector.close()

    threads = [
        threading.Thread(target=input_thread, args=(busy,), daemon=True) for busy in (0.2, 0)
    ]
    for t in threads:
        t.start()
    time.sleep(0.05)
    event.set()
    threads[1].join()
    event.clear()  # Textual's order: set, join the one it knows, clear
    threads[0].join(timeout=5)
    assert not threads[0].is_alive()
    os.close(typed)
    os.close(typing)
