"""Streaming: what the app's drawing costs the model, in a terminal and headless.

Measured in one run, on the default model, the same thread count and greedy sampling:

- raw generate: llama-cpp-python's high-level `Llama.generate` loop, the reference;
- the app in a pseudo-terminal (the real driver writing to a pty this bench drains),
  replaying recorded token streams (bench/streams: prose, and Markdown with headings,
  lists, code fences and tables) at raw generate's rate, at 100x30 and 200x60, with
  replies of 400, 1,024 and 4,096 tokens; and once on the real engine;
- headless: the app under `run_test`, on the real engine (--runs rounds).

Per case: tokens on screen as a ratio of raw generate (first to last token drawn),
the app's CPU as % of one core for the whole reply ('reply': Enter to its footer,
the start and the end included) and while it streams ('stream': first token drawn
to last, what competes with the model for each token; read from each thread's
schedstat as the app writes), bytes written to the terminal per token; then, on a
second reply typed over while it streams (a key every 0.5 s, as
a person writes the next prompt), keypress-to-screen latency (median and worst)
and the app's CPU meanwhile ('typing'); and the idle app's CPU over --idle
seconds. Then time to first token and the cold start.

Usage: python bench/stream.py [--runs N] [--lengths 400,1024,4096]
                              [--sizes 100x30,200x60] [--contents prose,markdown]
                              [--idle S] [--threads N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pty_app import PROBE_KEYS, PtyApp, bench_app, last_reply

from llamatui.engines.handle import EngineState
from llamatui.engines.models import default_model_path
from llamatui.engines.protocol import LoadOptions, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage

PROMPT = "Write a long story about a dragon who learns to read."
MESSAGES: list[ChatMessage] = [{"role": "user", "content": PROMPT}]
# Each measured reply follows a short warm-up reply on the same fresh engine: the
# first steps after loading a model run slower (page faults, thread start-up).
WARM_UP: list[ChatMessage] = [{"role": "user", "content": "Say hello."}]


def raw_generate(model: Path, n_tokens: int, threads: int, n_ctx: int) -> float:
    """llama-cpp-python's `generate` loop, tok/s, in one process with the model."""
    from llama_cpp import Llama

    from llamatui.engines.templates import choose_template

    llm = Llama(
        str(model),
        n_ctx=n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        flash_attn=True,
        verbose=False,
    )
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

    generate()  # warm up: the first steps after loading are slower
    rate = generate()
    llm.close()
    return rate


async def ui_run(model: Path, threads: int, n_ctx: int, params: SamplingParams):
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
    return (n - 1) / (t_last - t_first), t_first - t0, cpu_share


def cold_start(runs: int) -> list[float]:
    """Seconds from exec of `llamatui` to its first frame, in a 100x30 pty."""
    times = []
    for _ in range(runs):
        app = PtyApp([str(Path(sys.executable).with_name("llamatui"))], 100, 30, {})
        try:
            # "M" may be drawn apart, under the cursor.
            times.append(app.wait_for(b"essage the model", timeout=20) - app.started)
        finally:
            app.close()
    return times


STREAMS = Path(__file__).with_name("streams")
# The first words each reply shows: when they are on screen, the reply has started.
FIRST_WORDS = {"prose": b"Once", "markdown": b"Here", "real": b"Once"}
PROBE_EVERY_S = 0.5
READY = "\u00b7 ready \u00b7".encode()
"""The status line once a reply has ended."""


@dataclass
class Case:
    """What one reply in a pseudo-terminal measured."""

    name: str
    tokens: int
    on_screen: float
    """Tokens per second, from the first drawn to the last."""
    engine: float
    """Tokens per second as the engine measured them."""
    cpu: float
    """The app's CPU for the whole reply (Enter to its footer), as a share of one core."""
    streaming: float
    """The app's CPU while the reply streams (first token drawn to last), as a share
    of one core: what competes with the model for each token."""
    bytes_per_token: float
    keys_ms: list[float]
    """Keypress-to-screen latencies while a second reply streams."""
    typing: float
    """The app's CPU while that reply streams and is typed over."""
    idle: float
    """The idle app's CPU, as a share of one core."""


def pty_case(
    name: str, args: list[str], size: tuple[int, int], content: str, idle_s: float
) -> Case:
    """Start the app at `size`, let it idle, send a prompt and time its reply; then
    send another and type over it while it streams."""
    cols, rows = size
    env = {"LLAMATUI_DATA_DIR": tempfile.mkdtemp(prefix="llamatui-bench-")}
    env["LLAMATUI_CONFIG_DIR"] = env["LLAMATUI_DATA_DIR"]
    app = PtyApp(bench_app(args), cols, rows, env)
    prompt = PROMPT if content == "real" else "Go on."
    try:
        app.wait_for(b"ready", timeout=60)
        time.sleep(1.0)  # the first count of the empty prompt, the meters' first samples
        cpu0, t0 = app.cpu(), time.perf_counter()
        time.sleep(idle_s)
        idle = (app.cpu() - cpu0) / (time.perf_counter() - t0)
        # The reply alone: what drawing it costs, and what reaches the terminal.
        start, cpu0, t_enter = submit(app, prompt)
        t_last = app.wait_for(b"TTFT", start, timeout=600)
        cpu = (app.cpu() - cpu0) / (time.perf_counter() - t_enter)
        first = app.find(FIRST_WORDS[content], start)
        last = app.find(b"TTFT", start)
        assert first is not None and last is not None, "the reply was never drawn"
        t_first = first[1]
        streaming = (app.chunk_cpu[last[0]] - app.chunk_cpu[first[0]]) / (t_last - t_first)
        written = app.bytes_between(t_enter, t_last)
        time.sleep(0.3)
        n, engine, _ = last_reply(env["LLAMATUI_DATA_DIR"])
        # Another reply, typed over while it streams (a person writing the next
        # prompt): keypress to screen, and what the app then costs. Stopped after.
        keys, typing = typed_over(app, prompt)
    finally:
        app.close()
    on_screen = (n - 1) / (t_last - t_first)
    return Case(name, n, on_screen, engine, cpu, streaming, written / n, keys, typing, idle)


def submit(app: PtyApp, prompt: str) -> tuple[int, float, float]:
    """Type `prompt` and press Enter: where the output stood before Enter, the app's
    CPU time then, and when Enter was pressed."""
    app.send(prompt)
    time.sleep(0.3)
    mark, cpu0 = app.mark(), app.cpu()
    return mark, cpu0, app.send("\r")


def typed_over(app: PtyApp, prompt: str) -> tuple[list[float], float]:
    """Send `prompt`, type a character every PROBE_EVERY_S while the reply streams;
    the latencies of those drawn before it ended, and the app's CPU meanwhile."""
    mark, cpu0, t_enter = submit(app, prompt)
    # The status line says "ready" as the prompt goes, then "generating", and "ready"
    # again only when the reply has ended.
    t_start = app.wait_for(b"generating", mark, timeout=60)
    start = app.mark()
    probes: list[tuple[int, float]] = []
    while len(probes) < len(PROBE_KEYS) and app.find(READY, start) is None:
        time.sleep(max(0.0, t_start + PROBE_EVERY_S * (len(probes) + 1) - time.perf_counter()))
        probes.append((app.mark(), app.send(PROBE_KEYS[len(probes)])))
    time.sleep(0.3)
    typing = (app.cpu() - cpu0) / (time.perf_counter() - t_enter)
    ended = app.find(READY, start)
    t_end = ended[1] if ended is not None else time.perf_counter()
    keys = []
    for (mark, sent), key in zip(probes, PROBE_KEYS, strict=False):
        seen = app.find(key.encode(), mark)
        if seen is not None and seen[1] <= t_end:
            keys.append((seen[1] - sent) * 1000)
    app.send("\x1b")  # stop the reply
    return keys, typing


def print_cases(cases: list[Case], generate: float) -> None:
    print(
        f"{'case':30} {'tokens':>6} {'tok/s':>7} {'of raw':>6} {'engine':>7} {'reply':>6} "
        f"{'stream':>6} "
        f"{'B/tok':>6} {'key ms med/max':>15} {'typing':>7} {'idle CPU':>8}"
    )
    for c in cases:
        keys = f"{statistics.median(c.keys_ms):.0f}/{max(c.keys_ms):.0f}" if c.keys_ms else "-"
        print(
            f"{c.name:30} {c.tokens:6} {c.on_screen:7.1f} {c.on_screen / generate:6.3f} "
            f"{c.engine:7.1f} {c.cpu * 100:5.1f}% {c.streaming * 100:5.1f}% "
            f"{c.bytes_per_token:6.0f} {keys:>15} "
            f"{c.typing * 100:6.1f}% {c.idle * 100:7.2f}%"
        )


def main() -> None:
    # The app saves its history as it does for a person, but not into theirs.
    os.environ.setdefault("LLAMATUI_DATA_DIR", tempfile.mkdtemp(prefix="llamatui-bench-"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="headless rounds")
    parser.add_argument("--headless-tokens", type=int, default=400)
    parser.add_argument("--real-tokens", type=int, default=1024, help="0: no real-engine case")
    parser.add_argument("--rate", type=int, help="replay rate (default: raw generate's)")
    parser.add_argument("--lengths", default="400,1024,4096")
    parser.add_argument("--sizes", default="100x30,200x60")
    parser.add_argument("--contents", default="prose,markdown")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measured")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--ctx", type=int, default=8192)
    args = parser.parse_args()
    model = default_model_path()
    print(f"model {model.name}, {args.threads} threads, greedy")

    def raw(n: int) -> float:
        # In a process of its own: llama.cpp's OpenMP threads spin for a while
        # after each step, and must not linger beside the app in this process.
        with mp.get_context("spawn").Pool(1) as pool:
            return pool.apply(raw_generate, (model, n, args.threads, args.ctx))

    generate = raw(args.real_tokens or 1024)
    rate = args.rate or round(generate)
    print(f"raw llama-cpp generate    {generate:7.1f} tok/s; replays run at {rate} tok/s")
    threads = ["--threads", str(args.threads)]
    cases = []
    if args.real_tokens:
        real = ["--tokens", str(args.real_tokens), *threads]
        name = f"real engine 100x30 {args.real_tokens}"
        cases.append(pty_case(name, real, (100, 30), "real", args.idle))
        generate_after = raw(args.real_tokens)
        print(f"raw generate after it     {generate_after:7.1f} tok/s")
        generate = (generate + generate_after) / 2
    for size in args.sizes.split(","):
        cols, rows = (int(x) for x in size.split("x"))
        for content in args.contents.split(","):
            stream = STREAMS / f"{content}.json"
            n_max = len(json.loads(stream.read_text())["tokens"])
            for n in (min(int(x), n_max) for x in args.lengths.split(",")):
                replay = ["--stream", str(stream), "--rate", str(rate), "--tokens", str(n)]
                name = f"replay {size} {n} {content}"
                cases.append(pty_case(name, replay, (cols, rows), content, args.idle))
    print("In a pseudo-terminal ('of raw': the replays' share of their fixed rate):")
    if args.real_tokens:
        print_cases(cases[:1], generate)
    print_cases(cases[bool(args.real_tokens) :], rate)

    params = SamplingParams(temperature=0, max_tokens=args.headless_tokens)
    uis, raws = [], []
    if not args.runs:
        return
    for _ in range(args.runs):
        raws.append(raw(args.headless_tokens))
        uis.append(asyncio.run(ui_run(model, args.threads, args.ctx, params)))
    ui = statistics.median(u[0] for u in uis)
    paired = statistics.median(u[0] / r for u, r in zip(uis, raws, strict=True))
    print(f"headless, {args.headless_tokens} tokens, {args.runs} rounds:")
    print(f"  raw generate            {statistics.median(raws):7.1f} tok/s")
    print(f"  UI, tokens on screen    {ui:7.1f} tok/s  (paired ratio {paired:.3f})")
    share = statistics.median(u[2] for u in uis)
    print(f"  app CPU while streaming {share * 100:7.1f} % of one core")
    print(f"  TTFT on screen          {statistics.median(u[1] for u in uis) * 1000:7.1f} ms")
    starts = cold_start(3)
    print(
        f"cold start to first frame {statistics.median(starts) * 1000:7.1f} ms "
        f"(runs: {', '.join(f'{s * 1000:.0f}' for s in starts)})"
    )


if __name__ == "__main__":
    main()
