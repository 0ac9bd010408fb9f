"""Run the app in a pseudo-terminal, as a terminal would: send keys, drain and
timestamp everything it writes, and read its CPU time.

The drain thread only reads and keeps (time, bytes): it must cost the machine
almost nothing, since the app and the model share its cores.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).parent
# Characters typed to time keypresses: none of them is in a replayed reply.
PROBE_KEYS = "¤¦§©®°±¶"


def bench_app(args: list[str]) -> list[str]:
    """The command line of `bench_app.py` with `args`."""
    return [sys.executable, str(HERE / "bench_app.py"), *args]


def last_reply(data_dir: str | Path) -> tuple[int, float, float]:
    """What the app stored of its last reply in `data_dir`: the tokens it has (a
    model may end early), the engine's own tokens/s and time to first token (s)
    (the footer on screen may wrap)."""
    db = sqlite3.connect(Path(data_dir) / "history.db")
    row = db.execute(
        "SELECT generated_tokens, tokens_per_s, ttft_s FROM messages"
        " WHERE role = 'assistant' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    db.close()
    assert row is not None and row[0], "the reply was never stored with its figures"
    return int(row[0]), float(row[1]), float(row[2] or 0.0)


class PtyApp:
    """One process (`argv`) on a pty of the given size."""

    def __init__(self, argv: list[str], cols: int, rows: int, env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.started = time.perf_counter()
        """When the process was started."""
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, **env, "TERM": "xterm-256color", "COLORTERM": "truecolor"},
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self.chunk_cpu: list[float] = []
        """The app's CPU seconds as each chunk was read (it has written the chunk,
        so its CPU then includes drawing it)."""
        self._stop = False
        self._reading = threading.Lock()
        """cpu() is called from the drain thread and the bench's."""
        self._schedstat: dict[str, int] = {}
        """Each thread's schedstat, kept open: read on every chunk the app writes."""
        self._thread_ns: dict[str, int] = {}
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            # One read of /proc per chunk (a few dozen a second while a reply
            # streams), not a sampler of its own waking the cores.
            try:
                self.chunk_cpu.append(self.cpu())
            except psutil.Error:  # it has ended
                self.chunk_cpu.append(self.chunk_cpu[-1] if self.chunk_cpu else 0.0)
            self.chunks.append((time.perf_counter(), data))

    def send(self, keys: str | bytes) -> float:
        """Type `keys`; the time they were sent."""
        t = time.perf_counter()
        os.write(self.master, keys.encode() if isinstance(keys, str) else keys)
        return t

    def mark(self) -> int:
        """The number of chunks read so far: a place to search from."""
        return len(self.chunks)

    def find(self, needle: bytes, start: int = 0) -> tuple[int, float] | None:
        """The first chunk from `start` holding `needle` (or ending it), and its time."""
        prev = b""
        for i in range(start, len(self.chunks)):
            t, data = self.chunks[i]
            if needle in prev[-len(needle) :] + data:
                return i, t
            prev = data
        return None

    def wait_for(self, needle: bytes, start: int = 0, timeout: float = 120.0) -> float:
        """Wait until the app writes `needle` after chunk `start`; when it was written."""
        deadline = time.perf_counter() + timeout
        searched = start
        while time.perf_counter() < deadline:
            found = self.find(needle, max(start, searched - 1))
            if found is not None:
                return found[1]
            searched = len(self.chunks)
            time.sleep(0.02)
            if self.proc.poll() is not None:
                break
        tail = b"".join(d for _, d in self.chunks[-20:])[-2000:]
        raise TimeoutError(f"the app never wrote {needle!r}; its last output: {tail!r}")

    def bytes_between(self, t0: float, t1: float) -> int:
        """Bytes the app wrote between two times."""
        return sum(len(d) for t, d in self.chunks if t0 <= t <= t1)

    def cpu(self) -> float:
        """CPU seconds the app's own process has used (not its engine process), to
        the nanosecond: each thread's schedstat (/proc's utime and stime count in
        10 ms ticks, a tenth of what a short reply costs). A thread that has ended
        counts with what it had last been seen using."""
        task = f"/proc/{self.proc.pid}/task"
        with self._reading:
            try:
                tids = os.listdir(task)
            except OSError as error:
                raise psutil.NoSuchProcess(self.proc.pid) from error
            for tid in tids:
                try:
                    if tid not in self._schedstat:
                        self._schedstat[tid] = os.open(f"{task}/{tid}/schedstat", os.O_RDONLY)
                    ns = int(os.pread(self._schedstat[tid], 64, 0).split()[0])
                except (OSError, ValueError, IndexError):
                    continue  # it has just ended
                self._thread_ns[tid] = ns
            return sum(self._thread_ns.values()) / 1e9

    def close(self) -> None:
        """Quit with Ctrl+Q, as a person would; kill it if it does not go."""
        try:
            self.send(b"\x11")
            self.proc.wait(15)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self._stop = True
        self._thread.join(1)
        os.close(self.master)
        for fd in self._schedstat.values():
            os.close(fd)
