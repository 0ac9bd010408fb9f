"""History survives SIGKILL at any point, and two writers at once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from llamatui.tui.history.store import Store

REPLY = "".join(f"word{i} " for i in range(100_000))

WRITER = """
import sys, time
from pathlib import Path
from llamatui.tui.history.store import Store
REPLY = "".join(f"word{i} " for i in range(100_000))
s = Store(Path(sys.argv[1]))
cid = int(sys.argv[2])
uid = s.add_message(cid, "user", "prompt " + sys.argv[3])
print("user", uid, flush=True)
rid = s.add_message(cid, "assistant", "", status="streaming")
print("reply", rid, flush=True)
n = 0
while True:
    n += 37
    s.checkpoint_reply(rid, REPLY[:n])
    print("ckpt", n, flush=True)
    time.sleep(0.002)
"""

APPENDER = """
import sys
from pathlib import Path
from llamatui.tui.history.store import Store
s = Store(Path(sys.argv[1]))
cid, tag = int(sys.argv[2]), sys.argv[3]
for i in range(300):
    s.add_message(cid, "user", f"{tag} {i}")
"""


def test_sigkill_drill(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    setup = Store(path)
    cid = setup.new_conversation("drill")
    setup.close()
    rng = random.Random(1234)
    for run in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(cid), str(run)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.15, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        # The kill can cut the last line short: only whole lines count.
        lines = [parts for line in out.splitlines() if len(parts := line.split()) == 2]
        reported = {k: int(v) for k, v in lines if k in ("user", "reply")}
        ckpts = [int(v) for k, v in lines if k == "ckpt"]
        store = Store(path)
        try:
            assert store.quick_check()
            assert store.moved_aside is None
            by_id = {m.id: m for m in store.messages(cid)}
            if "user" in reported:
                assert by_id[reported["user"]].content == f"prompt {run}"
            if "reply" in reported:
                reply = by_id[reported["reply"]]
                last = ckpts[-1] if ckpts else 0
                # What was reported committed is there; at most one more checkpoint.
                assert len(reply.content) in (last, last + 37)
                assert REPLY.startswith(reply.content)
        finally:
            store.close()
    final = Store(path)
    users = [m for m in final.messages(cid) if m.role == "user"]
    assert len(users) >= 15  # most runs got past their first commit
    final.close()


def test_two_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    s = Store(path)
    cid = s.new_conversation("shared")
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(path), str(cid), tag])
        for tag in ("a", "b")
    ]
    for p in procs:
        assert p.wait(120) == 0
    contents = [m.content for m in s.messages(cid)]
    assert len(contents) == 600
    for tag in ("a", "b"):
        mine = [c for c in contents if c.startswith(f"{tag} ")]
        assert mine == [f"{tag} {i}" for i in range(300)]
    s.close()
