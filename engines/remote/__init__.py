"""The remote engine (`engine.py`, made by the registry) and the servers the config
names (`servers.py`, which the UI reads: it never imports the engine itself)."""

from llamatui.engines.remote.servers import (
    RemoteServer,
    base_url,
    is_loopback,
    list_models,
    remote_entries,
)

__all__ = ["RemoteServer", "base_url", "is_loopback", "list_models", "remote_entries"]
