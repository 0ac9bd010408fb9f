"""The app as a person runs it, for bench/stream.py to drive in a pseudo-terminal.

With --stream it replies with a recorded token stream replayed at a fixed rate
(the scripted engine, in an engine process of its own); with --model, the model it
names (`exllama:/models/x-exl3`: bench/exllama_stream.py); without either, it runs the
default model on llama.cpp. Greedy, like `llamatui` does.

Usage: python bench/bench_app.py [--stream FILE --rate TOK_S | --model REF] --tokens N
                                 [--threads N] [--no-gpu-meters]

--no-gpu-meters: the meters read no GPU (NVML is not asked), to see what reading it
costs an engine on the GPU.

For finding where the time goes: BENCH_PROFILE=FILE profiles the UI thread between
SIGUSR1 and SIGUSR2 (cProfile, written to FILE); BENCH_GC=FILE writes the garbage
collections and their time at exit; BENCH_STACKS=FILE writes every thread's stack
to FILE on SIGQUIT (a test that finds the app stuck asks for them).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from llamatui.engines.host import ProcessHandle
from llamatui.engines.meters import GpuSample, Sampler
from llamatui.engines.protocol import LoadOptions, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.engines.scripted import REPLAY_ENV
from llamatui.tui.app import LlamaTUI
from llamatui.tui.chat.engines import default_model
from llamatui.tui.settings import Settings


class NoGpus:
    """The meters' GPUs when NVML is not to be asked."""

    note = "GPU meters off"

    def read(self) -> tuple[GpuSample, ...]:
        return ()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stream", type=Path, help="a recorded token stream (JSON) to replay")
    parser.add_argument("--rate", type=float, default=100.0, help="replayed tokens per second")
    parser.add_argument("--tokens", type=int, required=True, help="tokens per reply")
    parser.add_argument("--threads", type=int, help="llama.cpp's threads")
    parser.add_argument("--model", type=ModelRef.parse, help="a model reference (engine:path)")
    parser.add_argument("--no-gpu-meters", action="store_true", help="meters without NVML")
    args = parser.parse_args()
    sampling = SamplingParams(temperature=0.0, max_tokens=args.tokens)
    if args.stream is None:
        settings = Settings(
            model=args.model or default_model(),
            load=LoadOptions(n_ctx=8192),
            engine_options={"llamacpp": {"threads": args.threads}} if args.threads else {},
            sampling=sampling,
        )
        sampler = Sampler(gpus=NoGpus()) if args.no_gpu_meters else None
        LlamaTUI(settings, sampler=sampler).run()
        return
    # The replay runs in an engine process, as llama.cpp does: the app's CPU is
    # the app's own.
    os.environ[REPLAY_ENV] = f"{args.stream}@{args.rate}"

    def replay(ref: ModelRef) -> ProcessHandle:
        return ProcessHandle("scripted")

    settings = Settings(
        model=ModelRef("scripted", "replay"), load=LoadOptions(n_ctx=8192), sampling=sampling
    )
    app = LlamaTUI(settings, make_handle=replay)
    if stacks := os.environ.get("BENCH_STACKS"):
        import faulthandler
        import signal

        faulthandler.register(signal.SIGQUIT, open(stacks, "w"), all_threads=True)  # noqa: SIM115
    if os.environ.get("BENCH_PROFILE"):
        # SIGUSR1 starts profiling the UI thread, SIGUSR2 writes what it saw.
        import cProfile
        import signal

        profile = cProfile.Profile()
        signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
        signal.signal(
            signal.SIGUSR2,
            lambda *_: (profile.disable(), profile.dump_stats(os.environ["BENCH_PROFILE"])),
        )
    if os.environ.get("BENCH_GC"):
        import gc
        import time

        spent = {0: 0.0, 1: 0.0, 2: 0.0}
        counts = {0: 0, 1: 0, 2: 0}
        started = [0.0]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                spent[info["generation"]] += time.perf_counter() - started[0]
                counts[info["generation"]] += 1

        gc.callbacks.append(on_gc)
        app.run()
        Path(os.environ["BENCH_GC"]).write_text(f"{counts} {spent}\n")
        return
    app.run()


if __name__ == "__main__":
    main()
