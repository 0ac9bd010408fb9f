"""Streaming throughput: raw llama-cpp-python, the engine host, and the full UI path.

One run on the default model, the same thread count and greedy sampling for all:

- raw decode: llama_decode of one token at a time, no sampling (what llama-bench's
  tg test measures);
- raw generate: llama-cpp-python's high-level `Llama.generate` loop;
- engine host: our engine process, tokens counted as they arrive in the app process;
- UI: the headless app, tokens counted when a frame with them has been drawn.

Each is the median of --runs runs, interleaved, and given as a ratio of the raw
generate loop. Also time to first token, and the cold start of `llamatui` to its
first frame in a pseudo-terminal.

With --meters-compare, each round also runs the UI with the meters pane open, right
after the run with it closed, and the paired ratio open/closed is printed.

Usage: python bench/stream.py [--tokens N] [--threads N] [--runs N] [--meters]
                              [--meters-compare]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llamatui.engines.handle import EngineState
from llamatui.engines.host import ProcessHandle
from llamatui.engines.models import default_model_path
from llamatui.engines.protocol import Delta, LoadOptions, ReplyStats, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage

PROMPT = "Write a long story about a dragon who learns to read."
MESSAGES: list[ChatMessage] = [{"role": "user", "content": PROMPT}]
# Each measured reply follows a short warm-up reply on the same fresh engine: the
# first steps after loading a model run slower (page faults, thread start-up).
WARM_UP: list[ChatMessage] = [{"role": "user", "content": "Say hello."}]
WARM_UP_PARAMS = SamplingParams(temperature=0, max_tokens=32)


def raw_runs(model: Path, n_tokens: int, threads: int, n_ctx: int, runs: int):
    """(decode-only tok/s, generate tok/s) of each run, in one process with the model."""
    import llama_cpp as lc
    from llama_cpp import Llama

    llm = Llama(
        str(model),
        n_ctx=n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        flash_attn=True,
        verbose=False,
    )
    from llamatui.engines.templates import choose_template

    tmpl = choose_template(llm.metadata.get("tokenizer.chat_template"), "llama")
    prompt = llm.tokenize(tmpl.render(MESSAGES).encode(), add_bos=False, special=True)

    def generate() -> float:
        llm.reset()
        n = 0
        t_first = 0.0
        for _tok in llm.generate(prompt, top_k=1, temp=0.0, reset=True):
            n += 1
            if n == 1:
                t_first = time.perf_counter()
            if n >= n_tokens:
                break
        return (n - 1) / (time.perf_counter() - t_first)

    def decode_only() -> float:
        ctx = llm._ctx.ctx
        lc.llama_memory_clear(lc.llama_get_memory(ctx), True)
        arr = (lc.llama_token * len(prompt))(*prompt)
        lc.llama_decode(ctx, lc.llama_batch_get_one(arr, len(prompt)))
        one = (lc.llama_token * 1)(prompt[-1])
        t = time.perf_counter()
        for _ in range(n_tokens - 1):
            lc.llama_decode(ctx, lc.llama_batch_get_one(one, 1))
        return (n_tokens - 1) / (time.perf_counter() - t)

    generate()  # warm up: the first steps after loading are slower
    out = [(decode_only(), generate()) for _ in range(runs)]
    llm.close()
    return out


def host_run(client: ProcessHandle, params: SamplingParams) -> tuple[float, float, int]:
    """(tok/s as received, TTFT s, tokens) through the engine process."""
    t0 = time.perf_counter()
    t_first = 0.0
    n = 0
    for item in client.stream(MESSAGES, params):
        if isinstance(item, Delta):
            if n == 0:
                t_first = time.perf_counter()
            n += item.n_tokens
        else:
            assert isinstance(item, ReplyStats)
    t_last = time.perf_counter()
    return (n - 1) / (t_last - t_first), t_first - t0, n


async def ui_run(model: Path, threads: int, n_ctx: int, params: SamplingParams, meters: bool):
    """(tok/s on screen, TTFT on screen s, tokens) through the headless app."""
    from llamatui.tui.app import LlamaTUI
    from llamatui.tui.screens.chat import ChatScreen
    from llamatui.tui.settings import Settings
    from llamatui.tui.widgets.chat_message import AssistantMessage

    app = LlamaTUI(
        Settings(
            model=ModelRef("llamacpp", str(model)),
            load=LoadOptions(n_ctx=n_ctx),
            engine_options={"llamacpp": {"threads": threads}},
            sampling=params,
        )
    )
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        while screen.session.state is not EngineState.READY:
            await asyncio.sleep(0.05)
        screen.prompt.text = WARM_UP[0]["content"]
        await pilot.press("enter")
        while screen.session.generating or screen.status.stats is None:
            await asyncio.sleep(0.01)
        await pilot.press("ctrl+n")  # a new chat for the measured reply
        await pilot.pause(0.1)
        if meters:
            screen.action_toggle_meters()
        # Each frame the app writes to its terminal: (time, tokens handled before it).
        # The headless driver is told it is not headless, so frames are encoded for
        # a terminal as they would be for a person, then dropped.
        frames: list[tuple[float, int]] = []
        driver = app._driver
        assert driver is not None

        def write(self: object, data: str) -> None:
            frames.append((time.perf_counter(), screen.status.streamed))

        headless_class = driver.__class__
        driver.__class__ = type(
            "FrameCountingDriver",
            (headless_class,),
            {"is_headless": property(lambda self: False), "write": write, "flush": lambda s: None},
        )
        screen.prompt.text = PROMPT
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        await pilot.press("enter")
        while screen.session.generating:
            await asyncio.sleep(0.01)
        cpu_share = (time.process_time() - cpu0) / (time.perf_counter() - t0)
        await pilot.pause(0.2)
        driver.__class__ = headless_class
        reply = screen.query_one(AssistantMessage)
        stats = screen.status.stats
        assert stats is not None and reply.text
        n = stats.generated_tokens
        t_first = next(t for t, k in frames if k > 0)
        t_last = next(t for t, k in frames if k >= n)
    return (n - 1) / (t_last - t_first), t_first - t0, n, stats.tokens_per_s, cpu_share


def cold_start(runs: int) -> list[float]:
    """Seconds from exec of `llamatui` to its first frame, in a 100x30 pty."""
    exe = Path(sys.executable).with_name("llamatui")
    times = []
    for _ in range(runs):
        master, slave = pty.openpty()
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color"}
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(exe)], stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        seen = b""
        elapsed = float("nan")
        deadline = t0 + 20
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
                if b"essage the model" in seen:  # "M" may be drawn apart, under the cursor
                    elapsed = time.perf_counter() - t0
                    break
        os.write(master, b"\x11")  # Ctrl+Q
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(master)
        times.append(elapsed)
    return times


def main() -> None:
    # The app saves its history as it does for a person, but not into theirs.
    os.environ.setdefault("LLAMATUI_DATA_DIR", tempfile.mkdtemp(prefix="llamatui-bench-"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--meters", action="store_true", help="with the meters pane open")
    parser.add_argument(
        "--meters-compare", action="store_true", help="also each round with the pane open"
    )
    args = parser.parse_args()
    model = default_model_path()
    params = SamplingParams(temperature=0, max_tokens=args.tokens)
    print(f"model {model.name}, {args.threads} threads, greedy, {args.tokens} tokens max")

    hosts, uis, raws, opened = [], [], [], []
    for _ in range(args.runs):
        # A fresh engine each run, like a fresh app: the prompt is not cached.
        client = ProcessHandle()
        client.load(
            ModelRef("llamacpp", str(model)),
            LoadOptions(n_ctx=args.ctx, engine={"threads": args.threads}),
        )
        list(client.stream(WARM_UP, WARM_UP_PARAMS))
        hosts.append(host_run(client, params))
        client.close()
        n_tokens = hosts[-1][2]
        # In a process of its own: llama.cpp's OpenMP threads spin for a while
        # after each step, and must not linger beside the app in this process.
        with mp.get_context("spawn").Pool(1) as pool:
            raws += pool.apply(raw_runs, (model, n_tokens, args.threads, args.ctx, 1))
        uis.append(asyncio.run(ui_run(model, args.threads, args.ctx, params, args.meters)))
        if args.meters_compare:
            opened.append(asyncio.run(ui_run(model, args.threads, args.ctx, params, True)))

    decode = statistics.median(r[0] for r in raws)
    generate = statistics.median(r[1] for r in raws)
    host = statistics.median(h[0] for h in hosts)
    ui = statistics.median(u[0] for u in uis)
    print(f"tokens per reply          {[h[2] for h in hosts]} host, {[u[2] for u in uis]} UI")
    print(f"raw decode only           {decode:7.1f} tok/s  ({decode / generate:.3f} of generate)")
    print(f"raw llama-cpp generate    {generate:7.1f} tok/s  (1.000)")
    print(f"engine host               {host:7.1f} tok/s  ({host / generate:.3f})")
    print(f"UI, tokens on screen      {ui:7.1f} tok/s  ({ui / generate:.3f})")
    print(f"UI / engine host          {ui / host:.3f}")
    # The machine's speed drifts between runs: the ratio within each round of
    # back-to-back runs is steadier than the ratio of medians.
    paired = statistics.median(u[0] / r[1] for u, r in zip(uis, raws, strict=True))
    print(f"UI / raw, paired by round {paired:.3f}")
    own = statistics.median(u[3] for u in uis)
    print(f"engine's own rate, in UI  {own:7.1f} tok/s  ({own / generate:.3f})")
    if opened:
        pane = statistics.median(o[0] for o in opened)
        pair = statistics.median(o[0] / u[0] for o, u in zip(opened, uis, strict=True))
        print(f"UI, meters pane open      {pane:7.1f} tok/s  ({pane / generate:.3f})")
        print(f"pane open / closed, paired {pair:.3f}")
    share = statistics.median(u[4] for u in uis)
    print(f"app CPU while streaming   {share * 100:7.1f} % of one core")
    print("per run (tok/s): raw generate, host, UI")
    for r, h, u in zip(raws, hosts, uis, strict=True):
        print(f"  {r[1]:7.1f} {h[0]:7.1f} {u[0]:7.1f}")
    print(f"TTFT engine host          {statistics.median(h[1] for h in hosts) * 1000:7.1f} ms")
    print(f"TTFT on screen            {statistics.median(u[1] for u in uis) * 1000:7.1f} ms")
    starts = cold_start(args.runs)
    print(
        f"cold start to first frame {statistics.median(starts) * 1000:7.1f} ms "
        f"(runs: {', '.join(f'{s * 1000:.0f}' for s in starts)})"
    )


if __name__ == "__main__":
    main()
