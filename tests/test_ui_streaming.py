"""While a reply streams: the meters stay live, the conversation is drawn without a
layout per update, and a draft sent too early is kept as it was."""

from __future__ import annotations

import threading

from fakes import fake_settings, scripted
from test_ui_flow import STORY, make_app
from uitools import chat_ready, count_layouts, send, wait_until

from llamatui.tui.app import LlamaTUI
from llamatui.tui.widgets.chat_message import AssistantMessage


async def test_meters_change_while_a_reply_streams() -> None:
    app = make_app(max_tokens=600)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        layouts = count_layouts(screen)
        await send(pilot, STORY)
        reply = screen.query_one(AssistantMessage)
        await wait_until(pilot, lambda: len(reply.text) > 20)
        first = screen.meters._shown  # may be a sample from before the engine ran
        seen: set[str] = set()
        updates = {len(reply.text)}
        while screen.session.generating:
            await pilot.pause(0.05)
            if screen.meters._shown != first:
                seen.add(screen.meters._shown)
            updates.add(len(reply.text))
        # The meters were drawn anew while the model ran (its engine's CPU, RAM).
        assert len(seen) >= 2, (first, seen)
        assert all("CPU" in s and "engine" in s for s in seen), seen
        # Many updates of the reply, few layouts: the reply grows by held rows.
        assert len(updates) > 5
        assert layouts() < len(updates), (layouts(), len(updates))
        assert reply.markdown.source == reply.text == screen.session.turns[-1]["content"]


async def test_enter_while_a_reply_streams_keeps_the_draft_and_the_cursor_at_its_end() -> None:
    step = threading.Event()
    app = LlamaTUI(fake_settings(), keep_history=False, make_handle=scripted(step=step))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await chat_ready(pilot)
        assert not screen.meters.busy  # idle: the meters sample every two seconds
        await send(pilot, "First.")
        assert screen.session.generating
        assert screen.meters.busy  # once a second while the model works
        # The context meter counts what was sent while the first reply streams.
        meter = str(screen.status.render()).split("ctx ")[1].split("/")[0]
        assert meter.startswith("~") and int(meter[1:]) > 0
        await pilot.press(*"next one")
        await pilot.press("enter")  # busy: the draft is not sent
        await pilot.pause()
        assert screen.prompt.text == "next one"
        assert screen.prompt.cursor_location == screen.prompt.document.end
        await pilot.press("!")
        assert screen.prompt.text == "next one!"
        step.set()
        await wait_until(pilot, lambda: not screen.session.generating)
