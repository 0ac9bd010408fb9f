"""`llamatui serve`: the local engines behind the OpenAI-compatible API.

Starlette and uvicorn, the ASGI stack llama-cpp-python's own server stands on.
`/v1/models` lists the models it serves, `/v1/chat/completions` answers streamed (server-
sent events) and whole, `/tokenize` counts a conversation's tokens (vLLM's shape). One
engine process generates one reply at a time: further requests wait in a bounded
queue, past which they get 429. A client that disconnects cancels its reply. A crashed
engine gives 500 with the reason and starts again on the next request. Bound anywhere
but loopback it wants a bearer token, and it never sends a wildcard CORS header.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from llamatui.engines.gguf import ModelFileError
from llamatui.engines.handle import EngineDied, EngineHandle
from llamatui.engines.protocol import (
    ContextOverflow,
    Delta,
    EngineError,
    LoadOptions,
    ReplyStats,
    SamplingParams,
)
from llamatui.engines.refs import ModelRef
from llamatui.engines.templates import ChatMessage

MAX_BODY = 4 * 1024 * 1024
QUEUE = 8


def error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    """An OpenAI-style error."""
    body = {"error": {"message": message, "type": kind, "code": code}}
    return JSONResponse(body, status_code=status)


@dataclass
class Served:
    """What the server runs: the models it offers and the engine it runs them on."""

    models: Mapping[str, ModelRef]
    """By the id clients ask for (the model's name)."""
    make_handle: Callable[[ModelRef], EngineHandle]
    options: LoadOptions = field(default_factory=LoadOptions)
    token: str | None = None
    """The bearer token clients must send; None on loopback."""
    queue: int = QUEUE
    handle: EngineHandle | None = None
    loaded: ModelRef | None = None
    waiting: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    n_ctx: dict[str, int] = field(default_factory=dict)

    def ensure(self, ref: ModelRef) -> EngineHandle:
        """The engine with `ref` loaded (a crashed one starts again)."""
        handle = self.handle
        if handle is None or handle.kind != ref.engine:
            if handle is not None:
                handle.close()
            handle = self.handle = self.make_handle(ref)
            self.loaded = None
        if not handle.alive or self.loaded != ref:
            self.loaded = None
            info = handle.load(ref, self.options)
            self.n_ctx[ref.name] = info.n_ctx
            self.loaded = ref
        return handle

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def sampling_of(body: Mapping[str, Any]) -> SamplingParams:
    """The request's sampling, with llamatui's defaults for what it leaves out."""
    base = SamplingParams()
    stop = body.get("stop")
    stops = (stop,) if isinstance(stop, str) else tuple(str(s) for s in stop or ())
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or base.max_tokens
    return SamplingParams(
        temperature=float(body.get("temperature", base.temperature)),
        top_k=int(body.get("top_k", base.top_k)),
        top_p=float(body.get("top_p", base.top_p)),
        min_p=float(body.get("min_p", base.min_p)),
        repeat_penalty=float(
            body.get("repeat_penalty", body.get("repetition_penalty", base.repeat_penalty))
        ),
        max_tokens=int(max_tokens),
        seed=int(body["seed"]) if body.get("seed") is not None else None,
        stop=stops,
    )


def messages_of(body: Mapping[str, Any]) -> list[ChatMessage]:
    """The request's messages as text (content parts joined).

    Raises:
        ValueError: no messages, or a message without a role.
    """
    out: list[ChatMessage] = []
    for m in body.get("messages") or []:
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(m.get("role"), str):
            raise ValueError("every message needs a role")
        out.append({"role": m["role"], "content": str(content or "")})
    if not out:
        raise ValueError("messages must not be empty")
    return out


def make_app(served: Served) -> Starlette:
    """The ASGI app."""

    def authorised(request: Request) -> bool:
        if served.token is None:
            return True
        given = request.headers.get("authorization", "")
        return secrets.compare_digest(given, f"Bearer {served.token}")

    async def body_of(request: Request) -> dict[str, Any] | Response:
        if not authorised(request):
            return error(401, "a bearer token is required", "invalid_request_error", "unauthorized")
        size = int(request.headers.get("content-length") or 0)
        if size > MAX_BODY:
            return error(413, f"the request is over {MAX_BODY:,} bytes", "invalid_request_error")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return error(413, f"the request is over {MAX_BODY:,} bytes", "invalid_request_error")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return error(400, "the body is not JSON", "invalid_request_error")
        if not isinstance(body, dict):
            return error(400, "the body must be a JSON object", "invalid_request_error")
        return body

    async def models(request: Request) -> Response:
        if not authorised(request):
            return error(401, "a bearer token is required", "invalid_request_error", "unauthorized")
        data = [
            {
                "id": name, "object": "model", "owned_by": "llamatui",
                "meta": {"engine": ref.engine, "n_ctx": served.n_ctx.get(name)},
            }
            for name, ref in served.models.items()
        ]  # fmt: skip
        return JSONResponse({"object": "list", "data": data})

    def model_ref(body: Mapping[str, Any]) -> ModelRef | Response:
        name = body.get("model") or next(iter(served.models), "")
        ref = served.models.get(str(name))
        if ref is None:
            known = ", ".join(served.models)
            return error(
                404, f"no model {name!r} here (served: {known})", "invalid_request_error",
                "model_not_found",
            )  # fmt: skip
        return ref

    async def tokenize(request: Request) -> Response:
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        ref = model_ref(body)
        if isinstance(ref, Response):
            return ref
        try:
            messages = messages_of(body)
        except ValueError as e:
            return error(400, str(e), "invalid_request_error")
        async with served.lock:
            try:
                count = await asyncio.to_thread(lambda: served.ensure(ref).count_tokens(messages))
            except (EngineError, ModelFileError) as e:
                return error(500, str(e), "server_error")
        return JSONResponse({"count": count, "max_model_len": served.n_ctx.get(ref.name)})

    async def chat(request: Request) -> Response:
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        ref = model_ref(body)
        if isinstance(ref, Response):
            return ref
        try:
            messages = messages_of(body)
            params = sampling_of(body)
        except (ValueError, TypeError) as e:
            return error(400, str(e), "invalid_request_error")
        if served.waiting >= served.queue:
            response = error(429, "too many requests are waiting", "rate_limit_error")
            response.headers["Retry-After"] = "5"
            return response
        served.waiting += 1
        try:
            await served.lock.acquire()
        finally:
            served.waiting -= 1
        run = Reply(served, ref, messages, params)
        try:
            first = await run.start()
        except BaseException:
            served.lock.release()
            raise
        if isinstance(first, Response):
            served.lock.release()
            return first
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                run.events(first, include_usage), media_type="text/event-stream"
            )
        try:
            return JSONResponse(await run.whole(first))
        except Exception as e:  # the engine failed mid-reply: say why
            return run.error_response(e)
        finally:
            served.lock.release()

    routes = [
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/tokenize", tokenize, methods=["POST"]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(served.close)  # the engine process ends with the server

    return Starlette(routes=routes, lifespan=lifespan)


class Reply:
    """One reply: the engine runs in a thread; its items reach the event loop through a
    queue. The server's lock is held from `start` until the reply ends."""

    def __init__(
        self, served: Served, ref: ModelRef, messages: list[ChatMessage], params: SamplingParams
    ) -> None:
        self.served, self.ref, self.messages, self.params = served, ref, messages, params
        self.id = f"chatcmpl-{secrets.token_hex(12)}"
        self.created = int(time.time())
        self.queue: asyncio.Queue[Delta | ReplyStats | BaseException | None] = asyncio.Queue()
        self.handle: EngineHandle | None = None
        self.stopped = threading.Event()
        self._closing: asyncio.Task[None] | None = None

    async def start(self) -> Delta | ReplyStats | Response:
        """Load if needed and begin; the first item, or the error response."""
        loop = asyncio.get_running_loop()

        def put(item: Delta | ReplyStats | BaseException | None) -> None:
            loop.call_soon_threadsafe(self.queue.put_nowait, item)

        def produce() -> None:
            try:
                handle = self.handle = self.served.ensure(self.ref)
                stream: Iterator[Delta | ReplyStats] = handle.stream(self.messages, self.params)
                for item in stream:
                    put(item)
                    if self.stopped.is_set():
                        handle.cancel()
            except BaseException as e:  # delivered to the event loop as it is
                put(e)
            finally:
                put(None)

        threading.Thread(target=produce, name="llamatui-serve-reply", daemon=True).start()
        first = await self.queue.get()
        if isinstance(first, BaseException):
            await self._drain()
            return self.error_response(first)
        assert first is not None
        return first

    async def _drain(self) -> None:
        while await self.queue.get() is not None:
            pass

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
            yield "data: [DONE]\n\n"
        finally:
            # A disconnect lands here too, in a cancelled task that can await nothing:
            # stop the engine, and let a task of its own wait for the thread and free
            # the engine for the next request.
            self.stopped.set()
            if self.handle is not None:
                self.handle.cancel()
            if item is None:
                self.served.lock.release()
            else:
                self._closing = asyncio.get_running_loop().create_task(self._release())

    async def _release(self) -> None:
        await self._drain()
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
