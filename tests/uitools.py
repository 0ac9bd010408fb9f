"""Helpers for driving the app in tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot

from llamatui.tui.screens.chat import ChatScreen


async def wait_until(pilot: Pilot[None], cond: Callable[[], bool], timeout: float = 60.0) -> None:
    """Let the app run until cond() holds; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {cond}")
        await pilot.pause(0.02)


async def send(pilot: Pilot[None], text: str) -> None:
    """Type a prompt into the prompt box and press Enter."""
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    screen.prompt.focus()
    screen.prompt.text = text
    await pilot.press("enter")
