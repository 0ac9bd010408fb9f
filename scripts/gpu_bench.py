"""The exllama engine on a real GPU: load, greedy and sampled streaming, cancel and
unload through the engine host, VRAM before / loaded / after (NVML), tokens/s against
exllamav3's own generator loop on the same model in the same run, and the VRAM
estimate against what NVML shows.

    python scripts/gpu_bench.py MODEL_DIR [MODEL_DIR ...]

Prints figures; it is a benchmark, not a test.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from llamatui.engines.estimate import vram_needed
from llamatui.engines.exllama.engine import own_template
from llamatui.engines.host import ProcessHandle
from llamatui.engines.library import Library
from llamatui.engines.protocol import Delta, LoadOptions, ReplyStats, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage, pick_template

ASK: list[ChatMessage] = [{"role": "user", "content": "Write a long story about a dragon."}]
N_CTX = 4096
TOKENS = 400
MIB = 2**20


def vram_used() -> int:
    """Bytes used on GPU 0, as NVML counts them (every process)."""
    import pynvml

    pynvml.nvmlInit()
    try:
        return int(pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(0)).used)
    finally:
        pynvml.nvmlShutdown()


def stream(handle: ProcessHandle, params: SamplingParams) -> tuple[str, ReplyStats]:
    text, stats = [], None
    for item in handle.stream(ASK, params):
        if isinstance(item, Delta):
            text.append(item.text)
        else:
            stats = item
    assert stats is not None
    return "".join(text), stats


def own_loop(
    folder: Path, messages: list[ChatMessage], n_tokens: int = TOKENS, runs: int = 3
) -> tuple[float, float]:
    """exllamav3's own Generator on `folder`, greedy, `messages` in the model's own
    template: (time to first token in s, tokens/s after it), the medians of `runs`
    after one warm-up."""
    import torch
    from exllamav3 import Cache, Config, Generator, GreedySampler, Job, Model, Tokenizer

    config = Config.from_directory(str(folder))
    context = min(N_CTX, config.max_position_embeddings) // 256 * 256
    model = Model.from_config(config)
    cache = Cache(model, max_num_tokens=context)
    model.load()
    tokenizer = Tokenizer.from_config(config)
    generator = Generator(model=model, cache=cache, tokenizer=tokenizer)
    ids = tokenizer.encode(prompt_of(folder, messages), encode_special_tokens=True)
    n_tokens = min(n_tokens, context - ids.shape[-1] - 1)
    ttfts, rates = [], []
    for _ in range(runs + 1):
        job = Job(input_ids=ids, max_new_tokens=n_tokens, sampler=GreedySampler())
        t0 = time.perf_counter()
        generator.enqueue(job)
        n, t_first = 0, 0.0
        while generator.num_remaining_jobs():
            for r in generator.iterate():
                k = r.get("token_ids")
                if k is not None and k.shape[-1]:
                    n += int(k.shape[-1])
                    t_first = t_first or time.perf_counter()
        ttfts.append(t_first - t0)
        rates.append((n - 1) / (time.perf_counter() - t_first))
    model.unload()
    del generator, cache, model
    torch.cuda.empty_cache()
    return statistics.median(ttfts[1:]), statistics.median(rates[1:])


def check(folder: Path) -> None:
    print(f"\n== {folder.name}", flush=True)
    [entry] = [e for e in Library().scan([folder.parent]) if Path(e.path) == folder]
    before = vram_used()
    handle = ProcessHandle("exllama")
    t = time.monotonic()
    info = handle.load(ModelRef("exllama", str(folder)), LoadOptions(n_ctx=N_CTX))
    print(f"load {time.monotonic() - t:.1f} s · ctx {info.n_ctx} · template {info.template}")
    loaded = vram_used()
    greedy = SamplingParams(temperature=0, max_tokens=TOKENS)
    a, _ = stream(handle, greedy)
    b, s = stream(handle, greedy)
    print(f"greedy twice the same: {a == b} · {s.generated_tokens} tokens · {s.finish}")
    rates = [stream(handle, greedy)[1].tokens_per_s for _ in range(3)]
    _, sampled = stream(handle, SamplingParams(temperature=0.8, seed=1, max_tokens=64))
    print(f"sampled: {sampled.generated_tokens} tokens · {sampled.finish}")
    got = 0
    for item in handle.stream(ASK, SamplingParams(temperature=0, max_tokens=TOKENS)):
        if isinstance(item, Delta):
            got += item.n_tokens
            if got >= 5:
                handle.cancel()
        else:
            print(f"cancel after 5: {item.generated_tokens} generated · {item.finish}")
    share = handle.memory()
    handle.close()
    after = vram_used()
    need = vram_needed(entry.shape, N_CTX) if entry.shape else 0
    print(
        f"VRAM before {before / MIB:.0f} MiB · loaded {loaded / MIB:.0f} MiB "
        f"(+{(loaded - before) / MIB:.0f}) · after unload {after / MIB:.0f} MiB"
    )
    print(
        f"model's share: weights {share.weights / MIB:.0f} MiB · cache {share.kv_cache / MIB:.0f}"
        f" MiB · estimate {need / MIB:.0f} MiB vs NVML +{(loaded - before) / MIB:.0f} MiB"
    )
    engine = statistics.median(rates)
    _, own = own_loop(folder, ASK)
    print(f"tokens/s: engine host {engine:.1f} · exllamav3's own loop {own:.1f}", end=" ")
    print(f"· ratio {engine / own:.3f}", flush=True)


def prompt_of(folder: Path, messages: list[ChatMessage]) -> str:
    """The prompt text the engine sends for `messages`, with the model's own template."""
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    model_type = json.loads((folder / "config.json").read_text()).get("model_type", "")
    template, _ = pick_template(own_template(folder, tok_config), model_type)
    return template.render(messages)


def main() -> None:
    for arg in sys.argv[1:]:
        check(Path(arg))


if __name__ == "__main__":
    main()
