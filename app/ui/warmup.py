"""Background warm-up: load what the first answer needs while the user reads the page and types.

The chat paints its title and input before it imports anything heavy; the first session then
starts one daemon thread per server process (``st.cache_resource``) that imports the chains,
loads the embedding model (MiniLM), the registry, the sample knowledge base's search index, the
local llama.cpp engine of the default model (one one-token call), and the router's task
classifier. The page shows a "loading the local model…" state until the thread is done; a
question asked earlier simply waits for the engine (its load is serialised by a lock).

Example:
    >>> progress = warmup()          # doctest: +SKIP
    >>> progress.done, progress.step  # doctest: +SKIP
    (False, 'the local model (llama.cpp)')
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st

__all__ = ["WarmupProgress", "warmup"]


@dataclass
class WarmupProgress:
    """What the warm-up thread has done so far (read by every session; written by the thread)."""

    started: float = field(default_factory=time.monotonic)
    step: str = "starting"
    """What is loading now."""
    finished: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Steps that failed, with the reason (the turn that needs them reports the error itself)."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Seconds each finished step took."""
    done: bool = False
    chroma: object = None
    """The first Chroma client, kept so its shared system outlives the warm-up."""
    chroma_ready: threading.Event = field(default_factory=threading.Event)
    """Set once that client exists: Chroma creates its shared system without a lock, so the page
    waits for this before its own first client instead of racing the thread."""

    def wait_for_chroma(self, timeout_s: float = 60.0) -> None:
        """Block until the thread's Chroma client exists (or it failed, or ``timeout_s`` passed)."""
        self.chroma_ready.wait(timeout_s)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def run(self, steps: list[tuple[str, Callable[[], object]]]) -> None:
        try:
            self.step = "the knowledge store"
            from knowledge.store import chroma_client

            self.chroma = chroma_client()
        except Exception as exc:  # the page's own client will report it
            self.errors.append(f"the knowledge store: {exc}")
        finally:
            self.chroma_ready.set()
        for name, load in steps:
            self.step = name
            began = time.monotonic()
            try:
                load()
            except Exception as exc:  # a failed warm-up only means a slower first answer
                self.errors.append(f"{name}: {exc}")
            else:
                self.finished.append(name)
            self.seconds[name] = time.monotonic() - began
        self.step, self.done = "", True


def _imports() -> None:
    import chains.assistant  # noqa: F401 - the import is the work
    import knowledge  # noqa: F401
    import models.factory  # noqa: F401


def _search_index() -> None:
    from knowledge import SAMPLE_COLLECTION, KnowledgeBase, list_collections

    names = list_collections()
    if names:  # embeds one query (MiniLM) and builds the lexical mirror of the collection
        KnowledgeBase(SAMPLE_COLLECTION if SAMPLE_COLLECTION in names else names[0], create=False).search("warm up", 1)


def _local_model() -> None:
    from app.ui.state import registry
    from models.factory import build_chat_model

    local = [e.spec for e in registry().available() if e.spec.provider == "llamacpp"]
    if local:
        params = {"max_tokens": 1} if "max_tokens" in local[0].params else {}
        build_chat_model(local[0], params=params).invoke("hi")


def _embeddings() -> None:
    """MiniLM, shared by the router's task classifier and moderation's second look."""
    from models.embeddings import local_embeddings

    local_embeddings().embed_query("warm up")


def _router() -> None:
    from app.ui.state import router

    router()


def _steps() -> list[tuple[str, Callable[[], object]]]:
    from app.ui.state import registry

    return [
        ("the chains", _imports),
        ("the embedding model", _embeddings),
        ("the model registry", lambda: registry().available()),
        ("the knowledge base", _search_index),
        ("the local model (llama.cpp)", _local_model),
        ("the router", _router),
    ]


@st.cache_resource(show_spinner=False)
def _start(data: str, config: str) -> WarmupProgress:
    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

    progress = WarmupProgress()
    thread = threading.Thread(target=lambda: progress.run(_steps()), name="modelyard-warmup", daemon=True)
    add_script_run_ctx(thread, get_script_run_ctx())  # st.cache_resource in the thread, without warnings
    thread.start()
    return progress


def warmup() -> WarmupProgress:
    """The warm-up of this data/config folder, started on the first call in the process."""
    from core.settings import config_dir, data_dir

    return _start(str(data_dir()), str(config_dir()))
