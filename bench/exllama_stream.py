"""The app on the exllama engine in a terminal, against exllamav3's own loop: what
drawing costs a GPU model that runs at hundreds of tokens a second.

    python bench/exllama_stream.py MODEL_DIR [--lengths 400,1500] [--sizes 100x30,200x60]
                                             [--paired ROUNDS]

Runs on a machine with an NVIDIA GPU (scripts/gpu_check.sh calls it). In one run, on
one model folder (EXL3 or FP16), greedy:

- own loop: exllamav3's own Generator in this process (`scripts/gpu_bench.py`'s), the
  reference: time to first token and tokens/s after it;
- the app in a pseudo-terminal (bench/pty_app.py, the real driver writing to a pty this
  bench drains), as a person runs it (`bench_app.py --model exllama:DIR`), the prompt
  typed and Enter pressed.

Per case: the tokens on screen ('tok/s': from Enter, plus the engine's own time to
the first token, to the reply's footer drawn, so the app's start of the reply and its
end count against it), that as a ratio of the own loop's tokens/s ('of own'), the
engine's own tokens/s under the app, the app's CPU as % of one core from Enter to the
footer, bytes written to the terminal per token, and the idle app's CPU over --idle
seconds. A benchmark: it prints figures and asserts only that the reply was drawn and
stored.

With --paired N, each case runs N rounds of three, one after another: the engine
host alone (the engine's own tokens/s, no app: median of 3 replies after a warm-up),
the app, and the app with meters that do not ask NVML (`--no-gpu-meters`). On an
H200 the engine ran slower beside the app than alone; these say whether it does,
and whether the meters' NVML reads are why (the time one read takes is printed).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pty_app import PtyApp, bench_app, last_reply

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from gpu_bench import own_loop

from llamatui.engines.host import ProcessHandle
from llamatui.engines.meters import Nvml
from llamatui.engines.protocol import Delta, LoadOptions, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage

PROMPT = "Write a long story about a dragon who learns to read."
ASK: list[ChatMessage] = [{"role": "user", "content": PROMPT}]
FOOTER = b"TTFT"
"""In the reply's footer, drawn once it has ended."""
READY = "\u00b7 ready \u00b7".encode()
"""The status line once a reply has ended (it says "generating" while one streams)."""


def engine_alone(folder: Path, n_tokens: int, runs: int = 3) -> tuple[int, float]:
    """The engine host with no app: the tokens of a reply and the engine's own
    tokens/s, the median of `runs` greedy replies after a warm-up one."""
    handle = ProcessHandle("exllama")
    try:
        handle.load(ModelRef("exllama", str(folder)), LoadOptions(n_ctx=8192))
        rates, tokens = [], 0
        for _ in range(runs + 1):
            for item in handle.stream(ASK, SamplingParams(temperature=0, max_tokens=n_tokens)):
                if not isinstance(item, Delta):
                    rates.append(item.tokens_per_s)
                    tokens = item.generated_tokens
    finally:
        handle.close()
    return tokens, statistics.median(rates[1:])


def nvml_read_ms(reads: int = 20) -> float:
    """How long the meters' read of every GPU takes (median ms)."""
    nvml = Nvml()
    times = []
    for _ in range(reads):
        t = time.perf_counter()
        nvml.read()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def app_case(
    folder: Path, n_tokens: int, size: tuple[int, int], idle_s: float, gpu_meters: bool = True
) -> dict:
    """The app on `folder` at `size`: idle, then one reply of `n_tokens`, greedy."""
    cols, rows = size
    data = tempfile.mkdtemp(prefix="llamatui-bench-")
    env = {"LLAMATUI_DATA_DIR": data, "LLAMATUI_CONFIG_DIR": data}
    args = ["--model", f"exllama:{folder}", "--tokens", str(n_tokens)]
    if not gpu_meters:
        args.append("--no-gpu-meters")
    app = PtyApp(bench_app(args), cols, rows, env)
    try:
        app.wait_for(b"ready", timeout=180)  # the engine process imports torch
        time.sleep(1.0)
        cpu0, t0 = app.cpu(), time.perf_counter()
        time.sleep(idle_s)
        idle = (app.cpu() - cpu0) / (time.perf_counter() - t0)
        # A warm-up reply on the fresh engine (its first steps are slower), stopped
        # after half a second; then the measured one in a new chat.
        app.send("Say hello.")
        time.sleep(0.3)
        mark = app.mark()
        app.send("\r")
        app.wait_for(b"generating", mark, timeout=120)
        going = app.find(b"generating", mark)
        assert going is not None
        time.sleep(0.5)
        app.send("\x1b")  # (a reply that has ended by then: Esc does nothing)
        app.wait_for(READY, going[0], timeout=60)
        app.send("\x0e")  # Ctrl+N: a new chat
        time.sleep(0.5)
        app.send(PROMPT)
        time.sleep(0.3)
        mark, cpu0 = app.mark(), app.cpu()
        t_enter = app.send("\r")
        t_last = app.wait_for(FOOTER, mark, timeout=300)
        footer = app.find(FOOTER, mark)
        assert footer is not None
        cpu = (app.chunk_cpu[footer[0]] - cpu0) / (t_last - t_enter)
        written = app.bytes_between(t_enter, t_last)
        time.sleep(0.5)
    finally:
        app.close()
    n, engine, ttft = last_reply(data)
    return {
        "tokens": n,
        "on_screen": (n - 1) / (t_last - t_enter - ttft),
        "engine": engine,
        "cpu": cpu,
        "bytes_per_token": written / n,
        "idle": idle,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="an EXL3 or HF model folder")
    parser.add_argument("--lengths", default="400,1500")
    parser.add_argument("--sizes", default="100x30,200x60")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle measured")
    parser.add_argument("--paired", type=int, default=0, metavar="ROUNDS")
    args = parser.parse_args()
    folder = args.model.resolve()
    lengths = [int(x) for x in args.lengths.split(",")]
    print(f"model {folder.name}, greedy", flush=True)
    own = {n: own_loop(folder, ASK, n) for n in sorted(set(lengths))}
    for n, (ttft, rate) in own.items():
        print(f"own loop {n:5} tokens: TTFT {ttft * 1000:6.1f} ms, {rate:7.1f} tok/s", flush=True)
    print(f"one NVML read of every GPU: {nvml_read_ms():.2f} ms", flush=True)
    print(
        f"{'case':32} {'tokens':>6} {'tok/s':>7} {'of own':>6} {'engine':>7} {'app CPU':>7} "
        f"{'B/tok':>6} {'idle CPU':>8}",
        flush=True,
    )

    def show(name: str, n: int, c: dict) -> None:
        print(
            f"{name:32} {c['tokens']:6} {c['on_screen']:7.1f} "
            f"{c['on_screen'] / own[n][1]:6.3f} {c['engine']:7.1f} {c['cpu'] * 100:6.2f}% "
            f"{c['bytes_per_token']:6.0f} {c['idle'] * 100:7.2f}%",
            flush=True,
        )

    for size in args.sizes.split(","):
        cols, rows = (int(x) for x in size.split("x"))
        for n in lengths:
            name = f"{size} {n}"
            if not args.paired:
                show(name, n, app_case(folder, n, (cols, rows), args.idle))
                continue
            for r in range(1, args.paired + 1):
                tokens, alone = engine_alone(folder, n)
                print(f"{name + f' #{r} engine alone':32} {tokens:6} {'':7} {'':6} {alone:7.1f}")
                show(f"{name} #{r} app", n, app_case(folder, n, (cols, rows), args.idle))
                off = app_case(folder, n, (cols, rows), args.idle, gpu_meters=False)
                show(f"{name} #{r} app, no GPU meters", n, off)


if __name__ == "__main__":
    main()
