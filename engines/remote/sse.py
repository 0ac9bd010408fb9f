"""Server-sent events, as the OpenAI-compatible servers send them, read from httpx's
lines; and closing a response when its reply is cancelled."""

from __future__ import annotations

from collections.abc import Iterator
from threading import Event
from typing import Any


def close_on_cancel(cancel: Event, done: Event, response: Any) -> None:
    """Close the response when the reply is cancelled (until it is done)."""
    while not done.is_set():
        if cancel.wait(0.05):
            response.close()
            return


def data_of_events(lines: Iterator[str]) -> Iterator[str]:
    """The data of each server-sent event: `data:` lines joined, comments and other
    fields skipped, an event ended by a blank line."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)
