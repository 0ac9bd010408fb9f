"""A scripted engine: replies with a fixed text, one word a token, in the app's process.

It keeps the whole engine contract (context, max tokens, stop strings, cancel per
token, continue, token counts, memory) with no model, so the contract suite runs
the in-process handle on it and the UI's snapshots are the same on every machine.
It is registered but not listed: users never see it. Made with no arguments (as
an engine process makes it), it replays the recorded stream that
LLAMATUI_SCRIPTED_STREAM names (`FILE.json@TOKENS_PER_S`), if set: bench/stream.py
runs it in a process of its own, as llama.cpp runs.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from threading import Event

from llamatui.engines.protocol import (
    Capabilities,
    ContextOverflow,
    Delta,
    DeviceMemory,
    EngineError,
    LoadOptions,
    MemoryUse,
    ModelInfo,
    Progress,
    ReplyStats,
    SamplingParams,
    Unsupported,
    generation_rate,
)
from llamatui.engines.refs import ModelRef
from llamatui.engines.stops import StopMatcher
from llamatui.engines.templates import ChatMessage

DEFAULT_REPLY = (
    "Here is a **bold** answer with a list:\n\n- one\n- two\n\n"
    "```python\ndef hello():\n    return 'world'\n```\n\n"
    + " ".join(f"Line {i}: the scripted engine says the same thing every time." for i in range(40))
)
N_CTX_TRAIN = 8192
REPLAY_ENV = "LLAMATUI_SCRIPTED_STREAM"
_WORD = re.compile(r"\S+\s*|\s+")
FULL = Capabilities(count_tokens=True, continue_reply=True)


def words(text: str) -> list[str]:
    """The scripted tokenizer: each word with the spaces after it is one token."""
    return _WORD.findall(text)


class ScriptedEngine:
    """Replies with its script, word by word."""

    name = "scripted"

    def __init__(
        self,
        reply: str = DEFAULT_REPLY,
        *,
        tokens: Sequence[str] | None = None,
        step: threading.Event | None = None,
        delay_s: float = 0.0,
        name: str | None = None,
        clock: Callable[[], float] = time.perf_counter,
        capabilities: Capabilities = FULL,
    ) -> None:
        """
        Args:
            reply: what every reply says.
            tokens: the reply as token pieces (a recorded stream) instead of words.
            step: when given, each token waits for it (a test releases it).
            delay_s: seconds per token, to look like a model (a fixed rate: token i
                is due i * delay_s after the first, however long each one took).
            name: the model's name in ModelInfo (default: the reference's).
            clock: seconds for the reply's figures (a fixed step makes them the same
                on every machine, for snapshots).
            capabilities: what it claims it can do; without count_tokens or
                continue_reply it refuses them, like an engine that lacks them.
        """
        replay = os.environ.get(REPLAY_ENV)
        if replay and tokens is None and reply is DEFAULT_REPLY:
            path, _, rate = replay.rpartition("@")
            tokens = json.loads(Path(path).read_text())["tokens"]
            delay_s = 1 / float(rate)
        self.script = list(tokens) if tokens is not None else words(reply)
        self.step = step
        self.delay_s = delay_s
        self.model_name = name
        self.clock = clock
        self.capabilities = capabilities
        self._info: ModelInfo | None = None
        self._used = 0

    def load(
        self,
        ref: ModelRef,
        options: LoadOptions,
        progress: Progress | None = None,
    ) -> ModelInfo:
        for fraction in (0.0, 0.5, 1.0):
            if progress is not None:
                progress(fraction, "")
        self._info = ModelInfo(
            ref=ref,
            name=self.model_name or ref.name,
            architecture="scripted",
            n_ctx=max(min(options.n_ctx, N_CTX_TRAIN), 256),
            n_ctx_train=N_CTX_TRAIN,
            template=options.chat_format or "model",
            size_bytes=len("".join(self.script).encode()),
            capabilities=self.capabilities,
        )
        self._used = 0
        return self._info

    def _require(self) -> ModelInfo:
        if self._info is None:
            raise EngineError("no model is loaded")
        return self._info

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Words of every message, two tokens of template around each, two to start
        the reply."""
        self._require()
        if not self.capabilities.count_tokens:
            raise Unsupported("this engine cannot count tokens")
        return self._count(messages)

    @staticmethod
    def _count(messages: Sequence[ChatMessage]) -> int:
        return sum(len(words(m["content"])) + 2 for m in messages) + 2

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams,
        cancel: Event,
        continue_last: bool = False,
    ) -> Iterator[Delta | ReplyStats]:
        info = self._require()
        t_start = self.clock()
        t_paced = time.perf_counter()
        prompt = self._count(messages)
        if prompt >= info.n_ctx:
            raise ContextOverflow(prompt, info.n_ctx)
        start = 0
        if continue_last:
            if not self.capabilities.continue_reply:
                raise Unsupported("this engine cannot continue a reply")
            if not messages or messages[-1]["role"] != "assistant":
                raise EngineError("there is no reply to continue")
            done = "".join(self.script)
            last = messages[-1]["content"]
            start = len(words(last)) if done.startswith(last) else 0
        stops = StopMatcher(params.stop)
        used = prompt
        generated = 0
        finish = "stop"
        t_first = 0.0
        for word in self.script[start:]:
            if self.step is not None:
                self.step.wait(5)
            if cancel.is_set():
                finish = "cancelled"
                break
            if generated >= params.max_tokens:
                finish = "length"
                break
            if used >= info.n_ctx:
                finish = "context"
                break
            if self.delay_s:
                due = t_paced + (generated + 1) * self.delay_s
                time.sleep(max(0.0, due - time.perf_counter()))
            generated += 1
            used += 1
            t_first = t_first or self.clock()
            if delta := stops.take(word):
                yield delta
            if stops.stopped:
                break
        if delta := stops.rest():
            yield delta
        self._used = used
        t_end = self.clock()
        yield ReplyStats(
            finish=finish,  # type: ignore[arg-type]
            prompt_tokens=prompt,
            prompt_evaluated=prompt,
            generated_tokens=generated,
            ttft_s=(t_first or t_end) - t_start,
            tokens_per_s=generation_rate(generated, t_first, t_end),
            context_used=used,
            n_ctx=info.n_ctx,
        )

    def unload(self) -> None:
        self._info = None
        self._used = 0

    def memory(self) -> MemoryUse:
        if self._info is None:
            return MemoryUse(rss=0)
        return MemoryUse(
            rss=0,
            devices=(DeviceMemory("cpu", weights=self._info.size_bytes, kv_cache=self._used * 64),),
        )
