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
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from llamatui.engines.gguf import ModelFileError
from llamatui.engines.handle import EngineHandle
from llamatui.engines.protocol import (
    EngineError,
    LoadOptions,
    SamplingParams,
)
from llamatui.engines.refs import ModelRef
from llamatui.engines.serve.reply import Reply, error
from llamatui.engines.templates import ChatMessage

MAX_BODY = 4 * 1024 * 1024
QUEUE = 8


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
    hosts: tuple[str, ...] = ()
    """The Host names it answers to (bound to loopback); empty for any."""
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
        given = request.headers.get("authorization", "").encode("utf-8", "replace")
        return secrets.compare_digest(given, f"Bearer {served.token}".encode())

    async def body_of(request: Request) -> dict[str, Any] | Response:
        if not authorised(request):
            return error(401, "a bearer token is required", "invalid_request_error", "unauthorized")
        # JSON only: a web page cannot post it without a CORS preflight, which fails.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return error(415, "the body must be application/json", "invalid_request_error")
        too_big = error(413, f"the request is over {MAX_BODY:,} bytes", "invalid_request_error")
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            return too_big
        chunks, size = [], 0
        async for chunk in request.stream():  # a chunked body has no length to check first
            size += len(chunk)
            if size > MAX_BODY:
                return too_big
            chunks.append(chunk)
        raw = b"".join(chunks)
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

    async def asked(
        request: Request,
    ) -> tuple[dict[str, Any], ModelRef, list[ChatMessage]] | Response:
        """The request's body, model and messages, or the error to answer with."""
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        ref = model_ref(body)
        if isinstance(ref, Response):
            return ref
        try:
            return body, ref, messages_of(body)
        except (ValueError, TypeError, AttributeError) as e:
            return error(400, str(e), "invalid_request_error")

    async def tokenize(request: Request) -> Response:
        got = await asked(request)
        if isinstance(got, Response):
            return got
        _, ref, messages = got
        async with served.lock:
            try:
                count = await asyncio.to_thread(lambda: served.ensure(ref).count_tokens(messages))
            except (EngineError, ModelFileError) as e:
                return error(500, str(e), "server_error")
        return JSONResponse({"count": count, "max_model_len": served.n_ctx.get(ref.name)})

    async def chat(request: Request) -> Response:
        got = await asked(request)
        if isinstance(got, Response):
            return got
        body, ref, messages = got
        try:
            params = sampling_of(body)
            options = body.get("stream_options") or {}
            include_usage = bool(options.get("include_usage"))
        except (ValueError, TypeError, AttributeError) as e:
            return error(400, str(e), "invalid_request_error")
        carry_on = bool(body.get("continue_final_message"))
        if carry_on and messages[-1]["role"] != "assistant":
            why = "continue_final_message needs an assistant message last"
            return error(400, why, "invalid_request_error")
        if served.waiting >= served.queue:
            response = error(429, "too many requests are waiting", "rate_limit_error")
            response.headers["Retry-After"] = "5"
            return response
        served.waiting += 1
        try:
            await served.lock.acquire()
        finally:
            served.waiting -= 1
        # From here every way out frees the engine: or no later request is answered.
        run = Reply(served, ref, messages, params, carry_on)
        streaming = False
        try:
            if await request.is_disconnected():  # it gave up while it waited
                return Response(status_code=499)
            first = await run.start()
            if isinstance(first, Response):
                return first
            if body.get("stream"):
                streaming = True  # the stream frees it when it ends
                return StreamingResponse(
                    run.events(first, include_usage), media_type="text/event-stream"
                )
            try:
                return JSONResponse(await run.whole(first))
            except Exception as e:  # the engine failed mid-reply: say why
                return run.error_response(e)
        finally:
            if not streaming:
                run.release_when_done()

    routes = [
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/tokenize", tokenize, methods=["POST"]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(served.close)  # the engine process ends with the server

    middleware = []
    if served.hosts:  # bound to loopback: only this machine's names (no DNS rebinding)
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(served.hosts)))
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
