"""A stand-in for exllamav3 that records what it was asked, for machines without a GPU.

It follows exllamav3's API as the engine uses it (Config, Model, Cache and its quantized
layers, Tokenizer, Generator, Job, ComboSampler; see docs/engines.md) and checks what
the real one asserts: a cache of a multiple of 256 tokens, made before the model loads,
2-8 bit quantized layers, no `gpu_split` argument, a `max_new_tokens`. The "model"
replies with a fixed story, a word a token (shuffled by the seed when sampling), and a
character a token for prompts; control tokens are single tokens only when asked.
Every call is appended as a JSON line to $EXL3_STANDIN_LOG.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

PAGE_SIZE = 256
STORY_TEXT = (
    "Once upon a time a small dragon lived by the sea and wanted to read the books in the "
    "old library of the village. Every night the dragon opened a book and followed the "
    "letters with one careful claw, and the words slowly became stories about ships, "
    "stars and faraway mountains where other dragons lived."
)
STORY = STORY_TEXT.split(" ")
SPECIAL_BASE = 1_000_000
STEP_S = float(os.environ.get("EXL3_STANDIN_STEP_S", "0.005"))


def _record(call: str, **args: Any) -> None:
    path = os.environ.get("EXL3_STANDIN_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"call": call, **args}, default=str) + "\n")


# Importing exllamav3 builds its CUDA extension the first time.
_record(
    "import",
    TORCH_EXTENSIONS_DIR=os.environ.get("TORCH_EXTENSIONS_DIR"),
    MAX_JOBS=os.environ.get("MAX_JOBS"),
)
time.sleep(float(os.environ.get("EXL3_STANDIN_COMPILE_S", "0")))


class Config:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.config_dict = json.loads((Path(directory) / "config.json").read_text())
        archs = self.config_dict.get("architectures") or []
        assert len(archs) == 1, "Unknown architecture"
        self.architecture = archs[0]
        self.max_position_embeddings = self.config_dict.get("max_position_embeddings", 8192)
        eos = self.config_dict.get("eos_token_id")
        self.eos_token_id_list = eos if isinstance(eos, list) else [eos] if eos is not None else []

    @staticmethod
    def from_directory(directory: str) -> Config:
        _record("Config.from_directory", directory=directory)
        return Config(directory)


class CacheLayer_fp16:
    pass


class CacheLayer_quant:
    pass


class Cache:
    def __init__(
        self,
        model: Model,
        max_num_tokens: int,
        layer_type: type | None = None,
        k_bits: int | None = None,
        v_bits: int | None = None,
    ) -> None:
        assert max_num_tokens % PAGE_SIZE == 0, f"max_num_tokens must be a multiple of {PAGE_SIZE}."
        if layer_type is CacheLayer_quant:
            assert k_bits and v_bits and 2 <= k_bits <= 8 and 2 <= v_bits <= 8
        self.max_num_tokens = max_num_tokens
        model.cache = self
        _record(
            "Cache",
            max_num_tokens=max_num_tokens,
            layer_type=getattr(layer_type, "__name__", None),
            k_bits=k_bits,
            v_bits=v_bits,
        )


class Model:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.cache: Cache | None = None

    @staticmethod
    def from_config(config: Config) -> Model:
        _record("Model.from_config")
        return Model(config)

    def load(
        self,
        callback: Any = None,
        use_per_device: list[float] | None = None,
        reserve_per_device: list[float] | None = None,
        progressbar: bool = False,
        max_chunk_size: int = 2048,
    ) -> None:
        assert self.cache is not None, "Construct the Cache BEFORE calling model.load()"
        # The real load runs a chunk through the cache to measure (modules/attn.py), which
        # a context shorter than the chunk fails; seen on a GPU with n_ctx 1024.
        assert max_chunk_size <= self.cache.max_num_tokens, "Cache too small for batch shape"
        _record("Model.load", use_per_device=use_per_device, callback=callback is not None)
        n = 4
        for i in range(n):
            if callback is not None:
                callback(i, n)
        if callback is not None:
            callback(n, n)
        import torch

        weights = sum(p.stat().st_size for p in Path(self.config.directory).glob("*.safetensors"))
        torch.ALLOCATED[0] = weights + self.cache.max_num_tokens * 64

    def unload(self) -> None:
        import torch

        torch.ALLOCATED.clear()
        _record("Model.unload")


class Tokenizer:
    """A character a token; control tokens are one token each when asked for."""

    def __init__(self, config: Config) -> None:
        folder = Path(config.directory)
        self.tokenizer_config_dict = json.loads((folder / "tokenizer_config.json").read_text())
        added = json.loads((folder / "tokenizer.json").read_text()).get("added_tokens", [])
        self.specials = [t["content"] for t in added]
        self.bos_token = self.tokenizer_config_dict.get("bos_token")
        self.eos_token = self.tokenizer_config_dict.get("eos_token")
        self.bos_token_id = self._special_id(self.bos_token)
        self.eos_token_id = self._special_id(self.eos_token)

    def _special_id(self, token: str | None) -> int | None:
        return SPECIAL_BASE + self.specials.index(token) if token in self.specials else None

    @staticmethod
    def from_config(config: Config) -> Tokenizer:
        return Tokenizer(config)

    def encode(
        self,
        text: str,
        add_bos: bool = False,
        add_eos: bool = False,
        encode_special_tokens: bool = False,
    ) -> np.ndarray:
        ids: list[int] = [self.bos_token_id] if add_bos and self.bos_token_id else []
        i = 0
        while i < len(text):
            hit = encode_special_tokens and next(
                (s for s in self.specials if text.startswith(s, i)), None
            )
            if hit:
                ids.append(SPECIAL_BASE + self.specials.index(hit))
                i += len(hit)
            else:
                ids.append(ord(text[i]))
                i += 1
        return np.array([ids], dtype=np.int64)


class ComboSampler:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        _record("ComboSampler", **kwargs)

    @property
    def greedy(self) -> bool:
        return self.kwargs.get("temperature", 1.0) == 0.0 or self.kwargs.get("top_k") == 1


class GreedySampler(ComboSampler):
    """exllamav3's argmax sampler (scripts/gpu_bench.py's own loop uses it)."""

    def __init__(self) -> None:
        super().__init__(temperature=0.0)


class Job:
    def __init__(
        self,
        input_ids: np.ndarray,
        max_new_tokens: int,
        stop_conditions: list[int] | None = None,
        sampler: ComboSampler | None = None,
        seed: int | None = None,
    ) -> None:
        assert max_new_tokens is not None and max_new_tokens > 0
        self.ids = [int(x) for x in np.asarray(input_ids).reshape(-1)]
        self.max_new_tokens = max_new_tokens
        self.stops = list(stop_conditions or [])
        self.sampler = sampler or ComboSampler(temperature=0.8, min_p=0.08)
        words = list(STORY)
        if not self.sampler.greedy:
            random.Random(seed).shuffle(words)
        self.words = words
        self.new = 0
        _record(
            "Job", prompt_tokens=len(self.ids), max_new_tokens=max_new_tokens,
            stop_conditions=self.stops, seed=seed,
        )  # fmt: skip


class Generator:
    def __init__(
        self,
        model: Model,
        cache: Cache,
        tokenizer: Tokenizer,
        max_chunk_size: int = 2048,
        **kwargs: Any,
    ) -> None:
        assert max_chunk_size <= cache.max_num_tokens, "Cache too small for batch shape"
        self.jobs: list[Job] = []
        self.last_ids: list[int] = []
        self.eos = tokenizer.eos_token_id
        _record("Generator")

    def enqueue(self, job: Job) -> int:
        self.jobs.append(job)
        return len(self.jobs)

    def num_remaining_jobs(self) -> int:
        return len(self.jobs)

    def cancel(self, job: Job) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        _record("Generator.cancel", new_tokens=job.new)

    def close(self) -> None:
        _record("Generator.close")

    def iterate(self) -> list[dict[str, Any]]:
        if not self.jobs:
            return []
        job = self.jobs[0]
        time.sleep(STEP_S)  # one forward pass on a GPU
        if job.new >= len(job.words) and self.eos in job.stops:
            return [self._end(job, "stop_token", "")]  # the story is told: end of sequence
        word = job.words[job.new % len(job.words)]  # without a stop token it goes on
        job.new += 1
        text = word + " "
        if job.new >= job.max_new_tokens:
            return [self._end(job, "max_new_tokens", text)]
        return [{"job": job, "stage": "streaming", "eos": False, "text": text,
                 "token_ids": np.array([[job.new]])}]  # fmt: skip

    def _end(self, job: Job, reason: str, text: str) -> dict[str, Any]:
        self.jobs.remove(job)
        same = 0
        for a, b in zip(self.last_ids, job.ids, strict=False):
            if a != b:
                break
            same += 1
        self.last_ids = job.ids
        result = {
            "job": job, "stage": "streaming", "eos": True, "text": text,
            "token_ids": np.array([[job.new]]) if text else None, "eos_reason": reason,
            "new_tokens": job.new, "prompt_tokens": len(job.ids),
            "cached_tokens": same // PAGE_SIZE * PAGE_SIZE,
            "time_prefill": 0.001, "time_generate": 0.01,
        }  # fmt: skip
        _record("Job.end", eos_reason=reason, new_tokens=job.new)
        return result
