"""A conversation's own settings (issue 12): every sampling field and preset reaches
the engine, they are stored with the conversation and come back with it, the
dialog (F4) checks what is typed, and on the real engine a seed repeats a sampled
reply and a stop string ends one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from threading import Event
from typing import Any, ClassVar

import pytest
from textual.widgets import Input, Label, Select
from uitools import chat_ready, send, wait_until

from llamatui.engines.handle import InProcessHandle
from llamatui.engines.protocol import Delta, LoadOptions, ReplyStats, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.engines.scripted import ScriptedEngine
from llamatui.engines.templates import ChatMessage
from llamatui.tui.app import LlamaTUI
from llamatui.tui.chat import events as ev
from llamatui.tui.chat.sampling import BUILTIN_PRESETS, ChatSettings, SamplingError
from llamatui.tui.chat.session import ChatSession
from llamatui.tui.history.store import Store
from llamatui.tui.screens.chat_settings import ChatSettingsDialog, parse
from llamatui.tui.settings import Settings

FAKE = ModelRef("scripted", "fake")
ALL = {
    "temperature": 0.35,
    "top_p": 0.8,
    "top_k": 17,
    "min_p": 0.07,
    "repeat_penalty": 1.15,
    "max_tokens": 9,
    "seed": 1234,
    "stop": ("User:", "\n\n"),
}


class Recording(ScriptedEngine):
    """The scripted engine, keeping the sampling of each reply it was asked for."""

    received: ClassVar[list[SamplingParams]] = []

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams,
        cancel: Event,
        continue_last: bool = False,
    ) -> Iterator[Delta | ReplyStats]:
        Recording.received.append(params)
        yield from super().stream(messages, params, cancel, continue_last)


@pytest.fixture
def received() -> Iterator[list[SamplingParams]]:
    Recording.received = []
    yield Recording.received


def handle(_: ModelRef) -> InProcessHandle:
    return InProcessHandle("scripted", lambda: Recording("One two three four five six."))


def session_with(
    settings: Settings,
    store: Store | None = None,
    ended: list[str] | None = None,
    *,
    real: bool = False,
) -> ChatSession:
    session: ChatSession

    def emit(event: ev.Event) -> None:
        session.apply(event)
        if isinstance(event, ev.ReplyEnded) and ended is not None:
            ended.append(event.text)

    maker = None if real else handle  # the registry's: the real engine
    session = ChatSession(settings, store, emit, make_handle=maker, recent_path=None)
    return session


def reply(session: ChatSession, text: str) -> None:
    session.run_reply(session.send(text))


def test_each_field_reaches_the_engine(received: list[SamplingParams]) -> None:
    session = session_with(Settings(model=FAKE))
    for name, value in ALL.items():
        session.chat = ChatSettings(values={name: value})
        reply(session, f"Set {name}.")
        assert getattr(received[-1], name) == value, name
        rest = {k: v for k, v in vars(received[-1]).items() if k != name}
        assert rest == {k: v for k, v in vars(SamplingParams()).items() if k != name}
    session.chat = ChatSettings(values=ALL)
    reply(session, "All of them.")
    assert received[-1] == SamplingParams(**ALL)
    session.close()


def test_each_preset_reaches_the_engine_under_the_fields(received: list[SamplingParams]) -> None:
    mine = SamplingParams(temperature=0.15, top_k=5, stop=("END",))
    presets = {**BUILTIN_PRESETS, "mine": mine}
    settings = Settings(model=FAKE, presets=presets)
    session = session_with(settings)
    for name, params in presets.items():
        session.chat = ChatSettings(preset=name)
        reply(session, f"Preset {name}.")
        assert received[-1] == params, name
    # The conversation's fields over its preset; the preset over the model's.
    session.chat = ChatSettings(preset="creative", values={"seed": 5})
    reply(session, "Both.")
    assert received[-1] == replace(BUILTIN_PRESETS["creative"], seed=5)
    session.close()


def test_the_settings_are_stored_with_the_conversation(
    tmp_path: Path, received: list[SamplingParams]
) -> None:
    store = Store(tmp_path / "h.db")
    session = session_with(Settings(model=FAKE), store)
    session.chat = ChatSettings(preset="precise", values={"seed": 9, "stop": ("Q:",)})
    reply(session, "Hello.")
    cid = session.conversation_id
    assert cid is not None
    conv = store.conversation(cid)
    assert conv is not None and conv.settings == {"preset": "precise", "seed": 9, "stop": ["Q:"]}
    # Opened again (another run), the conversation samples as it did.
    other = session_with(Settings(model=FAKE), store)
    other.open(cid, store.messages(cid), ChatSettings.from_data(conv.settings))
    reply(other, "Again.")
    assert received[-1] == replace(BUILTIN_PRESETS["precise"], seed=9, stop=("Q:",))
    session.close()
    other.close()
    store.close()


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("temperature", "hot", "temperature must be a number from 0 to 5"),
        ("temperature", "9", "temperature must be a number from 0 to 5"),
        ("top_k", "2.5", "top_k must be a whole number"),
        ("seed", "-1", "seed must be a whole number, 0 or more"),
        ("stop", "User:", "stop strings must be written as JSON"),
        ("stop", '[""]', "stop must be a list of texts"),
    ],
)
def test_a_wrong_value_says_what_it_must_be(name: str, text: str, error: str) -> None:
    with pytest.raises(SamplingError, match=error):
        parse(name, text)


def test_typed_values_are_read_as_the_fields_take_them() -> None:
    assert parse("top_k", " 20 ") == 20 and parse("min_p", "0.1") == 0.1
    assert parse("stop", '["\\n\\n", "User:"]') == ("\n\n", "User:")
    assert parse("seed", "") is None


async def test_the_dialog_sets_them_and_the_next_reply_uses_them(
    received: list[SamplingParams],
) -> None:
    app = LlamaTUI(Settings(model=FAKE), make_handle=handle)
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await chat_ready(pilot)
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatSettingsDialog))
        dialog = app.screen
        typed: dict[str, Any] = {k: v for k, v in ALL.items() if k != "stop"}
        for name, value in typed.items():
            dialog.query_one(f"#{name}", Input).value = str(value)
        dialog.query_one("#stop", Input).value = "User:"  # not JSON: it says so
        dialog.query_one("#system", Input).value = "Answer in French."
        dialog.query_one("#preset", Select).value = "greedy"
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog
        assert "JSON" in str(dialog.query_one("#settings-error", Label).content)
        dialog.query_one("#stop", Input).value = '["User:", "\\n\\n"]'
        dialog.query_one("#stop", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen)
        await send(pilot, "Bonjour?")
        await wait_until(pilot, lambda: not screen.session.generating)
        assert received[-1] == SamplingParams(**ALL)
        assert screen.session.messages()[0] == {"role": "system", "content": "Answer in French."}
        cid = screen.session.conversation_id
        assert screen.store is not None and cid is not None
        conv = screen.store.conversation(cid)
        assert conv is not None and conv.settings["preset"] == "greedy"
        assert conv.settings["stop"] == ["User:", "\n\n"]
        await pilot.press("ctrl+q")


def test_a_seed_repeats_a_sampled_reply_and_a_stop_string_ends_one(smollm2: Path) -> None:
    settings = Settings(
        model=ModelRef("llamacpp", str(smollm2)),
        load=LoadOptions(n_ctx=1024),
        engine_options={"llamacpp": {"threads": 2}},
    )
    ended: list[str] = []
    session = session_with(settings, ended=ended, real=True)
    sampled = {"temperature": 1.2, "seed": 42, "max_tokens": 40}
    for _ in range(2):
        session.open(None, [], ChatSettings(values=sampled))
        reply(session, "Write a poem about the sea.")
    assert session.info is not None and session.info.ref.engine == "llamacpp"
    assert ended[0] and ended[0] == ended[1]
    # A stop string at the first space of that reply: it ends just before it.
    session.open(None, [], ChatSettings(values={**sampled, "stop": (" ",)}))
    reply(session, "Write a poem about the sea.")
    assert ended[-1] == ended[0].split(" ")[0]
    session.close()
