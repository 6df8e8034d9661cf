"""One chat turn, independent of Streamlit: build the messages, stream a reply and measure it.

The page calls :func:`stream_reply` and renders what it yields; the measurements (time to first
token, latency, tokens, cost, model, deployment, route, images, sources, a knowledge-base
refusal, sentences no source supports, what moderation masked) arrive in the :class:`TurnStats`
it fills. Besides text it yields :class:`Stage` markers (``generating`` once the sources are in),
so the page can say what the turn is waiting for; placeholders the model invented are removed
(:class:`app.ui.chat_rules.PlaceholderFilter`). User images travel as OpenAI ``image_url``
blocks holding a ``data:`` URL, which is what the router's modality policy looks for and what
vision models accept.

Example:
    >>> stats = TurnStats()
    >>> text = "".join(stream_reply(assistant, [HumanMessage("Hi")], stats))  # doctest: +SKIP
    >>> stats.caption()                                                       # doctest: +SKIP
    'smollm2-135m · local · 12→9 tokens · first token 40 ms · 0.31 s · $0.000000'
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig

from app.ui import IMAGE_TYPES
from app.ui.chat_rules import PlaceholderFilter

__all__ = [
    "IMAGE_TYPES",
    "Stage",
    "TurnStats",
    "as_messages",
    "data_url",
    "image_blocks",
    "stream_reply",
    "user_content",
]


@dataclass(frozen=True)
class Stage:
    """A change of what the turn waits for: ``generating`` (sources retrieved, the answer is next)."""

    name: str


@dataclass
class TurnStats:
    """What one answer cost, how fast it came, and where it came from."""

    model: str = ""
    deployment: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    ttft_s: float | None = None
    latency_s: float = 0.0
    route_reason: str = ""
    route: dict[str, Any] = field(default_factory=dict)
    """The router's record (``request_id``, ``experiment``, ``arm``, ...); empty for a named model."""
    sources: list[dict[str, Any]] = field(default_factory=list)
    citations: list[int] = field(default_factory=list)
    label: str = ""
    """Provenance label, e.g. ``AI-generated · smollm2-135m``."""
    flags: list[str] = field(default_factory=list)
    """Moderation notes: categories flagged, PII types masked."""
    images: list[bytes | str] = field(default_factory=list)
    """Images in the answer: PNG bytes, or a URL when the provider returned one."""
    metadata: dict[str, Any] = field(default_factory=dict)
    refusal: dict[str, Any] | None = None
    """Set when the knowledge base had nothing relevant: threshold and best match (no model call)."""
    unsupported: list[str] = field(default_factory=list)
    """Answer sentences that no source supports (the RAG chain's citation check)."""
    masked: list[dict[str, str]] = field(default_factory=list)
    """PII masked in the user's message before it was sent: ``{"type", "placeholder"}``."""
    withheld: int = 0
    """Placeholders the model wrote itself, removed from the answer."""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Tools the support bot ran: ``{"name", "args", "result"}``."""
    blocked: bool = False
    """Moderation refused the turn: it is shown, but not sent again as history."""

    def caption(self) -> str:
        ttft = f"{self.ttft_s * 1000:.0f} ms" if self.ttft_s is not None else "–"
        return (
            f"{self.model} · {self.deployment} · {self.input_tokens}→{self.output_tokens} tokens · "
            f"first token {ttft} · {self.latency_s:.2f} s · ${self.cost_usd:.6f}"
        )


def data_url(data: bytes, mime_type: str) -> str:
    """``data:<mime>;base64,...`` for an uploaded file."""
    return f"data:{mime_type or 'application/octet-stream'};base64,{base64.b64encode(data).decode()}"


def user_content(text: str, image_urls: list[str]) -> str | list[str | dict[str, Any]]:
    """A user message's content: plain text, or a text block plus one ``image_url`` block per image."""
    if not image_urls:
        return text
    blocks: list[str | dict[str, Any]] = [{"type": "text", "text": text}]
    return blocks + [{"type": "image_url", "image_url": {"url": url}} for url in image_urls]


def as_messages(history: list[dict[str, Any]]) -> list[BaseMessage]:
    """Streamlit history dicts (``role``, ``content``, optional ``image_urls``) → LangChain messages.

    A turn moderation refused (``blocked``: the question and its refusal) is left out: moderation
    screens the whole history, so sending it again would refuse every later question.

    Example:
        >>> [m.content for m in as_messages([{"role": "user", "content": "bad", "blocked": True},
        ...                                  {"role": "assistant", "content": "refused", "blocked": True},
        ...                                  {"role": "user", "content": "hi"}])]
        ['hi']
    """
    messages: list[BaseMessage] = []
    for item in history:
        if item.get("blocked"):
            continue
        if item["role"] == "user":
            messages.append(HumanMessage(content=user_content(item["content"], item.get("image_urls", []))))
        elif item["role"] == "assistant":
            messages.append(AIMessage(content=item["content"]))
    return messages


def image_blocks(content: Any) -> list[bytes | str]:
    """The images in a message's content: standard ``image`` blocks (base64 or URL) or ``image_url`` ones."""
    if not isinstance(content, list):
        return []
    images: list[bytes | str] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "image":
            if part.get("base64"):
                images.append(base64.b64decode(part["base64"]))
            elif part.get("url"):
                images.append(str(part["url"]))
        elif part.get("type") == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if url:
                images.append(str(url))
    return images


def stream_reply(
    model: Runnable, payload: Any, stats: TurnStats, config: RunnableConfig | None = None
) -> Iterator[str | Stage]:
    """Yield the reply's text pieces (and :class:`Stage` markers); fill ``stats`` as they come and at the end.

    ``payload`` is what ``model`` takes: messages or ``{"messages", ...hints}`` for the assistant,
    ``{"question", "history"}`` for the RAG assistant (whose dict pieces are handled here).
    """
    started = time.perf_counter()
    total: AIMessageChunk | None = None
    scrub = PlaceholderFilter()
    for chunk in model.stream(payload, config):
        if isinstance(chunk, dict):  # the RAG chain streams dict pieces
            if "sources" in chunk:
                stats.sources = chunk["sources"]
                if stats.sources:
                    yield Stage("generating")
            stats.citations = chunk.get("citations", stats.citations)
            stats.unsupported = chunk.get("unsupported", stats.unsupported)
            stats.refusal = chunk.get("refusal", stats.refusal)
            stats.tool_calls = chunk.get("tool_calls", stats.tool_calls)
            if "reply" in chunk:  # the model's metadata, after the answer
                reply = chunk["reply"]
                meta = AIMessageChunk(
                    content="",
                    response_metadata=reply["response_metadata"],
                    usage_metadata=reply["usage_metadata"] or None,
                )
                total = meta if total is None else total + meta
            chunk = chunk.get("answer")
            if not chunk:
                continue
            chunk = AIMessageChunk(content=chunk) if isinstance(chunk, str) else chunk
        total = chunk if total is None else total + chunk
        if stats.ttft_s is None and (chunk.text or image_blocks(chunk.content)):
            stats.ttft_s = time.perf_counter() - started
        if chunk.text and (shown := scrub.feed(chunk.text)):
            yield shown
    if rest := scrub.finish():
        yield rest
    stats.withheld = scrub.removed
    stats.latency_s = time.perf_counter() - started
    if total is not None:
        _read_metadata(total, stats)


def _read_metadata(total: AIMessageChunk, stats: TurnStats) -> None:
    usage: dict[str, Any] = dict(total.usage_metadata or {})
    stats.input_tokens = usage.get("input_tokens", 0)
    stats.output_tokens = usage.get("output_tokens", 0)
    meta = total.response_metadata
    stats.cost_usd = float(meta.get("cost_usd", 0.0))
    stats.route = dict(meta.get("route") or {})
    stats.model = meta.get("modelyard_model") or stats.route.get("model") or stats.model
    stats.deployment = meta.get("deployment") or stats.route.get("deployment") or stats.deployment
    stats.route_reason = stats.route.get("reason", "")
    stats.label = (meta.get("provenance") or {}).get("label", "")
    moderation = meta.get("moderation") or {}
    stats.blocked = bool(moderation.get("blocked"))
    stats.flags = [f"{f['category']} ({f['action']})" for f in moderation.get("flags", [])]
    stats.flags += [f"{p['type']} masked as {p['placeholder']}" for p in moderation.get("pii", [])]
    if moderation.get("pii_masked"):
        stats.masked = [{"type": p["type"], "placeholder": p["placeholder"]} for p in moderation.get("pii", [])]
    stats.images = image_blocks(total.content)
    stats.metadata = dict(meta)
