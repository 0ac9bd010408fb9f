"""The llama.cpp engine in this process, on the real models."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_refs import gguf

from llamatui.engines.llamacpp import LlamaCppEngine
from llamatui.engines.protocol import Delta, EngineError, LoadOptions, ReplyStats, SamplingParams
from llamatui.engines.templates import ChatMessage

GREEDY = SamplingParams(temperature=0, max_tokens=48)
ASK: list[ChatMessage] = [{"role": "user", "content": "Name three colors."}]


@pytest.fixture(scope="module")
def engine(smollm2: Path) -> Iterator[LlamaCppEngine]:
    e = LlamaCppEngine()
    e.load(gguf(smollm2), LoadOptions(n_ctx=1024, engine={"threads": 2}))
    yield e
    e.unload()


def collect(engine: LlamaCppEngine, messages: list[ChatMessage], params: SamplingParams):
    deltas: list[Delta] = []
    stats = None
    for item in engine.stream(messages, params, threading.Event()):
        if isinstance(item, Delta):
            deltas.append(item)
        else:
            stats = item
    assert isinstance(stats, ReplyStats)
    return "".join(d.text for d in deltas), stats


def test_load_reports_the_model(smollm2: Path) -> None:
    e = LlamaCppEngine()
    info = e.load(gguf(smollm2), LoadOptions(n_ctx=100_000, engine={"threads": 1}))
    try:
        assert info.architecture == "llama"
        assert info.name == "SmolLM2-135M-Instruct.Q4_1"
        assert info.n_ctx == 8192  # capped at the trained context
        assert info.template == "model"
        assert e.memory().weights > 50_000_000
    finally:
        e.unload()
    with pytest.raises(EngineError, match="no model"):
        e.count_tokens(ASK)


def test_stream_is_deterministic_and_counted(engine: LlamaCppEngine) -> None:
    text1, stats1 = collect(engine, ASK, GREEDY)
    text2, stats2 = collect(engine, ASK, GREEDY)
    assert text1 and text1 == text2
    assert stats1.generated_tokens > 0
    assert stats1.prompt_tokens == engine.count_tokens(ASK)
    assert stats1.context_used == stats1.prompt_tokens + stats1.generated_tokens
    assert stats1.finish in ("stop", "length")
    assert stats1.tokens_per_s > 0 and stats1.ttft_s > 0
    # The second run found its prompt in the KV cache.
    assert stats2.prompt_evaluated < stats2.prompt_tokens


def test_follow_up_reuses_the_cached_prefix(engine: LlamaCppEngine) -> None:
    text, first = collect(engine, ASK, GREEDY)
    follow: list[ChatMessage] = [
        *ASK,
        {"role": "assistant", "content": text},
        {"role": "user", "content": "And three animals?"},
    ]
    _, second = collect(engine, follow, GREEDY)
    assert second.prompt_evaluated < second.prompt_tokens - first.prompt_tokens


def test_max_tokens_cuts_the_reply(engine: LlamaCppEngine) -> None:
    long_ask: list[ChatMessage] = [{"role": "user", "content": "Write a long story."}]
    _, stats = collect(engine, long_ask, SamplingParams(temperature=0, max_tokens=5))
    assert stats.generated_tokens == 5
    assert stats.finish == "length"


def test_cancel_stops_within_one_token(engine: LlamaCppEngine) -> None:
    cancel = threading.Event()
    long_ask: list[ChatMessage] = [{"role": "user", "content": "Write a long story."}]
    after = 0
    stats = None
    for item in engine.stream(long_ask, SamplingParams(temperature=0, max_tokens=500), cancel):
        if isinstance(item, Delta):
            if cancel.is_set():
                after += item.n_tokens
            elif len(item.text) and not cancel.is_set():
                after = 0
                cancel.set()
        else:
            stats = item
    assert stats is not None and stats.finish == "cancelled"
    assert after == 0
    assert stats.generated_tokens == 1


def test_sampling_with_temperature_and_seed(engine: LlamaCppEngine) -> None:
    params = SamplingParams(temperature=0.9, top_k=40, top_p=0.9, min_p=0.05, seed=7)
    a, _ = collect(engine, ASK, params)
    b, _ = collect(engine, ASK, params)
    assert a == b  # same seed, same reply
    assert a


def test_prompt_longer_than_context_is_refused(smollm2: Path) -> None:
    e = LlamaCppEngine()
    info = e.load(gguf(smollm2), LoadOptions(n_ctx=128, engine={"threads": 2}))
    try:
        long: list[ChatMessage] = [{"role": "user", "content": "word " * 400}]
        with pytest.raises(EngineError, match=f"context holds {info.n_ctx}"):
            list(e.stream(long, GREEDY, threading.Event()))
    finally:
        e.unload()


def test_context_full_ends_the_reply(smollm2: Path) -> None:
    e = LlamaCppEngine()
    info = e.load(gguf(smollm2), LoadOptions(n_ctx=128, engine={"threads": 2}))
    try:
        assert info.n_ctx <= 256  # llama.cpp rounds small contexts up
        ask: list[ChatMessage] = [{"role": "user", "content": "Write a very long story."}]
        _, stats = collect(e, ask, SamplingParams(temperature=0, max_tokens=1000))
        assert stats.finish == "context"
        assert stats.context_used == info.n_ctx
    finally:
        e.unload()


def test_gemma_prompt_uses_gemma_turns(gemma3: Path) -> None:
    e = LlamaCppEngine()
    info = e.load(gguf(gemma3), LoadOptions(n_ctx=1024, engine={"threads": 2}))
    try:
        assert info.architecture == "gemma3"
        assert info.template == "gemma"
        llm = e._llm
        assert llm is not None
        tokens = e.tokenize_chat(ASK)
        start_of_turn = llm.tokenize(b"<start_of_turn>", add_bos=False, special=True)
        assert len(start_of_turn) == 1  # a real control token, not text
        assert tokens[0] == llm.token_bos()
        assert tokens.count(start_of_turn[0]) == 2  # the user turn and the model turn
        assert "[INST]" not in llm.detokenize(tokens, special=True).decode()
        text, stats = collect(e, ASK, GREEDY)
        assert text.strip()
        assert "<end_of_turn>" not in text
        assert stats.generated_tokens > 0
    finally:
        e.unload()


def test_a_named_format_the_model_does_not_know_still_ends_the_reply(gemma3: Path) -> None:
    # Issue 12: ChatML chosen for Gemma streamed literal <|im_end|> without end: Gemma
    # has no such token, so its end-of-text never came.
    e = LlamaCppEngine()
    options = LoadOptions(n_ctx=1024, chat_format="chatml", engine={"threads": 2})
    assert e.load(gguf(gemma3), options).template == "chatml"
    try:
        story: list[ChatMessage] = [{"role": "user", "content": "Tell me a story about a cat."}]
        text, stats = collect(e, story, SamplingParams(temperature=0.0, max_tokens=400))
        assert text.strip() and "<|im_end|>" not in text and "<|im_start|>" not in text
        assert stats.finish == "stop" and stats.generated_tokens < 400, (stats, text)
    finally:
        e.unload()


def test_gpu_layers_on_a_build_without_gpu_support_are_told(smollm2: Path) -> None:
    import llama_cpp

    engine = LlamaCppEngine()
    try:
        info = engine.load(
            gguf(smollm2), LoadOptions(n_ctx=512, engine={"threads": 2, "gpu_layers": 8})
        )
        if llama_cpp.llama_supports_gpu_offload():
            assert info.capabilities.gpu_offload and info.notice is None
        else:
            assert not info.capabilities.gpu_offload
            assert info.notice is not None and "gpu_layers = 8 is ignored" in info.notice
            assert "GGML_CUDA=on" in info.notice
    finally:
        engine.unload()
