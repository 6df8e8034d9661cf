"""``llamacpp`` provider: a GGUF model run by llama.cpp (``xllamacpp``, a prebuilt wheel).

Choice: the engine runs **in this process** and serves llama.cpp's OpenAI-compatible HTTP API
on a free loopback port; the model is then called through the same ``ChatOpenAI`` adapter as
any hosted model. That gives streaming, usage, cancellation on disconnect and continuous
batching (``n_parallel`` slots) for free, keeps one code path for every OpenAI-compatible
engine, and — because the server lives in this process's threads — it cannot outlive us: no
orphan servers. Each weights file is loaded once per process (``lru_cache``) and released at
exit. The same engine on another machine (``llama-server``) is just an ``openai`` deployment.

Threads: the catalog's ``threads`` is an upper bound. llama.cpp's decode threads wait on each
other every token, so one thread that loses its core to another process (the Streamlit app, a
browser) stalls them all: on this 2-core machine two threads fell from 75 to ~5 tokens/s inside
the app while one thread held 47–50. :func:`engine_threads` therefore leaves one core to the rest
of the process and the machine (``MODELYARD_LLAMACPP_THREADS`` overrides it, for benchmarks).
"""

from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from core.errors import ProviderConnectionError
from models.adapters.base import identity
from models.adapters.openai import CatalogChatOpenAI
from models.availability import local_weights_path
from models.params import provider_names
from models.spec import Deployment, LocalSource, ModelSpec

__all__ = ["THREADS_ENV", "LlamaCppEngine", "build_llamacpp", "engine_threads", "llamacpp_engine"]

PARALLEL_SLOTS = 2
THREADS_ENV = "MODELYARD_LLAMACPP_THREADS"
"""Environment variable that fixes the thread count (benchmarks compare counts with it)."""


def engine_threads(requested: int, cores: int | None = None) -> int:
    """Threads for llama.cpp: at most ``requested``, leaving one of this process's cores free.

    Example:
        >>> engine_threads(2, cores=2), engine_threads(4, cores=8), engine_threads(8, cores=1)
        (1, 4, 1)
    """
    override = os.environ.get(THREADS_ENV, "").strip()
    if override:
        if not override.isdigit() or int(override) < 1:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, got {override!r}")
        return int(override)
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(requested, cores - 1))


@dataclass
class LlamaCppEngine:
    """A loaded GGUF model with its loopback OpenAI-compatible server."""

    path: Path
    server: Any
    base_url: str

    def close(self) -> None:
        self.server = None  # the C++ destructor stops the threads and frees the model


_engines_lock = threading.Lock()


@cache
def _load(path: str, n_ctx: int, threads: int) -> LlamaCppEngine:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_parallel = PARALLEL_SLOTS
    params.n_ctx = n_ctx * PARALLEL_SLOTS  # the context is split between the slots
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # a free port, chosen by the OS
    params.verbosity = -1
    server = xllamacpp.Server(params)
    engine = LlamaCppEngine(Path(path), server, server.listening_address.rstrip("/") + "/v1")
    atexit.register(engine.close)
    return engine


def llamacpp_engine(source: LocalSource) -> LlamaCppEngine:
    """The process-wide engine for ``source`` (loaded on first use)."""
    path = local_weights_path(source)
    if path is None:
        raise ProviderConnectionError(
            f"weights {source.file} not found (package {source.package})", provider="llamacpp"
        )
    with _engines_lock:
        return _load(str(path), source.n_ctx, engine_threads(source.threads))


def build_llamacpp(spec: ModelSpec, deployment: Deployment, params: dict[str, Any]) -> CatalogChatOpenAI:
    """``params`` are canonical values; llama.cpp's server takes OpenAI names."""
    assert spec.source is not None
    engine = llamacpp_engine(spec.source)
    return CatalogChatOpenAI(
        model=spec.name,
        base_url=engine.base_url,
        api_key="local",
        timeout=deployment.timeout,
        max_retries=0,
        stream_usage=True,
        metadata=identity(spec, deployment),
        **provider_names(spec, params),
    )
