"""Chat history: open a 10,000-message conversation, search 100,000 messages,
and what saving a streamed reply costs.

Usage: python bench/history.py [--runs N]
Targets: under 200 ms to open and to search.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakes import fake_settings, scripted

from llamatui.tui.app import LlamaTUI
from llamatui.tui.chat.recorder import CHECKPOINT_S
from llamatui.tui.history.store import Message, ReplyMeta, Store
from llamatui.tui.screens.chat import ChatScreen
from llamatui.tui.widgets.chat_message import AssistantMessage

_VOCABULARY = (
    "the model layer token context memory python function return value list dragon volcano "
    "penguin river mountain cache thread process engine sample prompt reply vector matrix "
    "kernel shader compile build test search index query table row"
)
WORDS = _VOCABULARY.split()


def paragraph(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def fake_messages(rng: random.Random, n: int, start: float) -> list[Message]:
    out = []
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        if role == "user":
            text = paragraph(rng, rng.randint(5, 30))
        else:
            text = "\n\n".join(
                paragraph(rng, rng.randint(20, 60)) for _ in range(rng.randint(1, 4))
            )
            if rng.random() < 0.2:
                text += "\n\n```python\ndef f(x):\n    return x * 2\n```"
        meta = ReplyMeta(model="m.gguf", tokens_per_s=150.0) if role == "assistant" else ReplyMeta()
        out.append(Message(0, 0, role, text, start + i, "complete", meta))
    return out


def open_time(path: Path, cid: int, runs: int) -> tuple[list[float], list[float]]:
    """(store read s, open in the app until drawn s) per run."""
    reads = []
    for _ in range(runs):
        s = Store(path)
        t = time.perf_counter()
        s.messages(cid)
        reads.append(time.perf_counter() - t)
        s.close()

    async def one() -> float:
        app = LlamaTUI(fake_settings(), make_handle=scripted(), history=path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, ChatScreen)
            await pilot.pause(0.2)
            # Frames as a terminal would get them (see bench/stream.py).
            frames: list[tuple[float, bool]] = []

            def drawn() -> bool:
                """Whether the newest reply's Markdown is drawn (is readable)."""
                replies = screen.conversation.query(AssistantMessage)
                return bool(replies) and replies.last().markdown.drawn

            driver = app._driver
            assert driver is not None
            headless = driver.__class__
            driver.__class__ = type(
                "FrameTimingDriver",
                (headless,),
                {
                    "is_headless": property(lambda self: False),
                    "write": lambda self, data: frames.append((time.perf_counter(), drawn())),
                    "flush": lambda self: None,
                },
            )
            t = time.perf_counter()
            await screen.open_conversation(cid)
            shown = time.perf_counter()  # the last messages are mounted
            await pilot.pause(0.5)
            driver.__class__ = headless
            assert len(screen.session.turns) > 9_000
            # The first frame after they were mounted in which they are readable.
            return next(f for f, ok in frames if f >= shown and ok) - t

    opens = [asyncio.run(one()) for _ in range(runs)]
    return reads, opens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.db"
        store = Store(path)
        t = time.perf_counter()
        big = store.import_conversation("ten thousand", fake_messages(rng, 10_000, 1e9))
        for i in range(9):
            store.import_conversation(f"filler {i}", fake_messages(rng, 10_000, 1e9))
        total = sum(store.message_count(c.id) for c in store.conversations())
        print(f"made {total:,} messages in {time.perf_counter() - t:.1f} s")

        reads, opens = open_time(path, big, args.runs)
        print(f"open 10,000 messages: store read {statistics.median(reads) * 1000:6.1f} ms")
        print(
            f"open 10,000 messages: in the app  {statistics.median(opens) * 1000:6.1f} ms"
            f"  (runs: {', '.join(f'{o * 1000:.0f}' for o in opens)})"
        )

        searches = []
        for word in ["dragon", "volcano penguin", "shader compile", "kern", "nothingmatches"]:
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                hits = store.search(word)
                times.append(time.perf_counter() - t)
            searches.append(statistics.median(times))
            print(
                f"search {total:,} messages for {word!r:18}"
                f" {statistics.median(times) * 1000:6.1f} ms  ({len(hits)} hits shown)"
            )
        print(f"search, median over queries       {statistics.median(searches) * 1000:6.1f} ms")

        # One streamed reply: prompt + empty reply committed, a checkpoint a second
        # while it streams (a 10 s reply of 1,500 tokens), then its end.
        cid = store.new_conversation("write cost")
        reply = paragraph(rng, 1500)
        costs = []
        for _ in range(args.runs):
            t = time.perf_counter()
            store.add_message(cid, "user", "Write a long story.")
            rid = store.add_message(cid, "assistant", "", status="streaming")
            steps = 10
            for k in range(1, steps + 1):
                store.checkpoint_reply(rid, reply[: len(reply) * k // steps])
            store.finish_reply(rid, reply, "complete", ReplyMeta(tokens_per_s=150.0))
            costs.append(time.perf_counter() - t)
        per = statistics.median(costs)
        print(
            f"write cost per streamed reply      {per * 1000:6.1f} ms "
            f"(2 inserts, {steps} checkpoints at {CHECKPOINT_S:.0f}/s, 1 finish; "
            f"{per / 10 * 100:.2f}% of the reply's 10 s)"
        )
        store.close()


if __name__ == "__main__":
    main()
