"""The engine contract: the same tests against every registered engine that can run
here, through the handle the app uses (harlequin runs its functional tests per
adapter the same way). llama.cpp runs the real SmolLM2 model in its own process;
the scripted engine runs in the app's process. An engine that joins the registry
must join `SETUPS` too, or `test_every_engine_that_runs_here_is_tested` fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from llamatui.engines import registry
from llamatui.engines.handle import EngineDied, EngineHandle
from llamatui.engines.models import default_model_path
from llamatui.engines.protocol import (
    Delta,
    LoadOptions,
    ModelInfo,
    Progress,
    ReplyStats,
    SamplingParams,
    Unsupported,
)
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage


@dataclass(frozen=True)
class Setup:
    """How the suite loads a model on one engine."""

    ref: Callable[[], ModelRef]
    options: LoadOptions


SETUPS: dict[str, Setup] = {
    "llamacpp": Setup(
        lambda: ModelRef("llamacpp", str(default_model_path())),
        LoadOptions(n_ctx=1024, engine={"threads": 2}),
    ),
    "scripted": Setup(lambda: ModelRef("scripted", "contract"), LoadOptions(n_ctx=1024)),
}
KINDS = [spec.kind for spec in registry.available()]

STORY: list[ChatMessage] = [{"role": "user", "content": "Write a long story about a dragon."}]
GREEDY = SamplingParams(temperature=0, max_tokens=48)
LONG = SamplingParams(temperature=0, max_tokens=400)


def test_every_engine_that_runs_here_is_tested() -> None:
    assert set(KINDS) <= set(SETUPS), "add the new engine to SETUPS"
    assert {"llamacpp", "scripted"} <= set(KINDS)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def handle(kind: str, tmp_path) -> Iterator[EngineHandle]:  # type: ignore[no-untyped-def]
    h = registry.get(kind).make_handle(tmp_path / "engine.log")
    yield h
    h.close()


def load(handle: EngineHandle, kind: str, progress: Progress | None = None):
    setup = SETUPS[kind]
    return handle.load(setup.ref(), setup.options, progress)


def collect(
    handle: EngineHandle, messages: list[ChatMessage], params: SamplingParams, **kw: bool
) -> tuple[str, ReplyStats, int]:
    text, n, stats = [], 0, None
    for item in handle.stream(messages, params, **kw):
        if isinstance(item, Delta):
            assert stats is None, "deltas come before the figures"
            text.append(item.text)
            n += item.n_tokens
        else:
            stats = item
    assert stats is not None
    return "".join(text), stats, n


def test_load(handle: EngineHandle, kind: str) -> None:
    seen: list[float] = []
    info = load(handle, kind, lambda fraction, note: seen.append(fraction))
    assert isinstance(info, ModelInfo) and info.ref == SETUPS[kind].ref()
    assert info.ref.engine == kind and info.name == info.ref.name
    assert 0 < info.n_ctx <= 1024 and info.n_ctx <= info.n_ctx_train
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert handle.alive


def test_stream_is_counted_and_repeatable(handle: EngineHandle, kind: str) -> None:
    load(handle, kind)
    text, stats, n = collect(handle, STORY, GREEDY)
    assert text.strip() and stats.generated_tokens == n > 0
    assert stats.finish in ("stop", "length") and stats.prompt_tokens > 0
    assert stats.context_used <= stats.n_ctx and stats.ttft_s >= 0
    again, _, _ = collect(handle, STORY, GREEDY)
    assert again == text  # greedy: the same reply (the prompt cache changes nothing)


def test_max_tokens_cuts_the_reply(handle: EngineHandle, kind: str) -> None:
    load(handle, kind)
    _, stats, n = collect(handle, STORY, SamplingParams(temperature=0, max_tokens=5))
    assert stats.finish == "length" and stats.generated_tokens == n == 5


def test_stop_strings_end_the_reply_before_them(handle: EngineHandle, kind: str) -> None:
    load(handle, kind)
    full, _, _ = collect(handle, STORY, GREEDY)
    words = full.split()
    assert len(words) > 6
    stop = words[len(words) // 2]
    text, stats, _ = collect(
        handle, STORY, SamplingParams(temperature=0, max_tokens=48, stop=(stop,))
    )
    assert stats.finish == "stop"
    assert stop not in text and text == full[: full.index(stop)]


def test_cancel_stops_the_reply_and_keeps_what_came(handle: EngineHandle, kind: str) -> None:
    """The engine checks the cancel before every token (its own tests measure that
    it stops within one); through the handle nothing is lost and it stays in step."""
    load(handle, kind)
    got = after = 0
    stats = None
    for item in handle.stream(STORY, LONG):
        if isinstance(item, Delta):
            got += item.n_tokens
            if got >= 3 and not after:
                handle.cancel()
                after = got
        else:
            stats = item
    assert stats is not None and stats.finish == "cancelled"
    assert stats.generated_tokens == got < LONG.max_tokens // 2
    if handle.pid is None:  # in the same process: the next token sees the cancel
        assert got == after
    # In step: the next request is answered.
    _, stats, _ = collect(handle, STORY, SamplingParams(temperature=0, max_tokens=3))
    assert stats.generated_tokens == 3


def test_count_or_its_refusal(handle: EngineHandle, kind: str) -> None:
    info = load(handle, kind)
    if not info.capabilities.count_tokens:
        with pytest.raises(Unsupported):
            handle.count_tokens(STORY)
        return
    _, stats, _ = collect(handle, STORY, SamplingParams(temperature=0, max_tokens=2))
    assert handle.count_tokens(STORY) == stats.prompt_tokens


def test_continue_or_its_refusal(handle: EngineHandle, kind: str) -> None:
    info = load(handle, kind)
    cut, stats, _ = collect(handle, STORY, SamplingParams(temperature=0, max_tokens=8))
    assert stats.finish == "length"
    carried = [*STORY, {"role": "assistant", "content": cut}]
    if not info.capabilities.continue_reply:
        with pytest.raises(Unsupported):
            collect(handle, carried, GREEDY, continue_last=True)
        return
    more, stats, n = collect(handle, carried, GREEDY, continue_last=True)
    assert more.strip() and n > 0
    # The reply goes on where it was cut: no new turn was opened for it.
    whole, _, _ = collect(handle, STORY, SamplingParams(temperature=0, max_tokens=16))
    assert (cut + more).split()[:4] == whole.split()[:4]


def test_memory_is_reported_per_device(handle: EngineHandle, kind: str) -> None:
    load(handle, kind)
    use = handle.memory()
    assert use.devices and use.devices[0].device == "cpu" and use.weights > 0
    assert use.weights == sum(d.weights for d in use.devices)
    if handle.pid is not None:  # a process of its own: its memory is there
        assert use.rss > use.weights // 2


def test_unload_and_load_again(handle: EngineHandle, kind: str) -> None:
    load(handle, kind)
    handle.close()
    assert not handle.alive and handle.pid is None
    load(handle, kind)
    assert collect(handle, STORY, SamplingParams(temperature=0, max_tokens=2))[2] == 2


def test_a_dead_engine_says_so_and_comes_back(handle: EngineHandle, kind: str) -> None:
    load(handle, kind)
    got = 0
    with pytest.raises(EngineDied):
        for item in handle.stream(STORY, LONG):
            if isinstance(item, Delta):
                got += item.n_tokens
                if got >= 3:
                    handle.kill()
    assert got >= 3  # what came before stands
    assert not handle.alive
    with pytest.raises(EngineDied):
        handle.count_tokens(STORY)
    load(handle, kind)  # the next load starts it again
    assert handle.alive and collect(handle, STORY, SamplingParams(max_tokens=2))[2] == 2
