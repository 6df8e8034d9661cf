"""An honest OpenAI-compatible HTTP server for tests, on loopback, with injectable faults.

It answers from the request (:mod:`tests.support.answers`): a tool call to a declared tool with
arguments that fit its schema, JSON that fits a ``response_format``, text cut at ``stop``, ``n``
choices and ``logprobs`` when asked — so a field dropped on the way fails the test that sent it.
It speaks the parts of the OpenAI API that Modelyard uses — ``/v1/chat/completions`` (JSON and
SSE streaming, with a usage chunk when ``stream_options.include_usage`` is set), ``/v1/models``,
``/v1/images/generations`` (a real PNG) — plus ``/template/...``, a non-OpenAI JSON API for the
``http_template`` adapter. Every request body is recorded. Faults are injected per server:
latency, a status code (optionally with ``Retry-After``) for the next N requests, a hang longer
than the client's timeout, or a stream that disconnects after K chunks.

Example:
    >>> with FakeUpstream() as upstream:
    ...     upstream.fail(status=503, times=1)
    ...     # point ChatOpenAI(base_url=upstream.base_url, api_key="test") at it
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tests.support import answers

__all__ = ["FakeUpstream", "RecordedRequest", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    query: dict[str, list[str]] = field(default_factory=dict)
    """The decoded query parameters (every value of a repeated name)."""


@dataclass
class _Faults:
    latency: float = 0.0
    status: int | None = None
    status_times: int = 0
    retry_after: float | None = None
    message: str | None = None
    hang_seconds: float = 0.0
    hang_times: int = 0
    disconnect_after_chunks: int | None = None
    disconnect_times: int = 0
    chunk_delay: float = 0.0


@dataclass
class FakeUpstream:
    """The fake provider. Use as a context manager; ``base_url`` ends in ``/v1``.

    Args:
        reply: the assistant's text; ``None`` echoes ``"echo: <last user message>"``.
        model_ids: what ``/v1/models`` lists.
    """

    reply: str | None = None
    model_ids: list[str] = field(default_factory=lambda: ["fake-gpt"])
    requests: list[RecordedRequest] = field(default_factory=list)
    port: int = 0
    _faults: _Faults = field(default_factory=_Faults)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    open_streams: int = 0

    # ---- fault injection -------------------------------------------------------------------
    def fail(
        self, status: int, times: int = 1_000_000, retry_after: float | None = None, message: str | None = None
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (and ``Retry-After`` if given); the error
        body's ``message`` is ``message`` (default ``injected failure <status>``)."""
        with self._lock:
            self._faults.status, self._faults.status_times = status, times
            self._faults.retry_after, self._faults.message = retry_after, message

    def hang(self, seconds: float, times: int = 1_000_000) -> None:
        """Hold the next ``times`` requests for ``seconds`` before answering (a timeout)."""
        with self._lock:
            self._faults.hang_seconds, self._faults.hang_times = seconds, times

    def disconnect_stream(self, after_chunks: int, times: int = 1_000_000) -> None:
        """Cut the next ``times`` streamed answers after ``after_chunks`` content chunks."""
        with self._lock:
            self._faults.disconnect_after_chunks, self._faults.disconnect_times = after_chunks, times

    def set_latency(self, seconds: float, chunk_delay: float = 0.0) -> None:
        """Delay every answer by ``seconds`` and every streamed chunk by ``chunk_delay``."""
        self._faults.latency, self._faults.chunk_delay = seconds, chunk_delay

    def heal(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults = _Faults()

    def _take(self, kind: str) -> bool:
        with self._lock:
            left = getattr(self._faults, f"{kind}_times")
            if left <= 0:
                return False
            setattr(self._faults, f"{kind}_times", left - 1)
            return True

    # ---- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeUpstream:
        self.port = self.port or free_port()
        config = uvicorn.Config(
            self._app(),
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="fake-upstream")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake upstream did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server:
            self._server.should_exit = True
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the HTTP application ---------------------------------------------------------------
    def _app(self) -> FastAPI:
        app = FastAPI()

        async def fault_response() -> JSONResponse | None:
            if self._faults.latency:
                await asyncio.sleep(self._faults.latency)
            if self._take("hang"):
                await asyncio.sleep(self._faults.hang_seconds)
            if self._take("status"):
                status = self._faults.status or 500
                headers = {}
                if self._faults.retry_after is not None:
                    headers["retry-after"] = str(self._faults.retry_after)
                message = self._faults.message or f"injected failure {status}"
                error = {"message": message, "type": "upstream_error", "code": status}
                return JSONResponse({"error": error}, status_code=status, headers=headers)
            return None

        async def record(request: Request) -> dict[str, Any]:
            try:
                body = await request.json()
            except json.JSONDecodeError:
                body = {}
            query: dict[str, list[str]] = {}
            for name, value in request.query_params.multi_items():
                query.setdefault(name, []).append(value)
            self.requests.append(RecordedRequest(request.url.path, dict(request.headers), body, query))
            return body

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {
                "object": "list",
                "data": [{"id": m, "object": "model", "owned_by": "fake"} for m in self.model_ids],
            }

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Any:
            body = await record(request)
            if (failure := await fault_response()) is not None:
                return failure
            tool_call = answers.tool_call_for(body)
            text, _ = answers.cut_at_stop(self._answer(body), body.get("stop"))
            prompt_tokens = sum(len(answers.text_of(m).split()) + 3 for m in body.get("messages", []))
            words = [] if tool_call else text.split(" ")
            limit = body.get("max_tokens") or body.get("max_completion_tokens")
            if limit:
                words = words[: int(limit)]
            completion_tokens = len(words) + (len(tool_call["function"]["arguments"].split()) if tool_call else 0)
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
            model = body.get("model", "fake-gpt")
            finish = "tool_calls" if tool_call else "length" if limit and len(words) < len(text.split(" ")) else "stop"
            if not body.get("stream"):
                message: dict[str, Any] = {"role": "assistant", "content": None if tool_call else " ".join(words)}
                if tool_call:
                    message["tool_calls"] = [tool_call]
                choices = []
                for index in range(int(body.get("n") or 1)):
                    choice: dict[str, Any] = {"index": index, "message": message, "finish_reason": finish}
                    if body.get("logprobs"):
                        choice["logprobs"] = {"content": _logprobs(words, int(body.get("top_logprobs") or 0))}
                    choices.append(choice)
                return {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "usage": usage,
                    "choices": choices,
                    **({"system_fingerprint": f"seed-{body['seed']}"} if "seed" in body else {}),
                }
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            cut = self._faults.disconnect_after_chunks if self._take("disconnect") else None
            events = self._sse(model, words, usage, include_usage, cut, tool_call, finish)
            return StreamingResponse(events, media_type="text/event-stream")

        @app.post("/v1/images/generations")
        async def images(request: Request) -> Any:
            body = await record(request)
            if (failure := await fault_response()) is not None:
                return failure
            return {
                "created": int(time.time()),
                "data": [{"b64_json": _png_base64(), "revised_prompt": body.get("prompt", "")}],
            }

        @app.post("/template/{name}")
        async def template(name: str, request: Request) -> Any:
            body = await record(request)
            if (failure := await fault_response()) is not None:
                return failure
            prompt = json.dumps(body, ensure_ascii=False)
            answer = self.reply if self.reply is not None else f"template {name}: {prompt}"
            return {"data": {"items": [{"attributes": {"answer": answer}}]}, "meta": {"name": name}}

        return app

    def _answer(self, body: dict[str, Any]) -> str:
        """The text answer: tool results quoted, JSON for a response_format, else reply or echo."""
        decided = answers.tool_result_answer(body) or answers.json_answer(body)
        if decided is not None:
            return decided
        if self.reply is not None:
            return self.reply
        return "echo: " + answers.last_user_text(body)

    async def _sse(
        self,
        model: str,
        words: list[str],
        usage: dict[str, int],
        include_usage: bool,
        cut: int | None,
        tool_call: dict[str, Any] | None = None,
        finish: str = "stop",
    ):
        def event(choices: list[dict[str, Any]], **extra: Any) -> str:
            payload = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": choices,
                **extra,
            }
            return f"data: {json.dumps(payload)}\n\n"

        self.open_streams += 1
        try:
            yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
            for i, word in enumerate(words):
                if cut is not None and i >= cut:
                    raise ConnectionAbortedError("injected mid-stream disconnect")
                if self._faults.chunk_delay:
                    await asyncio.sleep(self._faults.chunk_delay)
                piece = word if i == 0 else " " + word
                yield event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
            if tool_call:  # the name first, then the arguments in two pieces, as OpenAI streams them
                arguments = tool_call["function"]["arguments"]
                head = {**tool_call, "index": 0, "function": {"name": tool_call["function"]["name"], "arguments": ""}}
                for part in ({"tool_calls": [head]}, *_argument_deltas(arguments)):
                    yield event([{"index": 0, "delta": part, "finish_reason": None}])
            yield event([{"index": 0, "delta": {}, "finish_reason": finish}])
            if include_usage:
                yield event([], usage=usage)
            yield "data: [DONE]\n\n"
        finally:
            self.open_streams -= 1


def _argument_deltas(arguments: str) -> list[dict[str, Any]]:
    half = len(arguments) // 2
    parts = (arguments[:half], arguments[half:])
    return [{"tool_calls": [{"index": 0, "function": {"arguments": part}}]} for part in parts]


def _logprobs(words: list[str], top: int) -> list[dict[str, Any]]:
    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    return [{**entry(w, -0.1), "top_logprobs": [entry(w, -0.1 - k) for k in range(top)]} for w in words]


def _png_base64() -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 120, 200)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()
