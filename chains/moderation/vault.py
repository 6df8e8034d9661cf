"""Reversible PII placeholders, consistent within one conversation.

A :class:`PiiVault` belongs to one conversation. The first e-mail address it sees becomes
``<EMAIL_1>``, the next different one ``<EMAIL_2>``; the same value (however it is spaced or
cased) always gets the same placeholder, in every turn. :meth:`PiiVault.restore` puts the
original values back into text shown to the user. The vault holds raw PII in memory only.

Because numbering follows the order in which values appear, a vault rebuilt from the same
message history hands out the same placeholders — so replicas of a stateless server agree as
long as each request carries the conversation's history.

Example:
    >>> vault = PiiVault()
    >>> vault.placeholder("EMAIL", "Ann@Example.com")
    '<EMAIL_1>'
    >>> vault.placeholder("EMAIL", "ann@example.com")
    '<EMAIL_1>'
    >>> vault.restore("Write to <EMAIL_1>.")
    'Write to Ann@Example.com.'
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable

from chains.moderation.pii.spans import PiiSpan

__all__ = ["PLACEHOLDER", "PiiVault", "VaultStore"]

#: A placeholder as models tend to repeat it: ``<EMAIL_1>``, also ``< email_1 >``.
PLACEHOLDER = re.compile(r"<\s*([A-Za-z]+(?:_[A-Za-z]+)*)_(\d+)\s*>")


def _canonical(pii_type: str, value: str) -> str:
    """The identity of a value: case and separators do not make a new placeholder."""
    if pii_type in ("PHONE", "CREDIT_CARD", "CN_ID", "US_SSN"):
        digits = re.sub(r"[^0-9Xx]", "", value).upper()
        return digits[2:] if pii_type == "PHONE" and digits.startswith("86") and len(digits) == 13 else digits
    if pii_type == "IBAN":
        return value.replace(" ", "").upper()
    return " ".join(value.split()).casefold()


class PiiVault:
    """Placeholders ↔ original values for one conversation (thread-safe)."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._values: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def placeholder(self, pii_type: str, value: str) -> str:
        """The placeholder for ``value``, creating ``<TYPE_n>`` the first time it is seen."""
        key = (pii_type, _canonical(pii_type, value))
        with self._lock:
            if key not in self._by_value:
                self._counts[pii_type] = self._counts.get(pii_type, 0) + 1
                token = f"<{pii_type}_{self._counts[pii_type]}>"
                self._by_value[key] = token
                self._values[token] = value
            return self._by_value[key]

    def mask(self, text: str, spans: Iterable[PiiSpan]) -> tuple[str, list[dict[str, str]]]:
        """Replace each span of ``text`` with its placeholder.

        Returns:
            The masked text and ``[{"type", "placeholder"}]`` for each span, in order.
        """
        pieces, found, cursor = [], [], 0
        for span in sorted(spans, key=lambda s: s.start):
            token = self.placeholder(span.type, span.text)
            pieces += [text[cursor : span.start], token]
            found.append({"type": span.type, "placeholder": token})
            cursor = span.end
        pieces.append(text[cursor:])
        return "".join(pieces), found

    def restore(self, text: str) -> str:
        """Put original values back for every placeholder this vault issued; leave others alone."""

        def original(match: re.Match[str]) -> str:
            token = f"<{match.group(1).upper()}_{match.group(2)}>"
            return self._values.get(token, match.group())

        return PLACEHOLDER.sub(original, text)

    def __len__(self) -> int:
        return len(self._values)


class VaultStore:
    """The vaults of recent conversations, least recently used dropped past ``max_conversations``.

    Example:
        >>> store = VaultStore(max_conversations=2)
        >>> store.get("a") is store.get("a")
        True
    """

    def __init__(self, max_conversations: int = 1024):
        self.max_conversations = max_conversations
        self._vaults: OrderedDict[str, PiiVault] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conversation_id: str) -> PiiVault:
        """The vault of ``conversation_id`` (a new one the first time)."""
        with self._lock:
            vault = self._vaults.pop(conversation_id, None)
            if vault is None:
                vault = PiiVault()
            self._vaults[conversation_id] = vault
            while len(self._vaults) > self.max_conversations:
                self._vaults.popitem(last=False)
            return vault

    def drop(self, conversation_id: str) -> None:
        """Forget a conversation's vault (e.g. when the user deletes the conversation)."""
        with self._lock:
            self._vaults.pop(conversation_id, None)
