"""Output review: the lexicon on the model's answer, released to the user only once it passed.

:class:`AnswerReviewer` reviews a whole answer (``feed`` it once, then ``finish``) or a streamed
one, piece by piece. While streaming it holds back the last ``window`` characters, so a
lexicon term — even one still arriving, or spread out as ``k.i.l.l`` — is judged before any of
it is released: a blocked phrase never reaches the consumer. The window is the policy's
``stream_window`` raised to twice the longest lexicon term. Released text has ``mask`` terms
starred out and PII placeholders restored from the conversation's vault (a placeholder is never
cut in half).

Example:
    >>> from chains.moderation.screen import Moderator
    >>> reviewer = AnswerReviewer(Moderator.from_config(), "default")
    >>> shown = [reviewer.feed(p) for p in ["Step one: make a pi", "pe bomb with ", "nails"]]
    >>> shown, reviewer.finish(), reviewer.blocked_categories
    (['', '', ''], '', ['weapons'])
"""

from __future__ import annotations

from chains.moderation.lexicon import LexiconHit
from chains.moderation.screen import Moderator
from chains.moderation.vault import PiiVault

__all__ = ["AnswerReviewer"]

_PLACEHOLDER_MAX = 40  # longest placeholder we avoid cutting, e.g. "<IP_ADDRESS_12>"


class AnswerReviewer:
    """Reviews one answer under one policy.

    Args:
        moderator: lexicon and policies.
        policy: the policy's name.
        vault: the conversation's vault, to restore placeholders (``None``: nothing to restore).
        hold_all: release nothing before :meth:`finish` (used when a judge reviews the answer).

    Attributes:
        blocked_categories: categories whose ``block`` action stopped the answer.
        flags: one record per hit: ``{"stage": "output", "category", "action", "term"}``.
    """

    def __init__(self, moderator: Moderator, policy: str, vault: PiiVault | None = None, hold_all: bool = False):
        self.moderator = moderator
        self.policy_name = policy
        self.policy = moderator.policy(policy)
        self.vault = vault
        self.hold_all = hold_all
        self.window = max(self.policy.stream_window, 2 * moderator.lexicon.max_term_length)
        self.blocked_categories: list[str] = []
        self.flags: list[dict[str, str]] = []
        self._buffer = ""
        self._released = 0
        self._decided: set[tuple[int, int, str]] = set()
        self._masks: list[tuple[int, int]] = []

    @property
    def blocked(self) -> bool:
        return bool(self.blocked_categories)

    @property
    def categories(self) -> list[str]:
        return sorted({flag["category"] for flag in self.flags})

    @property
    def text(self) -> str:
        """Everything the model said so far (placeholders not restored)."""
        return self._buffer

    def feed(self, piece: str) -> str:
        """Add the next piece of the answer; return the text that may be shown now ("" if none)."""
        self._buffer += piece
        if self.blocked or self.hold_all:
            return ""
        return self._release(self._safe_end(len(self._buffer) - self.window))

    def finish(self) -> str:
        """The answer has ended: review and return whatever was held back."""
        if self.blocked:
            return ""
        return self._release(len(self._buffer))

    def block(self, category: str) -> None:
        """Stop the answer for a reason found elsewhere (e.g. the judge's verdict)."""
        self.blocked_categories.append(category)
        self.flags.append({"stage": "output", "category": category, "action": "block", "term": ""})

    def refusal(self) -> str:
        """The notice that replaces a blocked answer (or its withheld rest)."""
        return self.policy.refusal_text(self.policy_name, self.blocked_categories, stage="output")

    def _safe_end(self, end: int) -> int:
        """Move ``end`` back so that it does not cut a placeholder (``<EMAIL_1>``) in half."""
        if end <= self._released:
            return end
        opening = self._buffer.rfind("<", max(self._released, end - _PLACEHOLDER_MAX), end)
        if opening != -1 and ">" not in self._buffer[opening:end]:
            return opening
        return end

    def _release(self, end: int) -> str:
        if end <= self._released:
            return ""
        for hit in self._new_hits(end):
            self._decide(hit)
            end = max(end, hit.end)  # never release half of a term
        if self.blocked:
            return ""
        text = self._masked(self._released, end)
        self._released = end
        return self.vault.restore(text) if self.vault is not None else text

    def _new_hits(self, end: int) -> list[LexiconHit]:
        """Hits not yet decided that start before ``end`` (text after them is known by now)."""
        start = max(0, self._released - self.window - self.moderator.lexicon.window)
        hits = self.moderator.lexicon.scan(self._buffer[start:])
        return [
            LexiconHit(h.category, h.term, h.start + start, h.end + start)
            for h in hits
            if h.start + start < end and (h.start + start, h.end + start, h.category) not in self._decided
        ]

    def _decide(self, hit: LexiconHit) -> None:
        self._decided.add((hit.start, hit.end, hit.category))
        action = self.policy.action(hit.category, "output")
        self.flags.append({"stage": "output", "category": hit.category, "action": action, "term": hit.term})
        if action == "block" and hit.category not in self.blocked_categories:
            self.blocked_categories.append(hit.category)
        elif action == "mask":
            self._masks.append((hit.start, hit.end))

    def _masked(self, start: int, end: int) -> str:
        chars = list(self._buffer[start:end])
        for m_start, m_end in self._masks:
            for index in range(max(m_start, start), min(m_end, end)):
                chars[index - start] = "*"
        return "".join(chars)
