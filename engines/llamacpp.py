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
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from threading import Event
from typing import TYPE_CHECKING, Any

from llamatui.engines.base import (
    Delta,
    EngineError,
    LoadOptions,
    MemoryUse,
    ModelInfo,
    ReplyStats,
    SamplingParams,
)
from llamatui.engines.estimate import Shape, kv_cache_bytes
from llamatui.engines.gguf import read_header
from llamatui.engines.library import gguf_shape
from llamatui.engines.templates import (
    ChatMessage,
    ChatTemplate,
    TemplateError,
    choose_template,
    named_template,
)

# A conversation every chat template must render, tried at load.
TRIAL_CHAT: list[ChatMessage] = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi!"},
    {"role": "user", "content": "Bye"},
]

if TYPE_CHECKING:
    from llama_cpp import Llama


def default_threads() -> int:
    """One thread per physical core: more only fight over the same FPUs."""
    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


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
        path: str | Path,
        options: LoadOptions,
        progress: Callable[[float], None] | None = None,
    ) -> ModelInfo:
        """Check the file's header, then load it, reporting progress from 0 to 1."""
        header = read_header(path)
        import llama_cpp.llama_chat_format as chat_format
        import llama_cpp.llama_cpp as lc  # the module Llama() reads its defaults from
        from llama_cpp import Llama

        # llama-cpp-python compiles every template in the file as it loads, and a
        # template with a syntax error would fail the load. Templates are ours to
        # render (sandboxed, budgeted, with a fallback): give it a formatter that
        # does nothing.
        chat_format.Jinja2ChatFormatter = _UnusedFormatter  # type: ignore[misc,assignment]

        self.unload()
        n_ctx_train = header.get_int(f"{header.architecture}.context_length") or options.n_ctx
        n_ctx = min(options.n_ctx, n_ctx_train) if options.n_ctx > 0 else n_ctx_train
        n_threads = options.n_threads or default_threads()
        # Llama() takes no progress callback: hand llama.cpp one through the default
        # model parameters it starts from. The ctypes callback must outlive the load.
        callback = lc.llama_progress_callback(lambda p, _: _report(progress, p))
        default_params = lc.llama_model_default_params

        def params_with_progress() -> Any:
            params = default_params()
            params.progress_callback = callback
            return params

        lc.llama_model_default_params = params_with_progress
        try:
            llm = Llama(
                str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=options.n_gpu_layers,
                flash_attn=True,
                verbose=True,  # the engine process's stderr is the log file
                chat_format="llama-2",  # unused: we render templates ourselves
            )
        except (ValueError, RuntimeError) as e:
            raise EngineError(
                f"llama.cpp could not load {Path(path).name} ({e}); the engine log has the details"
            ) from e
        finally:
            lc.llama_model_default_params = default_params
        self._llm = llm
        self._cached = []
        self._shape = gguf_shape(header)
        self._compute_bytes = _compute_buffers_logged()
        bos = self._token_text(llm.token_bos())
        eos = self._token_text(llm.token_eos())
        notice = None
        if options.chat_format:
            self._template = named_template(options.chat_format, bos_token=bos, eos_token=eos)
        else:
            self._template = choose_template(
                header.chat_template, header.architecture, bos_token=bos, eos_token=eos
            )
            fallback = choose_template(None, header.architecture, bos_token=bos, eos_token=eos)
            if header.chat_template and self._template.name != "model":
                notice = (
                    "the model's chat template is not valid Jinja; "
                    f"using the {fallback.name} chat format instead"
                )
            else:
                try:
                    self._template.render(TRIAL_CHAT)
                except TemplateError as e:
                    # The model's own template is broken or hostile: a named format
                    # will do, and the user hears why.
                    notice = f"{e}; using the {fallback.name} chat format instead"
                    self._template = fallback
        self._info = ModelInfo(
            path=str(path),
            # The file name: what the user chose and recognises (general.name is
            # often a training-run label).
            name=Path(path).stem,
            architecture=header.architecture,
            n_ctx=llm.n_ctx(),
            n_ctx_train=n_ctx_train,
            n_threads=n_threads,
            template=self._template.name,
            size_bytes=header.file_size,
            notice=notice,
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
        if continue_last:
            # Continue the last (assistant) message: render without a new turn and
            # stop right after its text, before the template closes it.
            parts = self.template.render_parts(messages, add_generation_prompt=False)
            last = max((i for i, (_, is_msg) in enumerate(parts) if is_msg), default=-1)
            if last < 0:
                raise EngineError("this model's chat template cannot continue a reply")
            parts = parts[: last + 1]
        else:
            parts = self.template.render_parts(messages)
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
            raise EngineError(
                f"the conversation is {len(prompt):,} tokens and the context holds "
                f"{n_ctx:,}: start a new conversation or load with a larger context"
            )
        n_past = self._reuse_prefix(lc, ctx, prompt)
        evaluated = len(prompt) - n_past
        self._decode(lc, ctx, prompt[n_past:], llm.n_batch)
        chain = _sampler_chain(lc, params)
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
                text = decoder.decode(piece.raw[: max(n, 0)])
                if text:
                    yield Delta(text, 1)
                one[0] = token
                self._cached.append(token)
                if lc.llama_decode(ctx, lc.llama_batch_get_one(one, 1)) != 0:
                    self._cached.pop()
                    finish = "context"
                    break
        finally:
            lc.llama_sampler_free(chain)
        tail = decoder.decode(b"", final=True)
        if tail:
            yield Delta(tail, 0)
        t_end = time.perf_counter()
        yield ReplyStats(
            finish=finish,  # type: ignore[arg-type]
            prompt_tokens=len(prompt),
            prompt_evaluated=evaluated,
            generated_tokens=generated,
            ttft_s=(t_first or t_end) - t_start,
            tokens_per_s=(generated - 1) / (t_end - t_first) if generated > 1 else 0.0,
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

    def supports_gpu_offload(self) -> bool:
        """Whether this llama.cpp build can put layers on a GPU."""
        import llama_cpp as lc

        return bool(lc.llama_supports_gpu_offload())

    def unload(self) -> None:
        """Free the model and its context."""
        if self._llm is not None:
            self._llm.close()
        self._llm = None
        self._cached = []
        self._template = None

    def memory(self) -> MemoryUse:
        """This process's resident memory and the model's share of it."""
        import llama_cpp as lc
        import psutil

        rss = psutil.Process().memory_info().rss
        if self._llm is None or self._info is None:
            return MemoryUse(rss=rss, weights=0)
        return MemoryUse(
            rss=rss,
            weights=int(lc.llama_model_size(self._llm._model.model)),
            kv_cache=kv_cache_bytes(self._shape, self._info.n_ctx),
            compute=self._compute_bytes,
        )


_COMPUTE_LINE = re.compile(rb"compute buffer size\s*=\s*([\d.]+) MiB")


def _compute_buffers_logged() -> int:
    """The compute buffers llama.cpp just reported, read back from our own log.

    llama.cpp has no call that returns them; it logs them at load, and this
    process's stderr is the engine log file. 0 when it cannot be read.
    """
    try:
        path = os.readlink("/proc/self/fd/2")
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 65536))
            tail = f.read()
    except OSError:
        return 0
    # The last load's lines: after its final "llama_context:" constructor line.
    start = tail.rfind(b"llama_context: constructing")
    sizes = _COMPUTE_LINE.findall(tail[start if start >= 0 else 0 :])
    return int(sum(float(x) for x in sizes) * 1024 * 1024)


def _report(progress: Callable[[float], None] | None, fraction: float) -> bool:
    if progress is not None:
        progress(fraction)
    return True  # go on loading


class _UnusedFormatter:
    """Stands in for llama-cpp-python's template formatter, which we never use."""

    def __init__(self, **_: Any) -> None:
        pass

    def to_chat_handler(self) -> None:
        return None


def _sampler_chain(lc: Any, params: SamplingParams) -> Any:
    """llama.cpp's own sampler chain for these settings."""
    chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
    add = lc.llama_sampler_chain_add
    if params.repeat_penalty != 1.0:
        add(chain, lc.llama_sampler_init_penalties(64, params.repeat_penalty, 0.0, 0.0))
    if params.temperature <= 0:
        add(chain, lc.llama_sampler_init_greedy())
        return chain
    if params.top_k > 0:
        add(chain, lc.llama_sampler_init_top_k(params.top_k))
    if params.top_p < 1.0:
        add(chain, lc.llama_sampler_init_top_p(params.top_p, 1))
    if params.min_p > 0:
        add(chain, lc.llama_sampler_init_min_p(params.min_p, 1))
    add(chain, lc.llama_sampler_init_temp(params.temperature))
    seed = params.seed if params.seed is not None else 0xFFFFFFFF  # LLAMA_DEFAULT_SEED
    add(chain, lc.llama_sampler_init_dist(seed))
    return chain
