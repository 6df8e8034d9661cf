"""Input screening of a conversation: block, mask terms, mask PII with the conversation's vault.

Only the user's **last** message, and the tool results that follow it (what the tools answered in
this turn), can block the request (earlier turns were screened when they were sent); ``mask``
terms are starred out in every user message and current tool result; PII is replaced with
placeholders in every message — system, user, assistant (tool-call arguments included) and tool —
because history carries PII too. System messages come from the application and are not checked
against the lexicon.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> from chains.moderation.screen import Moderator
    >>> from chains.moderation.vault import PiiVault
    >>> result = screen_messages(Moderator.from_config(), "default",
    ...                          [HumanMessage("mail me at ann@example.com")], PiiVault(), mask_pii=True)
    >>> result.messages[0].content, result.blocked_categories
    ('mail me at <EMAIL_1>', [])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

from chains.moderation.messages import map_text, message_text
from chains.moderation.screen import Moderator
from chains.moderation.tool_calls import mask_tool_calls
from chains.moderation.vault import PiiVault

__all__ = ["InputScreening", "screen_messages"]


@dataclass
class InputScreening:
    """The outcome of screening a conversation.

    Attributes:
        messages: what the model may see (terms and PII masked as the policy says).
        blocked_categories: categories that block the request (empty: go ahead).
        categories: every category hit in the last user message.
        flags: one record per hit in the last user message.
        pii: ``[{"type", "placeholder"}]`` for every PII value masked, each placeholder once.
    """

    messages: list[BaseMessage]
    blocked_categories: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    flags: list[dict[str, str]] = field(default_factory=list)
    pii: list[dict[str, str]] = field(default_factory=list)


def screen_messages(
    moderator: Moderator, policy: str, messages: list[BaseMessage], vault: PiiVault, mask_pii: bool
) -> InputScreening:
    """Screen ``messages`` under ``policy``; see the module docstring for what is checked where."""
    last_user = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
    outcome = InputScreening(messages=[])
    seen: set[str] = set()
    for index, message in enumerate(messages):
        current = index == last_user or (isinstance(message, ToolMessage) and index > last_user)
        screened = isinstance(message, HumanMessage) or current
        if not screened and not mask_pii:
            outcome.messages.append(message)
            continue

        def change(text: str, current: bool = current, screened: bool = screened, terms: bool = True) -> str:
            result = moderator.screen(text, policy, "input", find_pii=mask_pii, find_terms=screened and terms)
            if current and terms:
                _record(outcome, result.flags("input"), result.blocked_categories)
            masked, refs = result.masked(vault, mask_pii)
            for ref in refs:
                if ref["placeholder"] not in seen:
                    seen.add(ref["placeholder"])
                    outcome.pii.append(ref)
            return masked

        changed = map_text(message, change)
        if mask_pii:  # arguments of earlier tool calls carry PII too (no lexicon: the model wrote them)
            changed = mask_tool_calls(changed, lambda text: change(text, terms=False))
        outcome.messages.append(changed)
    outcome.categories = sorted({flag["category"] for flag in outcome.flags})
    return outcome


def _record(outcome: InputScreening, flags: list[dict[str, str]], blocked: list[str]) -> None:
    outcome.flags += flags
    outcome.blocked_categories += [c for c in blocked if c not in outcome.blocked_categories]


def last_user_text(messages: list[BaseMessage]) -> str:
    """The text of the last user message ("" when there is none)."""
    users = [m for m in messages if isinstance(m, HumanMessage)]
    return message_text(users[-1]) if users else ""
