"""The exllama engine: EXL3 and unquantized HF models on NVIDIA GPUs, on exllamav3.

It runs in the engine process like llama.cpp, so a CUDA error or an out-of-memory
kill ends that process and not the app, and ending it gives the VRAM back for
certain. exllamav3 and torch are imported only here, at load: the app's process
never imports them, and a machine without CUDA never gets this far (the registry
says why first).
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from threading import Event
from typing import Any

from llamatui.engines.estimate import CACHE_BITS, Shape, cache_bytes, exllama_ctx
from llamatui.engines.exllama.build import import_exllamav3
from llamatui.engines.exllama.sampling import make_sampler, stop_tokens
from llamatui.engines.gguf import ModelFileError
from llamatui.engines.hf import folder_entry
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
from llamatui.engines.templates import ChatMessage, ChatTemplate, pick_template, prompt_parts

FULL = Capabilities(count_tokens=True, continue_reply=True, gpu_offload=True)


def width_note(config: Any, error: Exception) -> str:
    """Why a load failed, where it failed the way exllamav3 1.6.5 did on the GPU check
    with a model 576 wide (as SmolLM2-135M is): "The size of tensor a (576) must match
    the size of tensor b (640)", its layers padded to 128 (512 wide loaded)."""
    width = int(getattr(config, "hidden_size", 0) or 0)
    if width % 128 == 0 or "must match the size of tensor" not in str(error):
        return ""
    return (
        f"; this model is {width} wide, not a multiple of 128, which exllamav3 has failed"
        " on: its GGUF file with the llama.cpp engine will run it"
    )


# exllamav3's prompt chunk (its default): at most this many tokens per forward pass.
CHUNK = 2048


def parse_split(text: str | None) -> list[float] | None:
    """`"20,24"` -> [20.0, 24.0] GB to use on each GPU; None for automatic."""
    if not text or not text.strip():
        return None
    return [float(x) for x in text.split(",")]


def own_template(folder: Path, tokenizer_config: dict[str, Any]) -> str | None:
    """The model's chat template: chat_template.jinja, else tokenizer_config.json's
    (a string, or a list of named ones where "default" is the chat one)."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    template = tokenizer_config.get("chat_template")
    if isinstance(template, list):
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    return template if isinstance(template, str) else None


class ExllamaEngine:
    """EXL3 and HF models on exllamav3. One instance per engine process."""

    name = "exllama"

    def __init__(self) -> None:
        self._exl: Any = None
        self._torch: Any = None
        self._model: Any = None
        self._cache: Any = None
        self._tokenizer: Any = None
        self._generator: Any = None
        self._template: ChatTemplate | None = None
        self._info: ModelInfo | None = None
        self._stops: list[int] = []
        self._add_bos = False
        self._shape = Shape(weights=0)
        self._cache_kind = "fp16"

    def load(
        self, ref: ModelRef, options: LoadOptions, progress: Progress | None = None
    ) -> ModelInfo:
        """Check the folder, build exllamav3 if this is its first run, then load the
        weights and the cache, reporting progress from 0 to 1."""
        folder = Path(ref.location)
        if not (folder / "config.json").is_file():
            raise ModelFileError(folder, "not a model folder: it has no config.json")
        entry = folder_entry(folder, sorted(folder.glob("*.safetensors")))
        if entry.error is not None:
            raise ModelFileError(folder, entry.error)
        self.unload()
        exl = self._exl = import_exllamav3(progress)
        import torch

        self._torch = torch
        cache_kind = str(options.engine.get("cache") or "fp16")
        try:
            config = exl.Config.from_directory(str(folder))
        except (AssertionError, ValueError, KeyError, OSError) as e:
            # "Unknown architecture ...", or a config it cannot read.
            raise ModelFileError(folder, f"exllamav3 cannot load this model ({e})") from e
        n_ctx_train = int(getattr(config, "max_position_embeddings", 0) or 8192)
        self._shape = entry.shape or Shape(weights=entry.size_bytes)
        # exllamav3 pages its cache by 256 tokens: the context is rounded up to that.
        n_ctx = exllama_ctx(Shape(weights=0, context_length=n_ctx_train), options.n_ctx)
        self._cache_kind = cache_kind
        model = None
        try:
            model = exl.Model.from_config(config)
            # The cache first: its tensors are allocated as the model loads.
            bits = CACHE_BITS.get(cache_kind, 16)
            quant = {} if bits == 16 else {"layer_type": exl.CacheLayer_quant}
            if quant:
                quant |= {"k_bits": bits, "v_bits": bits}
            cache = exl.Cache(model, max_num_tokens=n_ctx, **quant)
            # A prompt is taken in chunks no longer than the cache (exllamav3's default,
            # 2048, fails to load with a shorter context: "Cache too small").
            chunk = min(CHUNK, n_ctx)
            split = parse_split(options.engine.get("gpu_split"))

            def loaded(module: int, modules: int) -> None:
                if progress is not None:
                    progress(module / modules if modules else 1.0, "")

            # The default (automatic split) is the path that reports progress.
            model.load(
                callback=loaded,
                max_chunk_size=chunk,
                **({"use_per_device": split} if split else {}),
            )
        except (RuntimeError, ValueError, AssertionError, KeyError, OSError) as e:
            if model is not None:  # what it loaded so far goes back
                model.unload()
            self.unload()
            raise EngineError(
                f"exllamav3 could not load {folder.name} ({e}){width_note(config, e)}; "
                "the engine log has the details"
            ) from e
        self._model, self._cache = model, cache
        tokenizer = self._tokenizer = exl.Tokenizer.from_config(config)
        self._generator = exl.Generator(
            model=model, cache=cache, tokenizer=tokenizer, max_chunk_size=min(CHUNK, n_ctx)
        )
        self._stops = stop_tokens(config, tokenizer)
        tok_config: dict[str, Any] = dict(getattr(tokenizer, "tokenizer_config_dict", None) or {})
        self._add_bos = bool(tok_config.get("add_bos_token", False))
        model_type = str(_config_json(folder).get("model_type", ""))
        self._template, notice = pick_template(
            own_template(folder, tok_config),
            model_type,
            chat_format=options.chat_format,
            bos_token=str(getattr(tokenizer, "bos_token", None) or ""),
            eos_token=str(getattr(tokenizer, "eos_token", None) or ""),
        )
        if progress is not None:
            progress(1.0, "")
        self._info = ModelInfo(
            ref=ref,
            name=ref.name,
            architecture=str(getattr(config, "architecture", entry.architecture or "?")),
            n_ctx=n_ctx,
            n_ctx_train=n_ctx_train,
            template=self._template.name,
            size_bytes=entry.size_bytes,
            # One Python thread drives the GPU: drawing competes with little.
            capabilities=FULL,
            notice=notice,
        )
        return self._info

    def _require(self) -> ModelInfo:
        if self._info is None or self._generator is None:
            raise EngineError("no model is loaded")
        return self._info

    def tokenize_chat(
        self, messages: Sequence[ChatMessage], *, continue_last: bool = False
    ) -> list[int]:
        """The prompt's tokens: the template's text with control tokens, message text
        as plain text (`<|im_end|>` typed by a user stays characters)."""
        self._require()
        assert self._template is not None
        parts = prompt_parts(self._template, messages, continue_last=continue_last)
        tokens: list[int] = []
        bos = self._template.bos_token
        first = parts[0][0] if parts else ""
        bos_id = getattr(self._tokenizer, "bos_token_id", None)
        if self._add_bos and bos_id is not None and not (bos and first.startswith(bos)):
            tokens.append(int(bos_id))
        for text, is_message in parts:
            ids = self._tokenizer.encode(text, add_bos=False, encode_special_tokens=not is_message)
            tokens += [int(t) for t in ids.tolist()[0]]
        return tokens

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the prompt these messages render to, by the model's tokenizer."""
        return len(self.tokenize_chat(messages))

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams,
        cancel: Event,
        continue_last: bool = False,
    ) -> Iterator[Delta | ReplyStats]:
        """Generate a reply (or more of the last one), one generator step at a time;
        the cancel is checked before every step. exllamav3 reuses the cached pages of
        the prompt's start by itself."""
        info = self._require()
        t_start = time.perf_counter()
        prompt = self.tokenize_chat(messages, continue_last=continue_last)
        # exllamav3 keeps one cache cell beyond the prompt and the reply.
        room = info.n_ctx - len(prompt) - 1
        if room < 1:
            raise ContextOverflow(len(prompt), info.n_ctx)
        max_new = min(params.max_tokens, room)
        gen, exl = self._generator, self._exl
        job = exl.Job(
            input_ids=self._torch.tensor([prompt], dtype=self._torch.long),
            max_new_tokens=max_new,
            stop_conditions=self._stops,
            sampler=make_sampler(exl, params),
            seed=params.seed,
        )
        gen.enqueue(job)
        # The chat format's own end-of-turn text too (a named format on a model
        # that does not know its markers writes them out).
        ends = self._template.stops if self._template is not None else ()
        stops = StopMatcher([*params.stop, *ends])
        generated = cached = 0
        finish = "length"
        t_first = 0.0
        try:
            while gen.num_remaining_jobs():
                if cancel.is_set():
                    gen.cancel(job)
                    finish = "cancelled"
                    break
                for r in gen.iterate():
                    if r.get("stage") == "error":
                        raise EngineError(f"exllamav3 failed: {r.get('error')}")
                    if r.get("stage") != "streaming":
                        continue
                    ids = r.get("token_ids")
                    k = int(ids.shape[-1]) if ids is not None else 0
                    generated += k
                    t_first = t_first or (time.perf_counter() if k else 0.0)
                    if delta := stops.take(str(r.get("text") or ""), k):
                        yield delta
                    if stops.stopped:
                        gen.cancel(job)
                        finish = "stop"
                        break
                    if r.get("eos"):
                        cached = int(r.get("cached_tokens") or 0)
                        finish = _finish(str(r.get("eos_reason")), max_new < params.max_tokens)
                if stops.stopped:
                    break
        finally:
            if gen.num_remaining_jobs():  # the reader stopped early: so does the job
                gen.cancel(job)
        if delta := stops.rest():
            yield delta
        t_end = time.perf_counter()
        yield ReplyStats(
            finish=finish,  # type: ignore[arg-type]
            prompt_tokens=len(prompt),
            prompt_evaluated=len(prompt) - cached,
            generated_tokens=generated,
            ttft_s=(t_first or t_end) - t_start,
            tokens_per_s=generation_rate(generated, t_first, t_end),
            context_used=len(prompt) + generated,
            n_ctx=info.n_ctx,
        )

    def unload(self) -> None:
        """Free the model and its cache; the VRAM goes back to the driver."""
        gen, model = self._generator, self._model
        self._generator = self._cache = self._model = self._tokenizer = None
        self._info = None
        if gen is not None and hasattr(gen, "close"):
            gen.close()  # exllamav3 1.6: the generator's host buffers
        if model is not None:
            model.unload()  # the attached cache's tensors too
        del gen, model
        gc.collect()
        if self._torch is not None:
            self._torch.cuda.empty_cache()

    def memory(self) -> MemoryUse:
        """This process's resident memory and the model's share of each GPU.

        Each GPU's share is what torch has allocated there; the cache's part of it is
        the cache's size (from the model's shape, context and cache precision) spread
        over the GPUs in proportion.
        """
        import psutil

        rss = psutil.Process().memory_info().rss
        info, torch = self._info, self._torch
        if info is None or torch is None:
            return MemoryUse(rss=rss)
        used = {d: int(torch.cuda.memory_allocated(d)) for d in range(torch.cuda.device_count())}
        used = {d: n for d, n in used.items() if n > 0}
        total = sum(used.values()) or 1
        kv = cache_bytes(self._shape, info.n_ctx, self._cache_kind)
        devices = tuple(
            DeviceMemory(f"cuda:{d}", weights=max(n - kv * n // total, 0), kv_cache=kv * n // total)
            for d, n in used.items()
        )
        return MemoryUse(rss=rss, devices=devices)


def _finish(eos_reason: str, capped_by_context: bool) -> str:
    """exllamav3's end of a job as a finish reason."""
    if eos_reason == "max_new_tokens":
        return "context" if capped_by_context else "length"
    return "stop"


def _config_json(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
