"""The app as a person runs it, for bench/stream.py to drive in a pseudo-terminal.

With --stream it replies with a recorded token stream replayed at a fixed rate
(the scripted engine, in the app's process like a remote engine); without, it
runs the default model on llama.cpp, greedy, like `llamatui` does.

Usage: python bench/bench_app.py [--stream FILE --rate TOK_S] --tokens N [--threads N]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from llamatui.engines.handle import InProcessHandle
from llamatui.engines.protocol import LoadOptions, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.engines.scripted import ScriptedEngine
from llamatui.tui.app import LlamaTUI
from llamatui.tui.chat.engines import default_model
from llamatui.tui.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stream", type=Path, help="a recorded token stream (JSON) to replay")
    parser.add_argument("--rate", type=float, default=100.0, help="replayed tokens per second")
    parser.add_argument("--tokens", type=int, required=True, help="tokens per reply")
    parser.add_argument("--threads", type=int, help="llama.cpp's threads")
    args = parser.parse_args()
    sampling = SamplingParams(temperature=0.0, max_tokens=args.tokens)
    if args.stream is None:
        settings = Settings(
            model=default_model(),
            load=LoadOptions(n_ctx=8192),
            engine_options={"llamacpp": {"threads": args.threads}} if args.threads else {},
            sampling=sampling,
        )
        LlamaTUI(settings).run()
        return
    tokens = json.loads(args.stream.read_text())["tokens"][: args.tokens]

    def replay(ref: ModelRef) -> InProcessHandle:
        return InProcessHandle(
            "scripted",
            lambda: ScriptedEngine(tokens=tokens, delay_s=1 / args.rate, name="replay"),
        )

    settings = Settings(
        model=ModelRef("scripted", "replay"), load=LoadOptions(n_ctx=8192), sampling=sampling
    )
    LlamaTUI(settings, make_handle=replay).run()


if __name__ == "__main__":
    main()
