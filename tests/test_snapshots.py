"""Snapshots of the chat screen on a deterministic fake engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import TWO_GPUS, FakeClient, FixedSampler
from textual.pilot import Pilot
from uitools import send, wait_until

from llamatui.tui.app import LlamaTUI
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.settings import Settings
from llamatui.tui.widgets.meters import Meters


async def one_exchange(pilot: Pilot[None]) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    screen.prompt.cursor_blink = False
    await wait_until(pilot, lambda: screen.status.state == "ready")
    await send(pilot, "Show me a list and some code.")
    await wait_until(pilot, lambda: not screen.generating)
    await wait_until(pilot, lambda: screen.query_one(Meters).sample is not None)
    await wait_until(pilot, lambda: screen.status.next_prompt is not None)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_chat_screen(snap_compare, size: tuple[int, int]) -> None:
    app = LlamaTUI(
        Settings(model_path=Path("fake-model.Q4_0.gguf")),
        client=FakeClient(),
        keep_history=False,
        sampler=FixedSampler(),
    )
    assert snap_compare(app, terminal_size=size, run_before=one_exchange)


def test_chat_screen_empty(snap_compare) -> None:
    async def ready(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, ChatScreen)
        screen.prompt.cursor_blink = False
        await wait_until(pilot, lambda: screen.status.state == "ready")
        await wait_until(pilot, lambda: screen.query_one(Meters).sample is not None)
        await wait_until(pilot, lambda: screen.status.next_prompt is not None)
        await pilot.pause()

    app = LlamaTUI(
        Settings(model_path=Path("fake-model.Q4_0.gguf")),
        client=FakeClient(),
        keep_history=False,
        sampler=FixedSampler(),
    )
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


def test_two_gpus_in_the_meters_pane(snap_compare) -> None:
    async def expanded(pilot: Pilot[None]) -> None:
        await one_exchange(pilot)
        await pilot.press("ctrl+g")
        await pilot.pause(1.2)  # a few samples: the sparklines fill in

    app = LlamaTUI(
        Settings(model_path=Path("fake-model.Q4_0.gguf")),
        client=FakeClient(),
        keep_history=False,
        sampler=FixedSampler(TWO_GPUS),
    )
    assert snap_compare(app, terminal_size=(100, 30), run_before=expanded)
