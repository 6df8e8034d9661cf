"""Input screening of a conversation: block, mask terms, mask PII with the conversation's vault.

Only the user's **last** message can block the request (earlier turns were screened when they
were sent); ``mask`` terms are starred out in every user message; PII is replaced with
placeholders in every message — system, user, assistant and tool — because history carries PII
too. System messages come from the application and are not checked against the lexicon.

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

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from chains.moderation.messages import map_text, message_text
from chains.moderation.screen import Moderator
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
        is_user = isinstance(message, HumanMessage)
        if not is_user and not mask_pii:
            outcome.messages.append(message)
            continue

        def change(
            text: str, index: int = index, is_user: bool = is_user, is_system: bool = isinstance(message, SystemMessage)
        ) -> str:
            result = moderator.screen(text, policy, "input", find_pii=mask_pii, find_terms=is_user and not is_system)
            if index == last_user:
                _record(outcome, result.flags("input"), result.blocked_categories)
            masked, refs = result.masked(vault, mask_pii)
            for ref in refs:
                if ref["placeholder"] not in seen:
                    seen.add(ref["placeholder"])
                    outcome.pii.append(ref)
            return masked

        outcome.messages.append(map_text(message, change))
    outcome.categories = sorted({flag["category"] for flag in outcome.flags})
    return outcome


def _record(outcome: InputScreening, flags: list[dict[str, str]], blocked: list[str]) -> None:
    outcome.flags += flags
    outcome.blocked_categories += [c for c in blocked if c not in outcome.blocked_categories]


def last_user_text(messages: list[BaseMessage]) -> str:
    """The text of the last user message ("" when there is none)."""
    users = [m for m in messages if isinstance(m, HumanMessage)]
    return message_text(users[-1]) if users else ""
