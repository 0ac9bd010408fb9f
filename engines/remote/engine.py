"""The remote engine: a model served elsewhere, through the OpenAI-compatible API.

llama.cpp's llama-server, llama-cpp-python's server, vLLM, TabbyAPI, Ollama and
`llamatui serve` all speak it. It needs no process of its own (it runs in the app's,
in `InProcessHandle`): an HTTP client with server-sent events, from httpx. API keys
come from an environment variable or a file named in the options, and never reach
the history, the log or the screen.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from threading import Event
from typing import Any

from llamatui.engines.handle import EngineDied
from llamatui.engines.protocol import (
    Capabilities,
    Delta,
    EngineError,
    LoadOptions,
    MemoryUse,
    ModelInfo,
    Progress,
    ReplyStats,
    SamplingParams,
    Unsupported,
    estimate_tokens,
    generation_rate,
)
from llamatui.engines.refs import ModelRef
from llamatui.engines.remote.servers import api_key, is_loopback, where
from llamatui.engines.remote.sse import close_on_cancel, data_of_events
from llamatui.engines.stops import StopMatcher
from llamatui.engines.templates import ChatMessage

CONNECT_S = 5.0
CONTINUING = ("llamatui", "vllm")
"""`owned_by` of the servers that take `continue_final_message`."""
EXTENDED = ("llamatui", "vllm", "llamacpp")
"""`owned_by` of the servers known to use top-k, min-p and the repeat penalty."""
READ_S = 300.0  # a long prompt on a busy server takes a while before the first token


class RemoteEngine:
    """A model on an OpenAI-compatible server."""

    name = "remote"

    def __init__(self) -> None:
        self._client: Any = None
        self._info: ModelInfo | None = None
        self._model = ""
        self._key_from = "no key"
        self._tokenize = False
        self._continue = False
        self._extensions = False

    def load(
        self, ref: ModelRef, options: LoadOptions, progress: Progress | None = None
    ) -> ModelInfo:
        """Reach the server, check the model, and find what it offers."""
        import httpx

        base = ref.location.rstrip("/")
        if progress is not None:
            progress(0.0, f"connecting to {where(base)}")
        models = self._connect(base, options, httpx.Timeout(READ_S, connect=CONNECT_S))
        ids = [str(m.get("id")) for m in models]
        model = ref.model or (ids[0] if ids else "")
        if model not in ids:
            raise EngineError(
                f"the server has no model {model!r}"
                + (f" (it has: {', '.join(ids[:8])})" if ids else " (it lists none)")
            )
        meta = next(m for m in models if m.get("id") == model)
        n_ctx_server = _context_of(meta)
        # Servers known to carry on a final assistant message (vLLM's and llamatui's
        # `continue_final_message`); others are not asked to.
        owner = str(meta.get("owned_by", "")).lower()
        self._continue = owner in CONTINUING
        self._extensions = owner in EXTENDED
        self._model = model
        self._tokenize = self._probe_tokenize()
        n_ctx = min(options.n_ctx, n_ctx_server) if n_ctx_server else options.n_ctx
        if progress is not None:
            progress(1.0, "")
        self._info = ModelInfo(
            ref=ref,
            name=model,
            architecture="remote",
            n_ctx=n_ctx,
            n_ctx_train=n_ctx_server or n_ctx,
            template="the server's",
            size_bytes=0,
            capabilities=Capabilities(count_tokens=self._tokenize, continue_reply=self._continue),
            notice="; ".join(self._notices(base)) or None,
        )
        return self._info

    def models(self, base: str, options: LoadOptions, timeout: float) -> list[str]:
        """The ids of the models the server at `base` lists."""
        return [str(m.get("id")) for m in self._connect(base.rstrip("/"), options, timeout)]

    def _connect(self, base: str, options: LoadOptions, timeout: Any) -> list[dict[str, Any]]:
        """A client for the server at `base` (TLS verified, the key in its header), and
        the models the server lists."""
        import httpx

        self.unload()
        key, self._key_from = api_key(options)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(base_url=base, headers=headers, timeout=timeout, verify=True)
        data = self._json("GET", "/models").get("data") or []
        return [m for m in data if isinstance(m, dict)]

    def _notices(self, base: str) -> list[str]:
        """What the user should hear once, at load."""
        notes = []
        if base.startswith("http://") and not is_loopback(base):
            host = where(base)
            notes.append(
                f"the connection to {host} is not encrypted (http://): the conversation "
                "crosses the network in clear; use https, or an SSH tunnel to localhost"
            )
        if not self._tokenize:
            notes.append("this server cannot count tokens: the context meter estimates (~)")
        if not self._extensions:
            notes.append(
                "top-k, min-p and the repeat penalty are sent as extensions: llama.cpp, vLLM "
                "and llamatui serve use them, this server may ignore them"
            )
        return notes

    def _require(self) -> ModelInfo:
        if self._info is None or self._client is None:
            raise EngineError("no model is loaded")
        return self._info

    def _root(self) -> str:
        """The server's root: /tokenize lives beside /v1, not under it."""
        base = str(self._client.base_url).rstrip("/")
        return base[: -len("/v1")] if base.endswith("/v1") else base

    def _probe_tokenize(self) -> bool:
        try:
            self._count([{"role": "user", "content": "hi"}])
        except EngineError:
            return False
        return True

    def _count(self, messages: Sequence[ChatMessage]) -> int:
        data = self._json(
            "POST", f"{self._root()}/tokenize", {"model": self._model, "messages": list(messages)}
        )
        count = data.get("count")
        if not isinstance(count, int):
            raise EngineError("the server's /tokenize gave no count")
        return count

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """The prompt's tokens, by the server's own tokenizer (vLLM's and llamatui's
        `/tokenize`)."""
        self._require()
        if not self._tokenize:
            raise Unsupported("this server cannot count tokens")
        return self._count(messages)

    def _json(self, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        import httpx

        try:
            r = self._client.request(method, url, json=body)
        except httpx.HTTPError as e:
            raise self._transport_error(e) from None
        if r.status_code != 200:
            raise self._status_error(r.status_code, r.text, r.headers)
        try:
            data = r.json()
        except ValueError:
            raise EngineError(
                f"the server answered {url} with something that is not JSON"
            ) from None
        return data if isinstance(data, dict) else {}

    def _transport_error(self, e: Exception) -> EngineError:
        import httpx

        at = where(str(self._client.base_url))
        text = str(e)
        if isinstance(e, httpx.TimeoutException):
            return EngineError(f"the server at {at} did not answer in time")
        if "CERTIFICATE" in text.upper():
            return EngineError(f"the TLS certificate of {at} was not accepted ({text})")
        if "SSL" in text.upper() or "TLS" in text.upper():
            return EngineError(f"the TLS connection to {at} failed ({text})")
        if "Name or service not known" in text or "nodename nor servname" in text:
            return EngineError(f"the server name {at} was not found (DNS)")
        if isinstance(e, httpx.ConnectError):
            return EngineError(f"cannot connect to {at}: is the server running? ({text})")
        return EngineDied(f"the connection to {at} broke ({type(e).__name__}: {text})")

    def _status_error(self, status: int, text: str, headers: Any) -> EngineError:
        message = _error_message(text)
        if status in (401, 403):
            return EngineError(
                f"the server refused the API key ({self._key_from}): {status} {message}"
            )
        if status == 404:
            return EngineError(f"the server has no such model or endpoint: {message}")
        if status in (429, 503):
            after = headers.get("retry-after")
            wait = f"; it asks to retry after {after} s" if after else ""
            return EngineError(f"the server is busy ({status}){wait}: {message}")
        if status == 400 and "context" in message.lower():
            return EngineError(
                f"the conversation is longer than the server's context: {message}. Start a "
                "new conversation (Ctrl+N) or use a smaller context on this side."
            )
        return EngineError(f"the server answered {status}: {message}")

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams,
        cancel: Event,
        continue_last: bool = False,
    ) -> Iterator[Delta | ReplyStats]:
        """Stream a reply over server-sent events; the cancel is checked at every event,
        and closing the stream stops the server's reply."""
        import httpx

        info = self._require()
        if continue_last and not self._continue:
            raise Unsupported("this server cannot continue a reply")
        body: dict[str, Any] = {
            "model": self._model,
            "messages": list(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            # Not in OpenAI's API, understood by llama.cpp, vLLM and llamatui serve.
            "top_k": params.top_k,
            "min_p": params.min_p,
            "repeat_penalty": params.repeat_penalty,
        }
        if continue_last:
            body |= {"continue_final_message": True, "add_generation_prompt": False}
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        stops = StopMatcher(params.stop)
        t_start = time.perf_counter()
        t_first = 0.0
        n = sent = 0
        finish = "stop"
        usage: dict[str, Any] = {}
        done = threading.Event()
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as r:
                # Esc while the server reads the prompt (or queues the request) must not
                # wait for its first byte: closing the response ends the read at once.
                threading.Thread(
                    target=close_on_cancel, args=(cancel, done, r), daemon=True
                ).start()
                if r.status_code != 200:
                    r.read()
                    raise self._status_error(r.status_code, r.text, r.headers)
                for data in data_of_events(r.iter_lines()):
                    if cancel.is_set():
                        finish = "cancelled"
                        break
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    if not isinstance(chunk, dict):
                        continue
                    if "error" in chunk:
                        raise EngineError(f"the server failed: {_error_message(data)}")
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        text = (choice.get("delta") or {}).get("content") or ""
                        if text:
                            n += 1  # servers send a token an event
                            t_first = t_first or time.perf_counter()
                            if delta := stops.take(text):
                                sent += delta.n_tokens
                                yield delta
                        reason = choice.get("finish_reason")
                        if reason:
                            finish = "length" if reason == "length" else "stop"
                    if stops.stopped:
                        finish = "stop"
                        break
        except httpx.HTTPError as e:
            if not cancel.is_set():
                raise self._transport_error(e) from None
            finish = "cancelled"
        except ValueError as e:
            raise EngineError(f"the server sent an event that is not JSON ({e})") from None
        finally:
            done.set()
        # The server's count, where it gave one; what was counted here is off by the
        # events that held more or less than a token.
        generated = int(usage.get("completion_tokens") or n) if finish != "cancelled" else n
        generated = max(generated, sent)
        if delta := stops.rest(n_tokens=generated - n):
            yield delta
        t_end = time.perf_counter()
        # Servers that report no usage in a stream (llama-cpp-python's): the prompt is
        # counted by the server's tokenizer where it has one, else estimated.
        prompt = int(usage.get("prompt_tokens") or 0) or self._prompt_tokens(messages)
        yield ReplyStats(
            finish=finish,  # type: ignore[arg-type]
            prompt_tokens=prompt,
            prompt_evaluated=prompt,
            generated_tokens=generated,
            ttft_s=(t_first or t_end) - t_start,
            tokens_per_s=generation_rate(generated, t_first, t_end),
            context_used=prompt + generated,
            n_ctx=info.n_ctx,
        )

    def _prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        if self._tokenize:
            try:
                return self._count(messages)
            except EngineError:
                pass
        return estimate_tokens(messages)

    def unload(self) -> None:
        """Close the connection."""
        if self._client is not None:
            self._client.close()
        self._client = None
        self._info = None

    def memory(self) -> MemoryUse:
        """Nothing here: the model's memory is the server's."""
        return MemoryUse(rss=0)


def _context_of(meta: dict[str, Any]) -> int:
    """The context a server reports for a model: vLLM's max_model_len, llama.cpp's
    meta.n_ctx_train, llamatui's n_ctx; 0 when it says none."""
    for value in (
        meta.get("max_model_len"),
        (meta.get("meta") or {}).get("n_ctx"),
        (meta.get("meta") or {}).get("n_ctx_train"),
    ):
        if isinstance(value, int) and value > 0:
            return value
    return 0


def _error_message(text: str) -> str:
    """The message of an OpenAI-style error body, or the body itself, short."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:300]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)[:300]
    if isinstance(error, str):
        return error[:300]
    detail = data.get("detail") if isinstance(data, dict) else None
    return str(detail or data)[:300]
