"""The terminal hangs up (an SSH connection drops) or the system asks the app to end
(SIGTERM) while a reply streams: the app quits in order, the reply is kept as
interrupted, and no engine process is left behind (issue 12, bug 8: the reply stayed
"streaming" in the history, and exported so; bug 11: `timeout` ending the app left
"leaked semaphore objects" on the terminal)."""

from __future__ import annotations

import errno
import fcntl
import io
import os
import pty
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import psutil
import pytest
from textual.drivers._writer_thread import WriterThread

from llamatui.tui.hangup import GoneSafeWriter, hung_up

ROOT = Path(__file__).parent.parent
APP = ROOT / "bench" / "bench_app.py"
STREAM = ROOT / "bench" / "streams" / "prose.json"


class Terminal:
    """The app on a pseudo-terminal that is its controlling terminal, as over SSH."""

    def __init__(self, data_dir: Path, argv: list[str] | None = None) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))

        def own_terminal() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        env = {**os.environ, "TERM": "xterm-256color", "LLAMATUI_DATA_DIR": str(data_dir)}
        env["BENCH_STACKS"] = str(data_dir / "stacks.txt")
        env["LLAMATUI_CONFIG_DIR"] = str(data_dir)
        env["LLAMATUI_LOG_DIR"] = str(data_dir / "logs")
        replay = [sys.executable, str(APP), "--stream", str(STREAM), "--rate", "50"]
        self.proc = subprocess.Popen(
            argv or [*replay, "--tokens", "3000"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            preexec_fn=own_terminal,
        )
        os.close(slave)
        self.master: int | None = master
        self.seen = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while self.master is not None:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready and self.master is not None:
                try:
                    self.seen += os.read(self.master, 1 << 16)
                except OSError:
                    return

    def wait_for(self, text: bytes, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            assert time.monotonic() < deadline, f"never saw {text!r}: {self.seen[-500:]!r}"
            assert self.proc.poll() is None, "the app ended"
            time.sleep(0.05)

    def hang_up(self) -> None:
        master, self.master = self.master, None
        self._reader.join(1)
        assert master is not None
        os.close(master)


@pytest.mark.parametrize("how", ["hang-up", "SIGTERM"])
def test_a_reply_cut_by_a_hang_up_is_kept_as_interrupted(tmp_path: Path, how: str) -> None:
    term = Terminal(tmp_path)
    try:
        term.wait_for(b"ready")
        time.sleep(0.5)
        os.write(term.master or -1, b"Go on.")
        time.sleep(0.3)
        os.write(term.master or -1, b"\r")
        term.wait_for(b"Once")
        time.sleep(1.0)
        engines = psutil.Process(term.proc.pid).children(recursive=True)
        if how != "SIGTERM":
            term.hang_up()
        else:
            term.proc.send_signal(signal.SIGTERM)
        try:
            code = term.proc.wait(30)
        except subprocess.TimeoutExpired:  # stuck: where each thread stands
            term.proc.send_signal(signal.SIGQUIT)
            time.sleep(1.0)
            raise AssertionError((tmp_path / "stacks.txt").read_text()) from None
        log = tmp_path / "logs"
        assert code == 0, (code, term.seen[-1500:], [p.read_text()[-1500:] for p in log.glob("*")])
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
        if term.master is not None:
            term.hang_up()
    _, alive = psutil.wait_procs(engines, timeout=10)
    assert not alive  # no engine left holding the model's memory
    db = sqlite3.connect(tmp_path / "history.db")
    rows = db.execute("SELECT role, status, content FROM messages ORDER BY id").fetchall()
    db.close()
    assert [(r[0], r[1]) for r in rows] == [("user", "complete"), ("assistant", "interrupted")]
    assert rows[1][2].startswith("Once upon")  # what streamed is kept


def test_ended_by_timeout_after_a_failed_load_leaves_nothing_behind(
    tmp_path: Path, bad_files: dict[str, Path]
) -> None:
    llamatui = Path(sys.executable).with_name("llamatui")
    term = Terminal(tmp_path, [str(llamatui), "--model", str(bad_files["truncated"])])
    try:
        term.wait_for(b"Could not load")
        term.proc.send_signal(signal.SIGTERM)  # what `timeout` sends
        assert term.proc.wait(15) == 0
        time.sleep(1.0)  # the resource tracker speaks, if it does, once the app has gone
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
        if term.master is not None:
            term.hang_up()
    assert b"leaked" not in term.seen, term.seen[-600:]


class GoneTerminal(io.StringIO):
    """A terminal that hung up: every write fails, as writes to a closed pty do."""

    def write(self, text: str) -> int:
        raise OSError(errno.EIO, "Input/output error")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("writer", [GoneSafeWriter, WriterThread], ids=["ours", "textual's"])
def test_writes_to_a_terminal_that_hung_up_never_block_the_app(writer: type[WriterThread]) -> None:
    # More writes than Textual's queue holds, then the stop the driver does at exit.
    thread = writer(GoneTerminal())
    thread.start()
    done = threading.Event()

    def frames() -> None:
        for _ in range(100):
            thread.write("\x1b[H frame")
        thread.stop()
        done.set()

    threading.Thread(target=frames, daemon=True).start()
    if writer is WriterThread:  # why ours exists: Textual's dies at the first failure
        assert not done.wait(1.0), "Textual's writer no longer blocks: drop GoneSafeWriter"
        thread._queue.queue.clear()  # let the blocked thread go
        thread._queue.not_full.acquire()
        thread._queue.not_full.notify_all()
        thread._queue.not_full.release()
    else:
        assert done.wait(5.0)
        assert isinstance(thread, GoneSafeWriter) and thread.gone


def test_a_hang_up_the_session_leader_keeps_still_ends_the_app(tmp_path: Path) -> None:
    # Seen with `make run` in tmux, the server killed: the hang-up signal goes to the
    # terminal's session leader (make), which waits for the app and does not pass it
    # on; the app read the end of its input ten times a second, forever, the model
    # loaded. The end of a hung-up terminal's input is the hang-up.
    waits = (
        "import signal, subprocess, sys; signal.signal(signal.SIGHUP, lambda *a: None);"
        " sys.exit(subprocess.call(sys.argv[1:]))"
    )
    app = [sys.executable, str(APP), "--stream", str(STREAM), "--rate", "50", "--tokens", "50"]
    term = Terminal(tmp_path, [sys.executable, "-c", waits, *app])
    try:
        term.wait_for(b"ready")
        time.sleep(0.5)
        engines = psutil.Process(term.proc.pid).children(recursive=True)
        term.hang_up()
        assert term.proc.wait(30) == 0  # the leader ends once the app has
    finally:
        if term.proc.poll() is None:
            for p in psutil.Process(term.proc.pid).children(recursive=True):
                p.kill()
            term.proc.kill()
    _, alive = psutil.wait_procs(engines, timeout=10)
    assert not alive


def test_only_a_terminal_that_hung_up_counts_as_one() -> None:
    master, slave = pty.openpty()
    assert not hung_up(slave)  # a terminal still there
    os.close(master)
    assert hung_up(slave)
    os.close(slave)
    read, write = os.pipe()
    os.close(write)
    assert os.read(read, 10) == b"" and not hung_up(read)  # piped input that ended
    os.close(read)
