"""The remote engine and `llamatui serve` against each other, over loopback: the
official OpenAI client, two clients at once, tokens, and what goes wrong."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import httpx
import pytest
from conftest import free_port, llamatui_serve, start_server

from llamatui.engines.handle import EngineDied, InProcessHandle
from llamatui.engines.protocol import Delta, EngineError, LoadOptions, SamplingParams
from llamatui.engines.refs import ModelRef
from llamatui.engines.remote.engine import RemoteEngine

SMOL = "SmolLM2-135M-Instruct.Q4_1"
ASK = [{"role": "user", "content": "Write a long story about a dragon."}]


def remote(url: str, model: str = SMOL, **options: str) -> tuple[InProcessHandle, object]:
    handle = InProcessHandle("remote", RemoteEngine)
    info = handle.load(ModelRef("remote", url, model), LoadOptions(n_ctx=1024, engine=options))
    return handle, info


def test_the_openai_client_chats_with_llamatui_serve(serve_url: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=serve_url, api_key="unused-on-loopback")
    assert [m.id for m in client.models.list()] == [SMOL]
    whole = client.chat.completions.create(
        model=SMOL,
        messages=ASK,
        max_tokens=12,
        temperature=0,  # type: ignore[arg-type]
    )
    assert whole.choices[0].finish_reason == "length" and whole.usage is not None
    assert whole.usage.completion_tokens == 12 and whole.usage.prompt_tokens > 0
    chunks = client.chat.completions.create(
        model=SMOL,
        messages=ASK,
        max_tokens=12,
        temperature=0,
        stream=True,  # type: ignore[arg-type]
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content  # greedy: the same reply


def test_two_clients_at_once_are_answered_in_turn(serve_url: str) -> None:
    results: list[str] = []

    def ask() -> None:
        r = httpx.post(
            f"{serve_url}/chat/completions",
            json={"model": SMOL, "messages": ASK, "max_tokens": 40, "temperature": 0},
            timeout=120,
        )
        results.append(r.json()["choices"][0]["finish_reason"])

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == ["length", "length"]


def test_what_goes_wrong_is_said_plainly(serve_url: str) -> None:
    with pytest.raises(EngineError, match="the server has no model 'nope' \\(it has: SmolLM2"):
        remote(serve_url, "nope")
    refused = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EngineError, match=r"cannot connect to 127\.0\.0\.1"):
        remote(refused)
    handle, _ = remote(serve_url)
    huge = [{"role": "user", "content": "word " * 3000}]
    with pytest.raises(EngineError, match="longer than the server's context"):
        list(handle.stream(huge, SamplingParams(max_tokens=8)))
    # The engine is in step after it.
    items = list(handle.stream(ASK, SamplingParams(temperature=0, max_tokens=3)))
    assert items[-1].generated_tokens == 3  # type: ignore[union-attr]


def test_a_token_is_required_off_loopback_and_a_wrong_key_is_named_not_shown(
    tmp_path: Path, smollm2: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, proc = llamatui_serve(tmp_path, smollm2, token="s3cret-token")
    try:
        assert httpx.get(f"{url}/models").status_code == 401
        monkeypatch.setenv("WRONG_KEY", "not-the-token")
        with pytest.raises(EngineError) as caught:
            remote(url, api_key_env="WRONG_KEY")
        assert "refused the API key ($WRONG_KEY)" in str(caught.value)
        assert "not-the-token" not in str(caught.value)
        monkeypatch.setenv("GOOD_KEY", "s3cret-token")
        _, info = remote(url, api_key_env="GOOD_KEY")
        assert info.name == SMOL  # type: ignore[attr-defined]
    finally:
        proc.terminate()
        proc.wait(10)
    # Bound to every address, it makes a token up and prints it once.
    port = free_port()
    cmd = [os.sys.executable, "-m", "llamatui.tui", "serve", "--host", "0.0.0.0",  # type: ignore[attr-defined]
           "--port", str(port), "--model", str(smollm2)]  # fmt: skip
    env = dict(os.environ)
    env.pop("LLAMATUI_SERVE_TOKEN", None)
    log = tmp_path / "open.log"
    proc = start_server(cmd, f"http://127.0.0.1:{port}/v1", env, log)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/v1/models").status_code == 401
        [line] = [ln for ln in log.read_text().splitlines() if ln.startswith("Bearer token")]
        token = line.split(": ", 1)[1]
        ok = httpx.get(
            f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {token}"}
        )
        assert ok.status_code == 200 and "access-control-allow-origin" not in ok.headers
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_server_killed_mid_reply_keeps_what_came(tmp_path: Path, smollm2: Path) -> None:
    url, proc = llamatui_serve(tmp_path, smollm2)
    handle, _ = remote(url)
    got = ""
    try:
        with pytest.raises(EngineError) as caught:
            for item in handle.stream(ASK, SamplingParams(temperature=0, max_tokens=400)):
                if isinstance(item, Delta):
                    got += item.text
                    if len(got) > 20 and proc.poll() is None:
                        proc.send_signal(signal.SIGKILL)
        assert isinstance(caught.value, EngineDied) or "connect" in str(caught.value)
        assert len(got) > 20
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_remotes_in_the_config_are_in_the_library(
    serve_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from clitools import llamatui

    from llamatui.tui.cli import build_parser, remote_ref
    from llamatui.tui.config import ConfigError, load_config
    from llamatui.tui.paths import config_path

    dead = f"http://127.0.0.1:{free_port()}/v1"
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[[remotes]]\nname = "box"\nurl = "{serve_url}"\napi_key_env = "BOX_KEY"\n'
        f'model = "{SMOL}"\n\n[[remotes]]\nname = "gone"\nurl = "{dead.removesuffix("/v1")}"\n'
    )
    remotes = load_config(path).remotes
    assert [(r.name, r.url, r.model) for r in remotes] == [
        ("box", serve_url, SMOL),
        ("gone", dead, None),
    ]
    monkeypatch.setenv("BOX_KEY", "any")  # loopback: the server takes no token
    rows = {
        r["name"]: r
        for r in json.loads(llamatui("models", "--json", "--models-dir", str(tmp_path)).stdout)
    }
    assert rows[SMOL]["usable"] and rows[SMOL]["ref"] == str(ModelRef("remote", serve_url, SMOL))
    assert (
        not rows["gone"]["usable"]
        and "server not reachable: cannot connect" in rows["gone"]["reason"]
    )
    args = build_parser().parse_args(["--remote", "box"])
    assert remote_ref(args, remotes) == ModelRef("remote", serve_url, SMOL)
    path.write_text('[[remotes]]\nurl = "ftp://x"\n')
    with pytest.raises(ConfigError, match="url must be the server's base URL"):
        load_config(path)
    path.write_text('[[remotes]]\nurl = "http://x"\napi_key = "inline"\n')
    with pytest.raises(ConfigError, match="unknown setting 'api_key'"):
        load_config(path)


def test_the_session_gives_a_configured_server_its_key(serve_url: str) -> None:
    from llamatui.engines.remote import RemoteServer
    from llamatui.tui.chat.session import ChatSession
    from llamatui.tui.config import Profile
    from llamatui.tui.settings import Settings

    box = RemoteServer("box", serve_url, api_key_env="BOX_KEY")
    session = ChatSession(Settings(remotes=(box,)), None, lambda e: None)
    ref = ModelRef("remote", serve_url, SMOL)
    assert session.settings.load_options(ref, Profile()).engine == {"api_key_env": "BOX_KEY"}
    other = ModelRef("remote", "http://elsewhere:1/v1", SMOL)
    assert session.settings.load_options(other, Profile()).engine == {}


def test_a_key_is_never_a_model_option(tmp_path: Path) -> None:
    """Keys are a server's: a model's profile cannot name one (the same model id may be
    on a server the key is not for)."""
    from llamatui.tui.config import ConfigError, load_config

    path = tmp_path / "config.toml"
    path.write_text('[models.qwen3.remote]\napi_key_env = "K"\n')
    with pytest.raises(ConfigError, match="unknown option 'api_key_env' \\(known: none\\)"):
        load_config(path)


def test_the_server_app_guards_its_door() -> None:
    """In-process, on the scripted engine: a token, a size limit, a bounded queue (429
    with when to retry), what a client may not send."""
    from starlette.testclient import TestClient

    from llamatui.engines.scripted import ScriptedEngine
    from llamatui.engines.serve import Served, make_app

    def handle(ref: ModelRef) -> InProcessHandle:
        return InProcessHandle("scripted", lambda: ScriptedEngine("Fine, thanks."))

    served = Served({"demo": ModelRef("scripted", "demo")}, handle, token="t0ken")
    client = TestClient(make_app(served))
    ask = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
    assert client.post("/v1/chat/completions", json=ask).status_code == 401
    auth = {"Authorization": "Bearer t0ken"}
    ok = client.post("/v1/chat/completions", json=ask, headers=auth).json()
    assert ok["choices"][0]["message"]["content"] == "Fine, thanks."
    big = {"model": "demo", "messages": [{"role": "user", "content": "x" * (5 * 2**20)}]}
    assert client.post("/v1/chat/completions", json=big, headers=auth).status_code == 413
    bad = client.post("/v1/chat/completions", json={"model": "demo"}, headers=auth)
    assert bad.status_code == 400 and "messages" in bad.json()["error"]["message"]
    nope = client.post("/v1/chat/completions", json=ask | {"model": "x"}, headers=auth)
    assert nope.status_code == 404 and nope.json()["error"]["code"] == "model_not_found"
    plain = client.post(
        "/v1/chat/completions", content=b"{}", headers=auth | {"content-type": "text/plain"}
    )
    assert plain.status_code == 415  # a web page's simple POST never reaches the engine
    served.queue = 0  # every request would wait: refused, with when to come back
    busy = client.post("/v1/chat/completions", json=ask, headers=auth)
    assert busy.status_code == 429 and busy.headers["retry-after"] == "5"
    assert "access-control-allow-origin" not in busy.headers
    client.close()
    # Bound to loopback it answers only to this machine's names (no DNS rebinding).
    local = Served({"demo": ModelRef("scripted", "demo")}, handle, hosts=("127.0.0.1",))
    with TestClient(make_app(local)) as rebound:
        assert rebound.get("/v1/models").status_code == 400  # Host: testserver
        assert rebound.get("/v1/models", headers={"host": "127.0.0.1:8080"}).status_code == 200


def test_keys_and_what_the_sse_reader_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llamatui.engines.remote.servers import api_key, is_loopback
    from llamatui.engines.remote.sse import data_of_events

    key_file = tmp_path / "key"
    key_file.write_text("# the box\nsk-SECRET\n")
    with pytest.raises(EngineError, match="not one word on one line") as caught:
        api_key(LoadOptions(engine={"api_key_file": str(key_file)}))
    assert "SECRET" not in str(caught.value)
    monkeypatch.setenv("K", "  sk-ok \n")
    assert api_key(LoadOptions(engine={"api_key_env": "K"})) == ("sk-ok", "$K")
    assert is_loopback("http://127.0.0.1:1/v1") and is_loopback("http://[::1]:8/v1")
    assert not is_loopback("http://127.example.com/v1") and not is_loopback("http://10.0.0.1")
    lines = [": keep-alive", "event: message", 'data: {"a":', "data: 1}", "", "data:[DONE]", ""]
    assert list(data_of_events(iter(lines))) == ['{"a":\n1}', "[DONE]"]


def test_dns_and_tls_failures_say_so(serve_url: str) -> None:
    with pytest.raises(EngineError, match=r"not found \(DNS\)|cannot connect"):
        remote("http://no-such-host.invalid/v1")
    with pytest.raises(EngineError, match="TLS"):
        remote(serve_url.replace("http://", "https://"))


def test_a_crashed_engine_behind_the_server_is_told_and_started_again(
    tmp_path: Path, smollm2: Path
) -> None:
    import psutil

    url, proc = llamatui_serve(tmp_path, smollm2)
    try:
        handle, _ = remote(url)
        got = ""
        with pytest.raises(EngineError, match="the engine stopped: it was killed"):
            for item in handle.stream(ASK, SamplingParams(temperature=0, max_tokens=400)):
                if isinstance(item, Delta):
                    got += item.text
                    if len(got) > 20:
                        for child in psutil.Process(proc.pid).children():
                            if "multiprocessing" in " ".join(child.cmdline()):
                                child.kill()
        items = list(handle.stream(ASK, SamplingParams(temperature=0, max_tokens=3)))
        assert items[-1].generated_tokens == 3  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.wait(10)
