"""The app on the exllama engine, in its engine process, with the exllamav3 stand-in:
the build notice in the status line, a reply streamed, the model's share per GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
from uitools import send, wait_until

from llamatui.engines.handle import EngineState
from llamatui.engines.host import ProcessHandle
from llamatui.engines.protocol import LoadOptions, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.tui.app import LlamaTUI
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.settings import Settings
from llamatui.tui.widgets.chat_message import AssistantMessage
from llamatui.tui.widgets.meters import Meters


async def test_chat_on_the_exllama_engine(
    exllama_stand_in: Path, tiny_hf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXL3_STANDIN_COMPILE_S", "2.2")
    settings = Settings(
        model=ModelRef("exllama", str(tiny_hf)),
        load=LoadOptions(n_ctx=1000),
        sampling=SamplingParams(temperature=0, max_tokens=12),
    )
    # The registry would say no GPU here: the handle is made directly.
    app = LlamaTUI(settings, make_handle=lambda ref: ProcessHandle(ref.engine), keep_history=False)
    notes: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)

        def ready() -> bool:
            notes.append(str(screen.status.render()))
            return screen.session.state is EngineState.READY

        await wait_until(pilot, ready, timeout=30)
        assert any("building exllamav3's CUDA extension (first run only) 0:0" in n for n in notes)
        info = screen.session.info
        assert info is not None and info.n_ctx == 1024 and info.name == "tiny-llama-fp16"
        await send(pilot, "Tell me a story.")
        await wait_until(pilot, lambda: not screen.session.generating)
        reply = screen.query_one(AssistantMessage).text
        assert reply.startswith("Once upon a time") and len(reply.split()) == 12
        meters = screen.query_one(Meters)
        meters.expanded = True
        await wait_until(pilot, lambda: meters.sample is not None)
        assert any("model on cuda:0" in line for line in meters._parts(24))
