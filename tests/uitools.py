"""Helpers for driving the app in tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable

from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.screens.models import ModelsScreen


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


async def chat_ready(pilot: Pilot[None]) -> ChatScreen:
    """The chat screen, once its model is loaded and ready."""
    from llamatui.engines.handle import EngineState

    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    await wait_until(pilot, lambda: screen.session.state is EngineState.READY)
    return screen


async def open_library(pilot: Pilot[None]) -> ModelsScreen:
    """Ctrl+L once the model is loaded; the library screen once it has scanned."""
    app = pilot.app
    await chat_ready(pilot)
    await pilot.press("ctrl+l")
    await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen))
    lib = app.screen
    assert isinstance(lib, ModelsScreen)
    await wait_until(pilot, lambda: bool(lib.entries))
    lib.query_one(DataTable).focus()
    return lib


def count_layouts(screen: Screen[object]) -> Callable[[], int]:
    """Count the screen's layouts from now on; the returned function says how many."""
    layouts = 0
    refresh_layout = screen._refresh_layout

    def counting(*args: object, **kw: object) -> None:
        nonlocal layouts
        layouts += 1
        refresh_layout(*args, **kw)  # type: ignore[arg-type]

    screen._refresh_layout = counting  # type: ignore[method-assign]
    return lambda: layouts
