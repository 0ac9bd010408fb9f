"""The whole app, headless, on the real engine and model."""

from __future__ import annotations

import gc
import os
import signal
from pathlib import Path

from engine_refs import gguf
from uitools import chat_ready, send, wait_until

from llamatui.engines.handle import EngineState
from llamatui.engines.protocol import LoadOptions, SamplingParams
from llamatui.tui.app import GC_YOUNG_THRESHOLD, LlamaTUI
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.settings import Settings
from llamatui.tui.widgets.chat_message import AssistantMessage, Notice, UserMessage

STORY = "Write a long story about a dragon."


def make_app(model: Path | None = None, max_tokens: int = 2000) -> LlamaTUI:
    return LlamaTUI(
        Settings(
            model=gguf(model) if model else None,
            load=LoadOptions(n_ctx=2048),
            engine_options={"llamacpp": {"threads": 2}},
            sampling=SamplingParams(temperature=0, max_tokens=max_tokens),
        )
    )


async def test_reply_streams_and_escape_stops_it() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        assert screen.status.model is not None
        assert screen.status.model.name == "SmolLM2-135M-Instruct.Q4_1"
        # Young objects are collected less often than Python's default (700): drawing
        # a reply makes many that die at once.
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD > 700
        await send(pilot, STORY)
        reply = screen.query_one(AssistantMessage)
        seen: set[int] = set()

        def grown() -> bool:
            seen.add(len(reply.text))
            return len(reply.text) > 200

        await wait_until(pilot, grown)
        assert len({n for n in seen if n > 0}) >= 2  # it arrived in pieces
        assert screen.session.generating
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.session.generating, timeout=5)
        stopped_at = reply.text
        await pilot.pause(0.3)
        assert reply.text == stopped_at  # nothing more arrives
        footer = str(reply.query_one(".reply-footer").render())
        assert footer.startswith("stopped")
        assert screen.session.turns[-1] == {"role": "assistant", "content": stopped_at}
        assert screen.status.stats is not None
        assert screen.status.stats.finish == "cancelled"
        # The markdown on screen is the reply text.
        assert reply.markdown.source == stopped_at
        # A second prompt continues the conversation.
        await send(pilot, "Now in one sentence.")
        await wait_until(
            pilot, lambda: not screen.session.generating and len(screen.session.turns) == 4
        )
        assert len(screen.query(UserMessage)) == 2


async def test_killed_engine_keeps_the_conversation_and_restarts() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        await send(pilot, STORY)
        reply = screen.query_one(AssistantMessage)
        await wait_until(pilot, lambda: len(reply.text) > 50)
        pid = app.chat.session.loader.handle.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await wait_until(pilot, lambda: bool(screen.query(Notice)))
        notice = str(screen.query_one(Notice).render())
        assert "the engine stopped: it was killed (SIGKILL)" in notice
        assert screen.session.state is EngineState.STOPPED
        assert screen.session.turns[0] == {"role": "user", "content": STORY}
        assert screen.session.turns[1]["role"] == "assistant"
        assert screen.session.turns[1]["content"] == reply.text and reply.text
        # Sending again starts the engine again and the reply streams.
        await send(pilot, "Say hello.")
        await wait_until(
            pilot, lambda: len(screen.session.turns) == 4 and not screen.session.generating
        )
        assert app.chat.session.loader.handle.pid != pid
        assert screen.session.state is EngineState.READY


async def test_restart_key_brings_the_engine_back() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        pid = app.chat.session.loader.handle.pid
        await pilot.press("ctrl+r")
        await wait_until(
            pilot,
            lambda: screen.session.state is EngineState.READY and screen.session.engine_pid != pid,
        )
        assert app.chat.session.loader.handle.alive


async def test_bad_model_file_is_explained_and_the_app_keeps_running(
    bad_files: dict[str, Path],
) -> None:
    app = make_app(bad_files["ggml"])
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await wait_until(pilot, lambda: screen.session.state is EngineState.FAILED)
        text = str(screen.query_one(Notice).render())
        assert "Could not load the model" in text
        assert "ggml.gguf" in text and "must be converted to GGUF" in text
        await send(pilot, "hello?")
        await wait_until(pilot, lambda: len(screen.query(Notice)) == 2)
        assert screen.session.turns == [{"role": "user", "content": "hello?"}]
        assert not screen.session.generating
        assert app.is_running
        # Issue 12, bug 5: the status said "no model · stopped" (or "ready") here.
        status = str(screen.status.render())
        assert status.startswith("no model · the model could not be loaded"), status
        assert "ready" not in status and "stopped" not in status
