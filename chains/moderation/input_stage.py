"""Input screening of a conversation: block, mask terms, mask PII with the conversation's vault.

Every turn is screened, because a client may send any history: the user's last message and the
tool results that follow it (this turn) with the input rules, earlier user and tool turns with the
input rules too and earlier assistant turns with the output rules (their flags say ``stage:
"history"``). A ``block`` category anywhere blocks the request — a surface that shows a refused
exchange again (the chat page) leaves it out of the history it sends. ``mask`` terms are starred
out; PII is replaced with placeholders in every message — system, user, assistant (tool-call
arguments included) and tool. System messages come from the application and are not checked
against the lexicon.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> from chains.moderation.screen import Moderator, Stage
    >>> from chains.moderation.vault import PiiVault
    >>> result = screen_messages(Moderator.from_config(), "default",
    ...                          [HumanMessage("mail me at ann@example.com")], PiiVault(), mask_pii=True)
    >>> result.messages[0].content, result.blocked_categories
    ('mail me at <EMAIL_1>', [])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from chains.moderation.messages import map_text, message_text
from chains.moderation.screen import Moderator, Stage
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
        # the application's system prompt is not screened; the model's own turns by the output rules
        stage: Stage = "output" if isinstance(message, AIMessage) else "input"
        screened = not isinstance(message, SystemMessage)

        def change(
            text: str, current: bool = current, screened: bool = screened, stage: Stage = stage, terms: bool = True
        ) -> str:
            result = moderator.screen(text, policy, stage, find_pii=mask_pii, find_terms=screened and terms)
            if screened and terms:
                flags = result.flags(stage)
                if not current:  # an earlier turn: a client may send any history, so it is screened too
                    flags = [{**flag, "stage": "history"} for flag in flags]
                _record(outcome, flags, result.blocked_categories)
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
