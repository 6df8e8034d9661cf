"""Serve an ASGI app with uvicorn on a free loopback port, in a thread, for the length of a ``with``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from tests.support.upstream import free_port

__all__ = ["serving"]


@contextmanager
def serving(app: Any, startup_timeout: float = 120.0) -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:PORT``) of ``app`` served by uvicorn; stop on exit.

    Example:
        >>> with serving(create_app(knowledge=False)) as url:  # doctest: +SKIP
        ...     httpx.get(f"{url}/healthz")
    """
    from sse_starlette.sse import AppStatus

    # sse-starlette 1.8 (LangServe's streams) keeps one exit Event per process, bound to the event loop of
    # the first server that streamed: a later server in another thread would fail every stream with a 500
    AppStatus.should_exit_event = None
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, daemon=True, name=f"uvicorn-{port}")
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the app did not start on 127.0.0.1:{port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
