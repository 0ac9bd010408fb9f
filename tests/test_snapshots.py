"""Snapshots of the chat screen on a deterministic fake engine."""

from __future__ import annotations

import pytest
from fakes import TWO_GPUS, FixedSampler, fake_settings, scripted
from textual.pilot import Pilot
from uitools import send, wait_until

from llamatui.engines.handle import EngineState
from llamatui.tui.app import LlamaTUI
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.widgets.meters import Meters

# The reply streams slowly enough to be drawn before it ends, as a model's is: it
# then ends where it stands, in the rows it held (ReplyText.finish).
STREAMED = scripted(delay_s=0.02)


async def one_exchange(pilot: Pilot[None]) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    screen.prompt.cursor_blink = False
    await wait_until(pilot, lambda: screen.session.state is EngineState.READY)
    await send(pilot, "Show me a list and some code.")
    await wait_until(pilot, lambda: not screen.session.generating)
    await wait_until(pilot, lambda: screen.query_one(Meters).sample is not None)
    await wait_until(pilot, lambda: screen.status.next_prompt is not None)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_chat_screen(snap_compare, size: tuple[int, int]) -> None:
    app = LlamaTUI(
        fake_settings(),
        make_handle=STREAMED,
        keep_history=False,
        sampler=FixedSampler(),
    )
    assert snap_compare(app, terminal_size=size, run_before=one_exchange)


@pytest.mark.parametrize("theme", ["llamatui-dark", "llamatui-light", "llamatui-16"])
@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_each_theme(snap_compare, theme: str, size: tuple[int, int]) -> None:
    async def themed(pilot: Pilot[None]) -> None:
        pilot.app.theme = theme
        await one_exchange(pilot)

    app = LlamaTUI(
        fake_settings(),
        make_handle=STREAMED,
        keep_history=False,
        sampler=FixedSampler(),
    )
    assert snap_compare(app, terminal_size=size, run_before=themed)


def test_chat_screen_empty(snap_compare) -> None:
    async def ready(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, ChatScreen)
        screen.prompt.cursor_blink = False
        await wait_until(pilot, lambda: screen.session.state is EngineState.READY)
        await wait_until(pilot, lambda: screen.query_one(Meters).sample is not None)
        await wait_until(pilot, lambda: screen.status.next_prompt is not None)
        await pilot.pause()

    app = LlamaTUI(
        fake_settings(),
        make_handle=scripted(),
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
        fake_settings(),
        make_handle=STREAMED,
        keep_history=False,
        sampler=FixedSampler(TWO_GPUS),
    )
    assert snap_compare(app, terminal_size=(100, 30), run_before=expanded)
