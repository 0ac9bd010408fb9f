"""The engine in its own process: streaming, cancel, death, bad files, the log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from engine_refs import gguf

from llamatui.engines.engine_process import FLUSH_S, MAX_FLUSH_S, PACE_MARGIN_S
from llamatui.engines.gguf import ModelFileError
from llamatui.engines.handle import EngineDied
from llamatui.engines.host import ProcessHandle
from llamatui.engines.protocol import Delta, LoadOptions, ReplyStats, SamplingParams
from llamatui.engines.templates import ChatMessage

STORY: list[ChatMessage] = [{"role": "user", "content": "Write a long story about a dragon."}]
LONG = SamplingParams(temperature=0, max_tokens=2000)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[ProcessHandle]:
    c = ProcessHandle(log_path=tmp_path / "engine.log")
    yield c
    c.close()


def test_load_stream_unload(client: ProcessHandle, smollm2: Path, tmp_path: Path) -> None:
    info = client.load(gguf(smollm2), LoadOptions(n_ctx=1024, engine={"threads": 2}))
    assert info.template == "model"
    pid = client.pid
    assert pid is not None and psutil.pid_exists(pid)
    items = list(client.stream(STORY, SamplingParams(temperature=0, max_tokens=40)))
    deltas = [i for i in items if isinstance(i, Delta)]
    stats = items[-1]
    assert isinstance(stats, ReplyStats)
    assert stats.generated_tokens == 40 == sum(d.n_tokens for d in deltas)
    assert "".join(d.text for d in deltas).strip()
    assert client.count_tokens(STORY) == stats.prompt_tokens
    assert client.memory().rss > 50_000_000
    client.close()
    assert not client.alive
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    # llama.cpp's own log went to the log file.
    assert "llama_model_loader" in (tmp_path / "engine.log").read_text()


def sent_every(pace: float) -> float:
    """How often the engine process sends at the app's `pace` (ProcessHandle.pace)."""
    return min(max(FLUSH_S, pace + PACE_MARGIN_S), MAX_FLUSH_S)


def test_the_engine_gathers_deltas_at_the_apps_pace(client: ProcessHandle, smollm2: Path) -> None:
    client.load(gguf(smollm2), LoadOptions(n_ctx=1024, engine={"threads": 2}))
    params = SamplingParams(temperature=0, max_tokens=150)
    texts = []
    for pace in (0.0, 0.25):  # 0: the default, 100 ms
        client.pace(pace)
        items = list(client.stream(STORY, params))
        stats = items[-1]
        assert isinstance(stats, ReplyStats)
        deltas = [i for i in items if isinstance(i, Delta)]
        assert sum(d.n_tokens for d in deltas) == stats.generated_tokens == 150
        texts.append("".join(d.text for d in deltas))
        # The first delta goes at once, the rest at most once per interval (the
        # engine's: the pace and its margin, within FLUSH_S and MAX_FLUSH_S).
        seconds = stats.generated_tokens / stats.tokens_per_s
        assert len(deltas) <= seconds / sent_every(pace) + 2, (pace, len(deltas), seconds)
    assert texts[0] == texts[1]  # gathered, never lost
    # A pace changed while a reply streams is followed from then on.
    client.pace(0.0)
    changed, after = 0.0, 0
    for item in client.stream(STORY, params):
        if isinstance(item, Delta):
            if not changed:
                client.pace(0.25)
                changed = time.monotonic()
            else:
                after += 1
    assert after <= (time.monotonic() - changed) / sent_every(0.25) + 2, after


def test_cancel_mid_stream(client: ProcessHandle, smollm2: Path) -> None:
    client.load(gguf(smollm2), LoadOptions(n_ctx=2048, engine={"threads": 2}))
    got = 0
    stats = None
    for item in client.stream(STORY, LONG):
        if isinstance(item, Delta):
            got += item.n_tokens
            if got >= 10:
                client.cancel()
        else:
            stats = item
    assert stats is not None and stats.finish == "cancelled"
    assert stats.generated_tokens == got
    # The pipe is in step: the next request works.
    assert client.count_tokens(STORY) == stats.prompt_tokens


def test_abandoned_stream_leaves_the_pipe_in_step(client: ProcessHandle, smollm2: Path) -> None:
    client.load(gguf(smollm2), LoadOptions(n_ctx=2048, engine={"threads": 2}))
    stream = client.stream(STORY, LONG)
    next(stream)
    stream.close()
    assert client.count_tokens(STORY) > 0


@pytest.mark.parametrize(
    ("sig", "reason"),
    [(signal.SIGKILL, "killed \\(SIGKILL\\)"), (signal.SIGABRT, "llama.cpp aborted")],
)
def test_engine_death_is_reported_and_recoverable(
    client: ProcessHandle, smollm2: Path, sig: int, reason: str
) -> None:
    client.load(gguf(smollm2), LoadOptions(n_ctx=2048, engine={"threads": 2}))
    pid = client.pid
    assert pid is not None
    text = []
    with pytest.raises(EngineDied, match=f"the engine stopped: it was {reason}|{reason}") as info:
        for item in client.stream(STORY, LONG):
            if isinstance(item, Delta):
                text.append(item.text)
                if len(text) == 3:
                    os.kill(pid, sig)
    assert info.value.exitcode == -sig
    assert text  # what streamed before the death was delivered
    assert not client.alive
    # It starts again and works.
    client.load(gguf(smollm2), LoadOptions(n_ctx=2048, engine={"threads": 2}))
    assert client.pid != pid
    assert client.count_tokens(STORY) > 0


def test_death_while_idle_is_reported_on_the_next_call(
    client: ProcessHandle, smollm2: Path
) -> None:
    client.load(gguf(smollm2), LoadOptions(n_ctx=1024, engine={"threads": 2}))
    assert client.pid is not None
    os.kill(client.pid, signal.SIGKILL)
    time.sleep(0.2)
    with pytest.raises(EngineDied, match="SIGKILL"):
        client.count_tokens(STORY)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("corrupt", "header is corrupt"),
        ("truncated", "truncated"),
        ("not_gguf", "not a GGUF model file"),
        ("ggml", "old GGJT model file.*must be converted to GGUF"),
    ],
)
def test_bad_files_give_their_error_and_the_engine_lives(
    client: ProcessHandle, bad_files: dict[str, Path], smollm2: Path, name: str, expected: str
) -> None:
    with pytest.raises(ModelFileError, match=expected) as info:
        client.load(gguf(bad_files[name]), LoadOptions())
    assert info.value.path == str(bad_files[name])
    assert client.alive
    client.load(gguf(smollm2), LoadOptions(n_ctx=512, engine={"threads": 2}))


def test_nothing_from_llama_cpp_reaches_the_terminal(smollm2: Path, tmp_path: Path) -> None:
    script = f"""
from llamatui.engines.host import ProcessHandle
from llamatui.engines.protocol import LoadOptions, SamplingParams
from llamatui.engines.refs import ModelRef
if __name__ == "__main__":
    c = ProcessHandle(log_path={str(tmp_path / "e.log")!r})
    c.load(ModelRef("llamacpp", {str(smollm2)!r}), LoadOptions(n_ctx=512, engine={{"threads": 2}}))
    list(c.stream([{{"role": "user", "content": "hi"}}], SamplingParams(max_tokens=8)))
    c.close()
"""
    (tmp_path / "run.py").write_text(script)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "run.py")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    assert "llama_model_loader" in (tmp_path / "e.log").read_text()


def test_big_engine_log_is_moved_aside(tmp_path: Path, smollm2: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_bytes(b"old line\n" * 1_000_000)
    c = ProcessHandle(log_path=log)
    try:
        c.load(gguf(smollm2), LoadOptions(n_ctx=256, engine={"threads": 1}))
    finally:
        c.close()
    assert (tmp_path / "engine.log.1").stat().st_size == 9_000_000
    assert "llama_model_loader" in log.read_text()
    assert log.stat().st_size < 9_000_000


def test_load_reports_progress(client: ProcessHandle, gemma3: Path) -> None:
    seen: list[float] = []
    client.load(
        gguf(gemma3), LoadOptions(n_ctx=512, engine={"threads": 2}), lambda f, _: seen.append(f)
    )
    assert seen and seen[-1] == 1.0
    assert seen == sorted(seen)
    assert len(seen) >= 3


def test_memory_share_as_llama_cpp_reports_it(client: ProcessHandle, smollm2: Path) -> None:
    client.load(gguf(smollm2), LoadOptions(n_ctx=2048, engine={"threads": 2}))
    use = client.memory()
    log = Path(client.log_path).read_text()
    # llama.cpp's own figures, from its log: "CPU KV buffer size = 45.00 MiB" etc.
    assert f"KV buffer size = {use.kv_cache / 2**20:8.2f} MiB" in log
    assert f"compute buffer size = {use.compute / 2**20:8.2f} MiB" in log
    assert 90 * 2**20 < use.weights < 100 * 2**20
    assert use.rss > use.weights
