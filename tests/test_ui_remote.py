"""The app chatting through `llamatui serve`: a reply streams, Esc stops another, and
the history keeps both with the server named."""

from __future__ import annotations

from uitools import chat_ready, send, wait_until

from llamatui.engines.protocol import LoadOptions, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.tui.app import LlamaTUI
from llamatui.tui.cli import build_parser, remote_ref
from llamatui.tui.settings import Settings
from llamatui.tui.widgets.chat_message import AssistantMessage
from llamatui.tui.widgets.meters import Meters

SMOL = "SmolLM2-135M-Instruct.Q4_1"


async def test_chat_through_a_server(serve_url: str) -> None:
    args = build_parser().parse_args(
        ["--remote", serve_url.removesuffix("/v1"), "--remote-model", SMOL]
    )
    ref = remote_ref(args)
    assert ref == ModelRef("remote", serve_url, SMOL)
    app = LlamaTUI(
        Settings(
            model=ref,
            load=LoadOptions(n_ctx=1024),
            sampling=SamplingParams(temperature=0, max_tokens=300),
        )
    )
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await chat_ready(pilot)
        assert screen.status.model is not None and screen.status.model.name == SMOL
        assert screen.session.engine_pid is None  # no engine process here: the server's
        meters = screen.query_one(Meters)
        await wait_until(pilot, lambda: meters.sample is not None)
        assert meters._parts(6)[0] == f"model on {serve_url.split('/')[2]}"
        await send(pilot, "Say hello.")
        await wait_until(pilot, lambda: not screen.session.generating)
        await send(pilot, "Write a long story about a dragon.")
        reply = screen.query(AssistantMessage).last()
        await wait_until(pilot, lambda: len(reply.text) > 40)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.session.generating, timeout=10)
        assert screen.session.last_stats is not None
        assert screen.session.last_stats.finish == "cancelled"
        assert app.store is not None and screen.session.conversation_id is not None
        saved = app.store.messages(screen.session.conversation_id)
    replies = [m for m in saved if m.role == "assistant"]
    assert replies[0].status in ("complete", "cut") and replies[1].status == "stopped"
    assert all(m.meta.model == str(ref) and m.meta.engine == "remote" for m in replies)
    assert replies[1].content and replies[1].content == reply.text
