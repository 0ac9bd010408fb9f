"""The engine contract: the same tests against every registered engine that can run
here, through the handle the app uses (harlequin runs its functional tests per
adapter the same way). llama.cpp runs the real SmolLM2 model in its own process;
the scripted engine runs in the app's process. An engine that joins the registry
must join `SETUPS` too, or `test_every_engine_that_runs_here_is_tested` fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

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
class Case:
    """One engine as the suite runs it: which, on what model, with what options."""

    kind: str
    ref: Callable[[pytest.FixtureRequest], ModelRef]
    """The model (fixtures give the tiny HF folder, the servers' URLs)."""
    options: LoadOptions
    stand_in: bool = False
    """exllamav3 and torch are the stand-ins in tests/stand_ins (no GPU here)."""


CASES: dict[str, Case] = {
    "llamacpp": Case(
        "llamacpp",
        lambda _: ModelRef("llamacpp", str(default_model_path())),
        LoadOptions(n_ctx=1024, engine={"threads": 2}),
    ),
    "scripted": Case(
        "scripted", lambda _: ModelRef("scripted", "contract"), LoadOptions(n_ctx=1024)
    ),
    "exllama-stand-in": Case(
        "exllama",
        lambda req: ModelRef("exllama", str(req.getfixturevalue("tiny_hf"))),
        LoadOptions(n_ctx=1024),
        True,
    ),
    "remote-llamatui-serve": Case(
        "remote",
        lambda req: ModelRef(
            "remote", req.getfixturevalue("serve_url"), "SmolLM2-135M-Instruct.Q4_1"
        ),
        LoadOptions(n_ctx=1024),
    ),
    "remote-llama-cpp-server": Case(
        "remote",
        lambda req: ModelRef("remote", req.getfixturevalue("llama_server_url"), "smollm2"),
        LoadOptions(n_ctx=1024),
    ),
}
# On a GPU machine with exllamav3, the real engine on the model the GPU check made.
GPU_MODEL = os.environ.get("LLAMATUI_GPU_MODEL")
if GPU_MODEL:
    CASES["exllama"] = Case(
        "exllama", lambda _: ModelRef("exllama", GPU_MODEL), LoadOptions(n_ctx=1024)
    )
KINDS = [spec.kind for spec in registry.available()]
RUN = [
    pytest.param(name, marks=[pytest.mark.gpu] if name == "exllama" else [], id=name)
    for name, case in CASES.items()
    if case.stand_in or case.kind in KINDS
]

STORY: list[ChatMessage] = [{"role": "user", "content": "Write a long story about a dragon."}]
GREEDY = SamplingParams(temperature=0, max_tokens=48)
LONG = SamplingParams(temperature=0, max_tokens=400)


def test_every_engine_that_runs_here_is_tested() -> None:
    tested = {case.kind for case in CASES.values() if not case.stand_in}
    assert set(KINDS) <= tested, "add the new engine to CASES"
    assert {"llamacpp", "scripted"} <= set(KINDS)


@dataclass
class Running:
    """A case with its handle and model."""

    case: Case
    handle: EngineHandle
    ref: ModelRef

    def load(self, progress: Progress | None = None) -> ModelInfo:
        return self.handle.load(self.ref, self.case.options, progress)


@pytest.fixture(params=RUN)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    case = CASES[str(request.param)]
    if case.stand_in:
        request.getfixturevalue("exllama_stand_in")
    h = registry.get(case.kind).make_handle(tmp_path / "engine.log")
    yield Running(case, h, case.ref(request))
    h.close()


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


def test_load(engine: Running) -> None:
    seen: list[float] = []
    info = engine.load(lambda fraction, note: seen.append(fraction))
    assert isinstance(info, ModelInfo) and info.ref == engine.ref
    assert info.ref.engine == engine.case.kind and info.name == info.ref.name
    assert 0 < info.n_ctx <= 1024 and info.n_ctx <= info.n_ctx_train
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert engine.handle.alive


def test_stream_is_counted_and_repeatable(engine: Running) -> None:
    engine.load()
    text, stats, n = collect(engine.handle, STORY, GREEDY)
    assert text.strip() and stats.generated_tokens == n > 0
    assert stats.finish in ("stop", "length") and stats.prompt_tokens > 0
    assert stats.context_used <= stats.n_ctx and stats.ttft_s >= 0
    again, _, _ = collect(engine.handle, STORY, GREEDY)
    assert again == text  # greedy: the same reply (the prompt cache changes nothing)


def test_max_tokens_cuts_the_reply(engine: Running) -> None:
    engine.load()
    _, stats, n = collect(engine.handle, STORY, SamplingParams(temperature=0, max_tokens=5))
    assert stats.finish == "length" and stats.generated_tokens == n == 5


def test_stop_strings_end_the_reply_before_them(engine: Running) -> None:
    engine.load()
    full, _, _ = collect(engine.handle, STORY, GREEDY)
    words = full.split()
    assert len(words) > 6
    stop = words[len(words) // 2]
    text, stats, _ = collect(
        engine.handle, STORY, SamplingParams(temperature=0, max_tokens=48, stop=(stop,))
    )
    assert stats.finish == "stop"
    assert stop not in text and text == full[: full.index(stop)]


def test_cancel_stops_the_reply_and_keeps_what_came(engine: Running) -> None:
    """The engine checks the cancel before every token (its own tests measure that
    it stops within one); through the handle nothing is lost and it stays in step."""
    engine.load()
    got = after = 0
    stats = None
    for item in engine.handle.stream(STORY, LONG):
        if isinstance(item, Delta):
            got += item.n_tokens
            if got >= 3 and not after:
                engine.handle.cancel()
                after = got
        else:
            stats = item
    assert stats is not None and stats.finish == "cancelled"
    assert stats.generated_tokens == got < LONG.max_tokens // 2
    if engine.handle.pid is None:  # in the same process: the next token sees the cancel
        assert got == after
    # In step: the next request is answered.
    _, stats, _ = collect(engine.handle, STORY, SamplingParams(temperature=0, max_tokens=3))
    assert stats.generated_tokens == 3


def test_count_or_its_refusal(engine: Running) -> None:
    info = engine.load()
    if not info.capabilities.count_tokens:
        with pytest.raises(Unsupported):
            engine.handle.count_tokens(STORY)
        return
    _, stats, _ = collect(engine.handle, STORY, SamplingParams(temperature=0, max_tokens=2))
    assert engine.handle.count_tokens(STORY) == stats.prompt_tokens


def test_continue_or_its_refusal(engine: Running) -> None:
    info = engine.load()
    cut, stats, _ = collect(engine.handle, STORY, SamplingParams(temperature=0, max_tokens=8))
    assert stats.finish == "length"
    carried = [*STORY, {"role": "assistant", "content": cut}]
    if not info.capabilities.continue_reply:
        with pytest.raises(Unsupported):
            collect(engine.handle, carried, GREEDY, continue_last=True)
        return
    more, stats, n = collect(engine.handle, carried, GREEDY, continue_last=True)
    assert more.strip() and n > 0
    # The reply goes on where it was cut: no new turn was opened for it.
    whole, _, _ = collect(engine.handle, STORY, SamplingParams(temperature=0, max_tokens=16))
    assert (cut + more).split()[:4] == whole.split()[:4]


def test_memory_is_reported_per_device(engine: Running) -> None:
    engine.load()
    use = engine.handle.memory()
    if engine.case.kind == "remote":  # the model's memory is the server's
        assert use.rss == 0 and not use.devices
        return
    assert use.devices and use.weights > 0
    assert all(d.device == "cpu" or d.device.startswith("cuda:") for d in use.devices)
    assert use.weights == sum(d.weights for d in use.devices)
    if engine.handle.pid is not None:  # a process of its own: its memory is there
        assert use.rss > use.weights // 2


def test_unload_and_load_again(engine: Running) -> None:
    engine.load()
    engine.handle.close()
    assert not engine.handle.alive and engine.handle.pid is None
    engine.load()
    assert collect(engine.handle, STORY, SamplingParams(temperature=0, max_tokens=2))[2] == 2


def test_a_dead_engine_says_so_and_comes_back(engine: Running) -> None:
    engine.load()
    got = 0
    with pytest.raises(EngineDied):
        for item in engine.handle.stream(STORY, LONG):
            if isinstance(item, Delta):
                got += item.n_tokens
                if got >= 3:
                    engine.handle.kill()
    assert got >= 3  # what came before stands
    assert not engine.handle.alive
    with pytest.raises(EngineDied):
        engine.handle.count_tokens(STORY)
    engine.load()  # the next load starts it again
    assert (
        engine.handle.alive and collect(engine.handle, STORY, SamplingParams(max_tokens=2))[2] == 2
    )
