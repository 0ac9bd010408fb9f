"""What drawing a streaming reply costs the UI thread, per update, with no engine.

The app's conversation view streams a recorded reply (bench/streams) in updates of
--per-update tokens, each drawn as for a terminal (frames are encoded, then
dropped), one after another. Printed per stream: CPU ms per update (median, and
the mean with everything amortised: layouts, finished blocks), layouts per 100
updates, and bytes a terminal would receive per token. Steadier than timing the
whole app: nothing else runs.

Usage: python bench/draw.py [--tokens N] [--per-update N] [--size 100x30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from textual.app import App, ComposeResult

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from uitools import count_layouts

from llamatui.themes import THEMES
from llamatui.tui.widgets.conversation_view import ConversationView
from llamatui.tui.widgets.markdown_lines import warm_lexers

STREAMS = Path(__file__).with_name("streams")


class Conversation(App[None]):
    CSS = "ConversationView { height: 1fr; padding: 0 1; }"

    def __init__(self) -> None:
        super().__init__()
        # Before the view mounts: it parses the messages' styles, which use the
        # theme's variables.
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = "llamatui-dark"

    def compose(self) -> ComposeResult:
        yield ConversationView()


async def run(tokens: list[str], per_update: int, size: tuple[int, int]) -> dict[str, float]:
    app = Conversation()
    async with app.run_test(size=size) as pilot:
        view = app.query_one(ConversationView)
        view.anchor()
        reply = await view.start_reply("Go on.")
        await pilot.pause()
        driver = app._driver
        assert driver is not None
        written = 0

        def write(self: object, data: str) -> None:
            nonlocal written
            written += len(data.encode())

        headless_class = driver.__class__
        driver.__class__ = type(
            "FrameCountingDriver",
            (headless_class,),
            {"is_headless": property(lambda self: False), "write": write, "flush": lambda s: None},
        )
        layouts = count_layouts(app.screen)
        costs = []
        for i in range(0, len(tokens), per_update):
            cpu = time.process_time()
            reply.append("".join(tokens[i : i + per_update]))
            await pilot.pause()  # one frame drawn and written
            costs.append(time.process_time() - cpu)
        driver.__class__ = headless_class
    return {
        "median": statistics.median(costs) * 1000,
        "mean": statistics.mean(costs) * 1000,
        "layouts": layouts() / len(costs) * 100,
        "bytes": written / len(tokens),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--per-update", type=int, default=25, help="about 4 Hz at 100 tok/s")
    parser.add_argument("--size", default="100x30")
    args = parser.parse_args()
    cols, rows = (int(x) for x in args.size.split("x"))
    warm_lexers()  # as the app does when it starts
    print(f"{args.tokens} tokens, {args.per_update} per update, {cols}x{rows}")
    for name in ("prose", "markdown"):
        tokens = json.loads((STREAMS / f"{name}.json").read_text())["tokens"][: args.tokens]
        r = asyncio.run(run(tokens, args.per_update, (cols, rows)))
        print(
            f"  {name:9} {r['median']:5.2f} ms median, {r['mean']:5.2f} ms mean per update, "
            f"{r['layouts']:4.1f} layouts per 100 updates, {r['bytes']:4.0f} bytes per token"
        )


if __name__ == "__main__":
    main()
