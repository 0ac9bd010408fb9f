"""One reply of `llamatui serve`: the engine in a thread, its items to the event loop,
out as server-sent events or one chat.completion."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from llamatui.engines.gguf import ModelFileError
from llamatui.engines.handle import EngineDied, EngineHandle
from llamatui.engines.protocol import (
    ContextOverflow,
    Delta,
    EngineError,
    ReplyStats,
    SamplingParams,
)
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage

if TYPE_CHECKING:
    from llamatui.engines.serve.app import Served


def error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    """An OpenAI-style error."""
    body = {"error": {"message": message, "type": kind, "code": code}}
    return JSONResponse(body, status_code=status)


class Reply:
    """One reply: the engine runs in a thread; its items reach the event loop through a
    queue. The server's lock is held from `start` until the reply ends."""

    def __init__(
        self,
        served: Served,
        ref: ModelRef,
        messages: list[ChatMessage],
        params: SamplingParams,
        carry_on: bool = False,
    ) -> None:
        self.served, self.ref, self.messages, self.params = served, ref, messages, params
        self.carry_on = carry_on
        """Continue the last (assistant) message instead of answering it."""
        self.id = f"chatcmpl-{secrets.token_hex(12)}"
        self.created = int(time.time())
        self.queue: asyncio.Queue[Delta | ReplyStats | BaseException | None] = asyncio.Queue()
        self.handle: EngineHandle | None = None
        self.stopped = threading.Event()
        self._closing: asyncio.Task[None] | None = None
        self.running = False
        """Its thread has started (and puts None when it ends)."""
        self._released = False
        self._drained = False

    async def start(self) -> Delta | ReplyStats | Response:
        """Load if needed and begin; the first item, or the error response."""
        loop = asyncio.get_running_loop()

        def put(item: Delta | ReplyStats | BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(self.queue.put_nowait, item)
            except RuntimeError:  # the server is shutting down: nobody is listening
                self.stopped.set()

        def produce() -> None:
            try:
                handle = self.handle = self.served.ensure(self.ref)
                stream: Iterator[Delta | ReplyStats] = handle.stream(
                    self.messages, self.params, self.carry_on
                )
                for item in stream:
                    put(item)
                    if self.stopped.is_set():
                        handle.cancel()
            except BaseException as e:  # delivered to the event loop as it is
                put(e)
            finally:
                put(None)

        threading.Thread(target=produce, name="llamatui-serve-reply", daemon=True).start()
        self.running = True
        first = await self.queue.get()
        if isinstance(first, BaseException):
            await self._drain()
            return self.error_response(first)
        assert first is not None
        return first

    async def _drain(self) -> None:
        if self._drained:
            return
        while await self.queue.get() is not None:
            pass
        self._drained = True

    def error_response(self, e: BaseException) -> Response:
        """The error a failed reply answers with."""
        if isinstance(e, ContextOverflow):
            return error(400, str(e), "invalid_request_error", "context_length_exceeded")
        if isinstance(e, ModelFileError):
            return error(500, f"the model cannot be loaded: {e}", "server_error")
        if isinstance(e, EngineDied):
            return error(500, str(e), "server_error", "engine_died")
        if isinstance(e, EngineError):
            return error(500, str(e), "server_error")
        return error(500, f"{type(e).__name__}: {e}", "server_error")

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.ref.name,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }  # fmt: skip

    @staticmethod
    def _usage(stats: ReplyStats) -> dict[str, int]:
        return {
            "prompt_tokens": stats.prompt_tokens,
            "completion_tokens": stats.generated_tokens,
            "total_tokens": stats.prompt_tokens + stats.generated_tokens,
        }

    async def events(self, first: Delta | ReplyStats, include_usage: bool) -> AsyncIterator[str]:
        """Server-sent events; a client that goes away cancels the reply."""
        item: Delta | ReplyStats | BaseException | None = first
        try:
            yield f"data: {json.dumps(self._chunk({'role': 'assistant', 'content': ''}))}\n\n"
            while item is not None:
                if isinstance(item, Delta):
                    if item.text:
                        chunk = self._chunk({"content": item.text})
                        yield f"data: {json.dumps(chunk)}\n\n"
                elif isinstance(item, ReplyStats):
                    finish = "length" if item.finish in ("length", "context") else "stop"
                    yield f"data: {json.dumps(self._chunk({}, finish))}\n\n"
                    if include_usage:
                        usage = self._chunk({}) | {"choices": [], "usage": self._usage(item)}
                        yield f"data: {json.dumps(usage)}\n\n"
                elif isinstance(item, BaseException):
                    body = json.loads(bytes(self.error_response(item).body))
                    yield f"data: {json.dumps(body)}\n\n"
                item = await self.queue.get()
            self._drained = True
            yield "data: [DONE]\n\n"
        finally:
            # A disconnect lands here too, in a cancelled task that can await nothing:
            # stop the engine, and let a task of its own wait for the thread and free
            # the engine for the next request.
            self.stopped.set()
            if self.handle is not None:
                self.handle.cancel()
            if item is None:
                self._release_once()
            else:
                self.release_when_done()

    def release_when_done(self) -> None:
        """Free the engine for the next request once this reply's thread has ended:
        at once when it has, else from a task of its own (this may be a cancelled
        task, which can await nothing)."""
        self.stopped.set()
        if self.handle is not None:
            self.handle.cancel()
        if not self.running or self._drained:
            self._release_once()
            return
        self._closing = asyncio.get_running_loop().create_task(self._release())

    async def _release(self) -> None:
        await self._drain()
        self._release_once()

    def _release_once(self) -> None:
        if not self._released:
            self._released = True
            self.served.lock.release()

    async def whole(self, first: Delta | ReplyStats) -> dict[str, Any]:
        """The reply as one chat.completion object."""
        parts: list[str] = []
        stats: ReplyStats | None = None
        item: Delta | ReplyStats | BaseException | None = first
        while item is not None:
            if isinstance(item, Delta):
                parts.append(item.text)
            elif isinstance(item, ReplyStats):
                stats = item
            elif isinstance(item, BaseException):
                await self._drain()
                raise item
            item = await self.queue.get()
        self._drained = True  # its None is read: the thread has ended
        assert stats is not None
        finish = "length" if stats.finish in ("length", "context") else "stop"
        return {
            "id": self.id, "object": "chat.completion", "created": self.created,
            "model": self.ref.name,
            "choices": [{
                "index": 0, "finish_reason": finish,
                "message": {"role": "assistant", "content": "".join(parts)},
            }],
            "usage": self._usage(stats),
        }  # fmt: skip
