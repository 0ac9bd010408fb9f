"""Servers from the config (`[[remotes]]`), their API keys, and the models they list."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from llamatui.engines.protocol import EngineError, LoadOptions

if TYPE_CHECKING:
    from llamatui.engines.model_entry import ModelEntry


def base_url(url: str) -> str:
    """A server's URL as references and the config keep it: no trailing slash, ending
    in /v1 (`http://host:8080` and `http://host:8080/v1/` are the same server)."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


@dataclass(frozen=True)
class RemoteServer:
    """A server from config.toml's `[[remotes]]`."""

    name: str
    url: str
    """Its base URL, ending in /v1."""
    api_key_env: str | None = None
    """The environment variable that holds its API key."""
    api_key_file: str | None = None
    """A file that holds its API key."""
    model: str | None = None
    """The model to use when none is named."""

    def key_options(self) -> dict[str, str]:
        """The remote engine's options that say where the key is."""
        return {
            k: v
            for k, v in (("api_key_env", self.api_key_env), ("api_key_file", self.api_key_file))
            if v
        }


def list_models(server: RemoteServer, timeout: float = 3.0) -> list[str]:
    """The models a server reports.

    Raises:
        EngineError: it cannot be reached, refuses the key, or answers nonsense.
    """
    from llamatui.engines.remote.engine import RemoteEngine

    engine = RemoteEngine()
    try:
        return engine.models(server.url, LoadOptions(engine=server.key_options()), timeout)
    finally:
        engine.unload()


def is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine (an address, or "localhost")."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        return False


def where(url: str) -> str:
    """host:port of a URL, without any user:password in it."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def api_key(options: LoadOptions) -> tuple[str | None, str]:
    """The API key and where it came from ("$NAME", a file), from the engine's options."""
    env = options.engine.get("api_key_env")
    path = options.engine.get("api_key_file")
    if env:
        value, source = os.environ.get(str(env), "").strip(), f"${env}"
        if not value:
            raise EngineError(f"the API key's environment variable ${env} is not set")
    elif path:
        source = str(path)
        try:
            value = Path(source).expanduser().read_text(encoding="utf-8").strip()
        except OSError as e:
            raise EngineError(f"the API key file {path} cannot be read ({e.strerror})") from e
    else:
        return None, "no key"
    # A key with spaces or line breaks in it (a comment in the file) would go into an
    # HTTP header, and its error message, as it is: refuse it before it is sent.
    if not value or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise EngineError(f"the API key in {source} is not one word on one line")
    return value, source


def remote_entries(servers: Sequence[RemoteServer]) -> list[ModelEntry]:
    """Every model the servers list, for the library; a server that cannot be reached
    is one unusable entry that says why."""
    from llamatui.engines.model_entry import ModelEntry

    entries = []
    for server in servers:
        try:
            ids = list_models(server)
        except EngineError as e:
            entries.append(
                ModelEntry(path=server.url, name=server.name, format="remote", size_bytes=0,
                           error=f"server not reachable: {e}")
            )  # fmt: skip
            continue
        for model in ids:
            entries.append(
                ModelEntry(path=server.url, name=model, format="remote", size_bytes=0,
                           quantization=f"on {server.name}", model_id=model)
            )  # fmt: skip
    return entries
