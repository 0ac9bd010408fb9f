"""What drawing a streaming reply costs the UI thread, per update, with no engine.

The app's conversation view streams a recorded reply (bench/streams) in updates of
--per-update tokens, each drawn as for a terminal (frames are encoded, then
dropped), one after another. Printed per stream: CPU ms per update (median, and
the mean with everything amortised: layouts, finished blocks), layouts per 100
updates, and bytes a terminal would receive per token. Steadier than timing the
whole app: nothing else runs.

Then, with --long ROWS, replies that are one long block (a table, a code block, a
list under one item, a quote) of ROWS rows, 90 characters an update (about 24
tokens): the median CPU ms per update over the first and the last quarter. What an
update costs should not grow with the block.

Usage: python bench/draw.py [--tokens N] [--per-update N] [--size 100x30] [--long ROWS]
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
    costs, layouts, written = await stream(tokens, per_update, size)
    return {
        "median": statistics.median(costs) * 1000,
        "mean": statistics.mean(costs) * 1000,
        "layouts": layouts / len(costs) * 100,
        "bytes": written / len(tokens),
    }


async def stream(
    tokens: list[str], per_update: int, size: tuple[int, int]
) -> tuple[list[float], int, int]:
    """Each update's CPU seconds, the layouts and the bytes written."""
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
        return costs, layouts(), written


def long_blocks(rows: int) -> dict[str, str]:
    """Replies that are one long block each, of `rows` rows."""
    table = "| name | value | what it does |\n|---|---|---|\n" + "".join(
        f"| `item_{i}` | {i * 7} | how item {i} is used here |\n" for i in range(rows)
    )
    code = "```python\n" + "".join(
        f"    total += weigh(items[{i}], 'part {i}')  # step {i}\n"
        if i % 10
        else f"def part_{i}(items):\n"
        for i in range(rows)
    )
    nested = "- Steps:\n" + "".join(
        f"  - step {i}: do the thing number {i} with care\n" for i in range(rows)
    )
    quote = "".join(f"> line {i} of a long quote that goes on and on\n" for i in range(rows))
    return {"table": table, "code": code, "nested list": nested, "quote": quote}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--per-update", type=int, default=25, help="about 4 Hz at 100 tok/s")
    parser.add_argument("--size", default="100x30")
    parser.add_argument("--long", type=int, default=0, help="rows of each long block (0: none)")
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
    if args.long:
        print(f"One long block of {args.long} rows, 90 characters an update:")
    for name, text in long_blocks(args.long).items() if args.long else ():
        pieces = [text[i : i + 90] for i in range(0, len(text), 90)]
        costs, _, _ = asyncio.run(stream(pieces, 1, (cols, rows)))
        q = len(costs) // 4
        first, last = statistics.median(costs[1:q]), statistics.median(costs[-q:])
        print(
            f"  {name:11} {len(costs):4} updates: {first * 1000:5.2f} ms in the first quarter, "
            f"{last * 1000:5.2f} ms in the last"
        )


if __name__ == "__main__":
    main()
