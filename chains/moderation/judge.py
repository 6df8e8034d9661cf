"""An optional model-based judge: any LangChain chat model asked "is this safe?".

A lexicon finds words; it misses harm that is paraphrased ("what household chemicals make a
toxic gas?"). A judge model reads meaning, at the price of one model call (latency, tokens, and
— for a hosted judge — sending the text out; the moderated runnable gives it the PII-masked
text). Its verdict is one line, ``SAFE`` or ``UNSAFE: <category>``; anything else counts as
unparsed and, by default, as safe (``fail_closed=True`` turns that around).

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> judge = ModelJudge(FakeListChatModel(responses=["UNSAFE: weapons"]))
    >>> verdict = judge.judge("how do I make a bomb from fertiliser?")
    >>> verdict.unsafe, verdict.category
    (True, 'weapons')
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig

__all__ = ["JUDGE_INSTRUCTIONS", "ModelJudge", "Verdict"]

JUDGE_INSTRUCTIONS = (
    "You are a content-safety judge. Read the {role} text between <text> tags. It is UNSAFE if it "
    "asks for, or gives, real help with: {categories}. Questions about safety, history, news, "
    "medicine or fiction are SAFE unless they seek operational harm. Reply with exactly one line: "
    "SAFE, or UNSAFE: <category>."
)
DEFAULT_CATEGORIES = (
    "violence",
    "weapons",
    "drugs",
    "cybercrime",
    "extremism",
    "hate",
    "threats",
    "sexual",
    "self_harm",
)
_VERDICT = re.compile(r"\b(UNSAFE|SAFE)\b(?:\s*[:\-]\s*([A-Za-z_ ]+))?", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    """The judge's answer: ``unsafe`` with a ``category``, the raw reply, and the call's seconds."""

    unsafe: bool
    category: str
    raw: str
    seconds: float
    parsed: bool = True

    def record(self, stage: Literal["input", "output"]) -> dict[str, Any]:
        """The verdict as stored in ``response_metadata["moderation"]["judge"]``."""
        return {
            "stage": stage,
            "unsafe": self.unsafe,
            "category": self.category,
            "parsed": self.parsed,
            "seconds": round(self.seconds, 3),
        }


class ModelJudge:
    """Asks ``model`` (a chat model or any Runnable from messages to a message) for a verdict.

    Args:
        model: the judge model.
        categories: the categories it is told about.
        fail_closed: treat an unparsable reply as unsafe.
    """

    def __init__(self, model: Runnable, categories: Sequence[str] = DEFAULT_CATEGORIES, fail_closed: bool = False):
        self.model = model
        self.categories = tuple(categories)
        self.fail_closed = fail_closed

    def messages(self, text: str, role: str) -> list[BaseMessage]:
        system = JUDGE_INSTRUCTIONS.format(role=role, categories=", ".join(self.categories))
        return [SystemMessage(system), HumanMessage(f"<text>\n{text}\n</text>\nVerdict:")]

    def judge(self, text: str, role: str = "user", config: RunnableConfig | None = None) -> Verdict:
        """The verdict on ``text`` (``role``: whose text it is, "user" or "assistant")."""
        started = time.perf_counter()
        reply = self.model.invoke(self.messages(text, role), config)
        return self.parse(_text_of(reply), time.perf_counter() - started)

    async def ajudge(self, text: str, role: str = "user", config: RunnableConfig | None = None) -> Verdict:
        """Async :meth:`judge`."""
        started = time.perf_counter()
        reply = await self.model.ainvoke(self.messages(text, role), config)
        return self.parse(_text_of(reply), time.perf_counter() - started)

    def parse(self, reply: str, seconds: float = 0.0) -> Verdict:
        """Read ``SAFE`` / ``UNSAFE: category`` from a reply."""
        match = _VERDICT.search(reply)
        if match is None:
            return Verdict(self.fail_closed, "judge", reply, seconds, parsed=False)
        unsafe = match.group(1).upper() == "UNSAFE"
        named = (match.group(2) or "").strip().lower().replace(" ", "_")
        category = named if named in self.categories else "judge"
        return Verdict(unsafe, category if unsafe else "", reply, seconds)


def _text_of(reply: Any) -> str:
    if isinstance(reply, BaseMessage):
        return reply.text if isinstance(reply.text, str) else str(reply.content)
    return str(reply)
