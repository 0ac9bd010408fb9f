"""The llama.cpp engine, on llama-cpp-python's low-level API.

The high-level `Llama.generate` loop copies the logits of every step into numpy and
samples in Python. Here the model and context come from `Llama` (loading,
tokenizing, metadata), but each step is one `llama_decode` and one call into
llama.cpp's own sampler chain, so the per-token Python work is a handful of ctypes
calls. The KV cache is kept between replies and only the part of the prompt after
the common prefix is decoded, so a long chat does not re-read its history each turn.
"""

from __future__ import annotations

import codecs
import ctypes
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from threading import Event
from typing import TYPE_CHECKING, Any

from llamatui.engines.estimate import Shape, kv_cache_bytes
from llamatui.engines.gguf import gguf_shape, read_header
from llamatui.engines.llamacpp.native import (
    UnusedFormatter,
    compute_buffers_logged,
    default_threads,
    progress_reported,
    sampler_chain,
)
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
    generation_rate,
)
from llamatui.engines.refs import ModelRef
from llamatui.engines.stops import StopMatcher
from llamatui.engines.templates import (
    ChatMessage,
    ChatTemplate,
    pick_template,
    prompt_parts,
)

if TYPE_CHECKING:
    from llama_cpp import Llama


class LlamaCppEngine:
    """GGUF models on llama.cpp. One instance per engine process."""

    name = "llama.cpp"

    def __init__(self) -> None:
        self._llm: Llama | None = None
        self._template: ChatTemplate | None = None
        self._cached: list[int] = []
        """Tokens whose keys and values are in the KV cache now, in order."""
        self._info: ModelInfo | None = None
        self._shape = Shape(weights=0)
        self._compute_bytes = 0

    def load(
        self,
        ref: ModelRef,
        options: LoadOptions,
        progress: Progress | None = None,
    ) -> ModelInfo:
        """Check the file's header, then load it, reporting progress from 0 to 1."""
        path = ref.location
        header = read_header(path)
        import llama_cpp.llama_chat_format as chat_format
        import llama_cpp.llama_cpp as lc  # the module Llama() reads its defaults from
        from llama_cpp import Llama

        chat_format.Jinja2ChatFormatter = UnusedFormatter  # type: ignore[misc,assignment]

        self.unload()
        n_ctx_train = header.get_int(f"{header.architecture}.context_length") or options.n_ctx
        n_ctx = min(options.n_ctx, n_ctx_train) if options.n_ctx > 0 else n_ctx_train
        n_threads = int(options.engine.get("threads") or default_threads())
        n_gpu_layers = int(options.engine.get("gpu_layers") or 0)
        try:
            with progress_reported(lc, progress):
                llm = Llama(
                    str(path),
                    n_ctx=n_ctx,
                    n_threads=n_threads,
                    n_threads_batch=n_threads,
                    n_gpu_layers=n_gpu_layers,
                    flash_attn=True,
                    verbose=True,  # the engine process's stderr is the log file
                    chat_format="llama-2",  # unused: we render templates ourselves
                )
        except (ValueError, RuntimeError) as e:
            raise EngineError(
                f"llama.cpp could not load {Path(path).name} ({e}); the engine log has the details"
            ) from e
        self._llm = llm
        self._cached = []
        self._shape = gguf_shape(header)
        self._compute_bytes = compute_buffers_logged()
        bos = self._token_text(llm.token_bos())
        eos = self._token_text(llm.token_eos())
        self._template, notice = pick_template(
            header.chat_template,
            header.architecture,
            chat_format=options.chat_format,
            bos_token=bos,
            eos_token=eos,
        )
        offload = bool(lc.llama_supports_gpu_offload())
        self._info = ModelInfo(
            ref=ref,
            # The file name: what the user chose and recognises (general.name is
            # often a training-run label).
            name=ref.name,
            architecture=header.architecture,
            n_ctx=llm.n_ctx(),
            n_ctx_train=n_ctx_train,
            template=self._template.name,
            size_bytes=header.file_size,
            capabilities=Capabilities(
                count_tokens=True,
                continue_reply=True,
                gpu_offload=offload,
            ),
            notice="; ".join(n for n in (notice, _offload_notice(n_gpu_layers, offload)) if n)
            or None,
        )
        return self._info

    def _token_text(self, token: int) -> str:
        assert self._llm is not None
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    @property
    def template(self) -> ChatTemplate:
        """The chat template in use."""
        if self._template is None:
            raise EngineError("no model is loaded")
        return self._template

    def tokenize_chat(
        self, messages: Sequence[ChatMessage], *, continue_last: bool = False
    ) -> list[int]:
        """Render the conversation with the chat template and tokenize it.

        The template's text is tokenized with control tokens; message text as plain
        text, so `<|im_end|>` typed by a user stays characters.
        """
        llm = self._require()
        parts = prompt_parts(self.template, messages, continue_last=continue_last)
        # The template writes the BOS token itself when the model wants one; add it
        # only when the model asks for it and the template did not.
        bos = self.template.bos_token
        first = parts[0][0] if parts else ""
        add_bos = bool(llm._model.add_bos_token()) and not (bos and first.startswith(bos))
        tokens: list[int] = []
        for i, (text, is_message) in enumerate(parts):
            tokens += llm.tokenize(
                text.encode("utf-8"), add_bos=add_bos and i == 0, special=not is_message
            )
        return tokens

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the prompt these messages render to."""
        return len(self.tokenize_chat(messages))

    def _require(self) -> Llama:
        if self._llm is None:
            raise EngineError("no model is loaded")
        return self._llm

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams,
        cancel: Event,
        continue_last: bool = False,
    ) -> Iterator[Delta | ReplyStats]:
        """Generate a reply token by token (or more of the last one); see the module
        docstring."""
        import llama_cpp as lc

        llm = self._require()
        t_start = time.perf_counter()
        prompt = self.tokenize_chat(messages, continue_last=continue_last)
        ctx = llm._ctx.ctx
        vocab = lc.llama_model_get_vocab(llm._model.model)
        n_ctx = llm.n_ctx()
        if len(prompt) >= n_ctx:
            raise ContextOverflow(len(prompt), n_ctx)
        n_past = self._reuse_prefix(lc, ctx, prompt)
        evaluated = len(prompt) - n_past
        self._decode(lc, ctx, prompt[n_past:], llm.n_batch)
        chain = sampler_chain(lc, params)
        # The chat format's own end-of-turn text too (a named format on a model
        # that does not know its markers writes them out).
        ends = self._template.stops if self._template is not None else ()
        stops = StopMatcher([*params.stop, *ends])
        piece = ctypes.create_string_buffer(256)
        one = (lc.llama_token * 1)()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        generated = 0
        finish: str = "length"
        t_first = 0.0
        try:
            while generated < params.max_tokens:
                if cancel.is_set():
                    finish = "cancelled"
                    break
                if len(self._cached) >= n_ctx:
                    finish = "context"
                    break
                token = lc.llama_sampler_sample(chain, ctx, -1)
                if lc.llama_vocab_is_eog(vocab, token):
                    finish = "stop"
                    break
                n = lc.llama_token_to_piece(vocab, token, piece, 256, 0, False)
                generated += 1
                if generated == 1:
                    t_first = time.perf_counter()
                if delta := stops.take(decoder.decode(piece.raw[: max(n, 0)])):
                    yield delta
                if stops.stopped:
                    finish = "stop"
                    break
                one[0] = token
                self._cached.append(token)
                if lc.llama_decode(ctx, lc.llama_batch_get_one(one, 1)) != 0:
                    self._cached.pop()
                    finish = "context"
                    break
        finally:
            lc.llama_sampler_free(chain)
        if delta := stops.rest(decoder.decode(b"", final=True)):
            yield delta
        t_end = time.perf_counter()
        yield ReplyStats(
            finish=finish,  # type: ignore[arg-type]
            prompt_tokens=len(prompt),
            prompt_evaluated=evaluated,
            generated_tokens=generated,
            ttft_s=(t_first or t_end) - t_start,
            tokens_per_s=generation_rate(generated, t_first, t_end),
            context_used=len(self._cached),
            n_ctx=n_ctx,
        )

    def _reuse_prefix(self, lc: Any, ctx: Any, prompt: list[int]) -> int:
        """Keep the cached tokens that match the prompt's start; drop the rest."""
        n = 0
        limit = min(len(self._cached), len(prompt) - 1)  # decode at least one token
        while n < limit and self._cached[n] == prompt[n]:
            n += 1
        mem = lc.llama_get_memory(ctx)
        if not lc.llama_memory_seq_rm(mem, 0, n, -1):
            # Some caches (recurrent models) cannot drop a suffix: start over.
            lc.llama_memory_clear(mem, True)
            n = 0
        del self._cached[n:]
        return n

    def _decode(self, lc: Any, ctx: Any, tokens: list[int], n_batch: int) -> None:
        for i in range(0, len(tokens), n_batch):
            chunk = tokens[i : i + n_batch]
            arr = (lc.llama_token * len(chunk))(*chunk)
            rc = lc.llama_decode(ctx, lc.llama_batch_get_one(arr, len(chunk)))
            if rc != 0:
                lc.llama_memory_clear(lc.llama_get_memory(ctx), True)
                self._cached = []
                raise EngineError(f"llama.cpp could not evaluate the prompt (code {rc})")
            self._cached.extend(chunk)

    def unload(self) -> None:
        """Free the model and its context."""
        if self._llm is not None:
            self._llm.close()
        self._llm = None
        self._cached = []
        self._template = None

    def memory(self) -> MemoryUse:
        """This process's resident memory and the model's share of it.

        With layers offloaded to a GPU the split is not reported yet: llama.cpp has
        no call for it, and it all counts as the CPU's here.
        """
        import llama_cpp as lc
        import psutil

        rss = psutil.Process().memory_info().rss
        if self._llm is None or self._info is None:
            return MemoryUse(rss=rss)
        cpu = DeviceMemory(
            "cpu",
            weights=int(lc.llama_model_size(self._llm._model.model)),
            kv_cache=kv_cache_bytes(self._shape, self._info.n_ctx),
            compute=self._compute_bytes,
        )
        return MemoryUse(rss=rss, devices=(cpu,))


def _offload_notice(gpu_layers: int, offload: bool) -> str | None:
    """What to say when a profile asks for GPU layers this build cannot place."""
    if gpu_layers <= 0 or offload:
        return None
    return (
        f"gpu_layers = {gpu_layers} is ignored: this llama-cpp-python was built without "
        'GPU support (for NVIDIA: CMAKE_ARGS="-DGGML_CUDA=on" pip install '
        "--force-reinstall --no-cache-dir llama-cpp-python)"
    )
