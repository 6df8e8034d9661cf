"""One chat turn, independent of Streamlit: stream a reply and measure it.

The page calls :func:`stream_reply` and renders what it yields; the measurements (time to first
token, latency, tokens, cost, model, deployment) arrive in the :class:`TurnStats` it fills.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig

__all__ = ["TurnStats", "as_messages", "stream_reply"]


@dataclass
class TurnStats:
    """What one answer cost and how fast it came."""

    model: str = ""
    deployment: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    ttft_s: float | None = None
    latency_s: float = 0.0
    route_reason: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)
    citations: list[int] = field(default_factory=list)
    label: str = ""
    """Provenance label, e.g. ``AI-generated · smollm2-135m``."""
    flags: list[str] = field(default_factory=list)
    """Moderation notes: categories flagged, PII types masked."""
    metadata: dict[str, Any] = field(default_factory=dict)

    def caption(self) -> str:
        ttft = f"{self.ttft_s * 1000:.0f} ms" if self.ttft_s is not None else "–"
        return (f"{self.model} · {self.deployment} · {self.input_tokens}→{self.output_tokens} tokens · "
                f"first token {ttft} · {self.latency_s:.2f} s · ${self.cost_usd:.6f}")


def as_messages(history: list[dict[str, Any]]) -> list[BaseMessage]:
    """Streamlit history dicts (``role``, ``content``) → LangChain messages."""
    kinds = {"user": HumanMessage, "assistant": AIMessage}
    return [kinds[item["role"]](content=item["content"]) for item in history if item["role"] in kinds]


def stream_reply(model: Runnable, payload: Any, stats: TurnStats,
                 config: RunnableConfig | None = None) -> Iterator[str]:
    """Yield the reply's text pieces; fill ``stats`` as they come and when the stream ends.

    ``payload`` is what ``model`` takes: messages or ``{"messages", ...hints}`` for the assistant,
    ``{"question", "history"}`` for the RAG assistant (whose dict pieces are handled here).
    """
    started = time.perf_counter()
    total: AIMessageChunk | None = None
    for chunk in model.stream(payload, config):
        if isinstance(chunk, dict):  # the RAG chain streams dict pieces
            stats.sources = chunk.get("sources", stats.sources)
            stats.citations = chunk.get("citations", stats.citations)
            if "reply" in chunk:  # the model's metadata, after the answer
                reply = chunk["reply"]
                meta = AIMessageChunk(content="", response_metadata=reply["response_metadata"],
                                      usage_metadata=reply["usage_metadata"] or None)
                total = meta if total is None else total + meta
            chunk = chunk.get("answer")
            if not chunk:
                continue
            chunk = AIMessageChunk(content=chunk) if isinstance(chunk, str) else chunk
        total = chunk if total is None else total + chunk
        if chunk.text:
            if stats.ttft_s is None:
                stats.ttft_s = time.perf_counter() - started
            yield chunk.text
    stats.latency_s = time.perf_counter() - started
    if total is not None:
        _read_metadata(total, stats)


def _read_metadata(total: AIMessageChunk, stats: TurnStats) -> None:
    usage = total.usage_metadata or {}
    stats.input_tokens = usage.get("input_tokens", 0)
    stats.output_tokens = usage.get("output_tokens", 0)
    meta = total.response_metadata
    stats.cost_usd = float(meta.get("cost_usd", 0.0))
    stats.model = meta.get("modelyard_model", stats.model)
    stats.deployment = meta.get("deployment", stats.deployment)
    stats.route_reason = (meta.get("route") or {}).get("reason", "")
    stats.label = (meta.get("provenance") or {}).get("label", "")
    moderation = meta.get("moderation") or {}
    stats.flags = [f"{f['category']} ({f['action']})" for f in moderation.get("flags", [])]
    stats.flags += [f"{p['type']} masked as {p['placeholder']}" for p in moderation.get("pii", [])]
    stats.metadata = dict(meta)
