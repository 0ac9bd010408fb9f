"""While a reply streams on the real engine: the meters stay live, and the
conversation is drawn without a layout per update."""

from __future__ import annotations

from test_ui_flow import STORY, make_app
from uitools import send, wait_until

from llamatui.engines.handle import EngineState
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.widgets.chat_message import AssistantMessage


async def test_meters_change_while_a_reply_streams() -> None:
    app = make_app(max_tokens=600)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await wait_until(pilot, lambda: screen.session.state is EngineState.READY)
        layouts = 0
        refresh_layout = screen._refresh_layout

        def counting(*args: object, **kw: object) -> None:
            nonlocal layouts
            layouts += 1
            refresh_layout(*args, **kw)  # type: ignore[arg-type]

        screen._refresh_layout = counting  # type: ignore[method-assign]
        await send(pilot, STORY)
        reply = screen.query_one(AssistantMessage)
        await wait_until(pilot, lambda: len(reply.text) > 20)
        seen = {screen.meters._shown}
        updates = {len(reply.text)}
        while screen.session.generating:
            await pilot.pause(0.05)
            seen.add(screen.meters._shown)
            updates.add(len(reply.text))
        # The meters were drawn anew while the model ran (its engine's CPU, RAM).
        assert len(seen) >= 3, seen
        assert all("CPU" in s and "engine" in s for s in seen)
        # Many updates of the reply, few layouts: the reply grows by held rows.
        assert len(updates) > 5
        assert layouts < len(updates), (layouts, len(updates))
        assert reply.markdown.source == reply.text == screen.session.turns[-1]["content"]
