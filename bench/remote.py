"""Tokens/s through `llamatui serve` and the remote engine, as a ratio of the local
engine on the same model, in one run (loopback; greedy; the same prompt).

    python bench/remote.py [--runs 3] [--tokens 400] [--threads N]

Prints figures; it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from llamatui.engines.handle import EngineHandle, InProcessHandle
from llamatui.engines.host import ProcessHandle
from llamatui.engines.models import default_model_path
from llamatui.engines.protocol import Delta, LoadOptions, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.engines.remote.engine import RemoteEngine

ASK = [{"role": "user", "content": "Write a long story about a dragon who learns to read."}]


def rate(handle: EngineHandle, params: SamplingParams) -> tuple[float, float, int]:
    """(tok/s after the first token as received, TTFT s, tokens) of one reply."""
    t0 = time.perf_counter()
    t_first, n = 0.0, 0
    for item in handle.stream(ASK, params):  # type: ignore[arg-type]
        if isinstance(item, Delta) and item.n_tokens:
            t_first = t_first or time.perf_counter()
            n += item.n_tokens
    return (n - 1) / (time.perf_counter() - t_first), t_first - t0, n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    model = default_model_path()
    params = SamplingParams(temperature=0, max_tokens=args.tokens)
    options = LoadOptions(n_ctx=2048, engine={"threads": args.threads})
    with tempfile.TemporaryDirectory() as tmp:
        port = 18000 + os.getpid() % 1000
        env = os.environ | {
            "LLAMATUI_DATA_DIR": tmp,
            "LLAMATUI_LOG_DIR": tmp,
            "LLAMATUI_CACHE_DIR": tmp,
        }
        cmd = [sys.executable, "-m", "llamatui.tui", "--threads", str(args.threads),
               "--ctx", "2048", "serve", "--port", str(port), "--model", str(model)]  # fmt: skip
        server = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        url = f"http://127.0.0.1:{port}/v1"
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{url}/models", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            remote = InProcessHandle("remote", RemoteEngine)
            remote.load(ModelRef("remote", url, Path(model).stem), LoadOptions(n_ctx=2048))
            rate(remote, SamplingParams(temperature=0, max_tokens=16))  # warm the server's engine
            local = ProcessHandle()
            local.load(ModelRef("llamacpp", str(model)), options)
            rate(local, SamplingParams(temperature=0, max_tokens=16))
            locals_, remotes = [], []
            for _ in range(args.runs):  # alternated, so drift hits both alike
                locals_.append(rate(local, params))
                remotes.append(rate(remote, params))
            local.close()
            remote.close()
        finally:
            server.terminate()
            server.wait(10)
    lr = statistics.median(r[0] for r in locals_)
    rr = statistics.median(r[0] for r in remotes)
    lt = statistics.median(r[1] for r in locals_) * 1000
    rt = statistics.median(r[1] for r in remotes) * 1000
    print(f"model {Path(model).name}, {args.threads} threads, greedy, {args.tokens} tokens")
    print(f"local engine (host)        {lr:6.1f} tok/s  TTFT {lt:.0f} ms")
    print(f"llamatui serve + remote    {rr:6.1f} tok/s  TTFT {rt:.0f} ms")
    print(f"remote / local             {rr / lr:.3f}  ({args.runs} runs, alternated)")


if __name__ == "__main__":
    main()
