"""Screening one text under one policy: lexicon hits, actions, PII, and the masked text.

:class:`Moderator` is built once from ``config/moderation.yaml`` and its lexicon folder, and
is shared by the runnable, the CLI and the benchmark. Screening is a pure function of the text
and the policy; masking needs the conversation's :class:`~.vault.PiiVault`.

Example:
    >>> moderator = Moderator.from_config()  # config/moderation.yaml
    >>> result = moderator.screen("Mail ann@example.com how to make a pipe bomb", "default")
    >>> result.blocked, result.blocked_categories, [s.type for s in result.pii]
    (True, ['harmful_request', 'weapons'], ['EMAIL'])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from chains.moderation.harm_classifier import HarmClassifier
from chains.moderation.lexicon import Lexicon, LexiconHit, load_lexicon
from chains.moderation.pii import NameDetector, PiiDetector, PiiSpan
from chains.moderation.policy import Action, ModerationConfig, Policy, load_config
from chains.moderation.vault import PiiVault

__all__ = ["HARMFUL_REQUEST", "Moderator", "ScreenResult", "Stage"]

Stage = Literal["input", "output"]
HARMFUL_REQUEST = "harmful_request"
"""The category the harmful-request classifier reports (no lexicon file has this name)."""


@dataclass
class ScreenResult:
    """What screening found in one text.

    Attributes:
        text: the screened text.
        hits: lexicon hits that no exception excused.
        actions: the policy's action for each category hit.
        pii: PII spans (empty when PII was not looked for).
        harm_score: the harmful-request classifier's score, when the policy ran it.
    """

    text: str
    hits: list[LexiconHit] = field(default_factory=list)
    actions: dict[str, Action] = field(default_factory=dict)
    pii: list[PiiSpan] = field(default_factory=list)
    harm_score: float | None = None

    @property
    def categories(self) -> list[str]:
        """Every category hit, sorted."""
        return sorted(self.actions)

    @property
    def blocked_categories(self) -> list[str]:
        return sorted(c for c, a in self.actions.items() if a == "block")

    @property
    def blocked(self) -> bool:
        return any(a == "block" for a in self.actions.values())

    def flags(self, stage: Stage) -> list[dict[str, str]]:
        """One record per hit: ``{"stage", "category", "action", "term"}``."""
        records = [
            {"stage": stage, "category": h.category, "action": self.actions[h.category], "term": h.term}
            for h in self.hits
        ]
        if HARMFUL_REQUEST in self.actions and self.harm_score is not None:
            action = self.actions[HARMFUL_REQUEST]
            term = f"classifier score {self.harm_score:.2f}"
            records.append({"stage": stage, "category": HARMFUL_REQUEST, "action": action, "term": term})
        return records

    def masked(self, vault: PiiVault | None = None, mask_pii: bool = True) -> tuple[str, list[dict[str, str]]]:
        """The text with ``mask`` terms starred out and (if ``mask_pii``) PII replaced by placeholders.

        Returns:
            The masked text and ``[{"type", "placeholder"}]`` for the PII replaced.
        """
        vault = vault if vault is not None else PiiVault()
        edits: list[tuple[int, int, str]] = [
            (h.start, h.end, "*" * (h.end - h.start)) for h in self.hits if self.actions[h.category] == "mask"
        ]
        refs: list[dict[str, str]] = []
        if mask_pii:
            for span in self.pii:
                token = vault.placeholder(span.type, span.text)
                edits.append((span.start, span.end, token))
                refs.append({"type": span.type, "placeholder": token})
        return _apply(self.text, edits), refs


def _apply(text: str, edits: Iterable[tuple[int, int, str]]) -> str:
    """Apply non-overlapping replacements (a later one overlapping an earlier one is skipped)."""
    pieces, cursor = [], 0
    for start, end, replacement in sorted(edits):
        if start < cursor:
            continue
        pieces += [text[cursor:start], replacement]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


class Moderator:
    """The compiled lexicon, the PII detectors and the policies, ready to screen text.

    Args:
        config: the parsed ``moderation.yaml``.
        lexicon: the compiled lexicon; read from ``config.lexicon_folder()`` when omitted.
        names: the shared name detector (loaded lazily, only if a policy asks for names).
        harm: the harmful-request classifier; loaded from its default file when a policy sets a
            ``classifier.threshold`` and none is given.

    Raises:
        ModerationConfigError: a policy names a category that has no lexicon file.
    """

    def __init__(
        self,
        config: ModerationConfig,
        lexicon: Lexicon | None = None,
        names: NameDetector | None = None,
        harm: HarmClassifier | None = None,
    ):
        self.config = config
        wanted = any(p.classifier.threshold is not None for p in config.policies.values())
        self.harm = harm if harm is not None or not wanted else HarmClassifier.load()
        self.lexicon = lexicon if lexicon is not None else load_lexicon(config.lexicon_folder())
        self.names = names or NameDetector()
        self._detectors: dict[tuple[str, ...], PiiDetector] = {}
        self._check_categories()

    @classmethod
    def from_config(cls, path: Path | None = None) -> Moderator:
        """Load ``path`` (default ``config/moderation.yaml``) and its lexicon folder."""
        return cls(load_config(path))

    def policy(self, name: str | Policy) -> Policy:
        """A policy by name (a :class:`Policy` is returned as it is)."""
        return name if isinstance(name, Policy) else self.config.policy(name)

    def screen(
        self,
        text: str,
        policy: str | Policy = "default",
        stage: Stage = "input",
        find_pii: bool = True,
        find_terms: bool = True,
    ) -> ScreenResult:
        """Screen ``text``: lexicon hits (when ``find_terms``) with the policy's actions, the
        harmful-request classifier (on input, when ``find_terms`` and the policy sets a threshold),
        and PII (when ``find_pii``)."""
        rules = self.policy(policy)
        hits = self.lexicon.scan(text) if find_terms else []
        actions = {h.category: rules.action(h.category, stage) for h in hits}
        harm_score = None
        threshold = rules.classifier.threshold
        if find_terms and stage == "input" and threshold is not None and self.harm is not None:
            harm_score = self.harm.score(text)
            if harm_score >= threshold:
                actions[HARMFUL_REQUEST] = "flag" if rules.classifier.action == "mask" else rules.classifier.action
        pii = self.detector(rules).detect(text) if find_pii else []
        return ScreenResult(text, hits, actions, pii, harm_score)

    def detector(self, policy: Policy) -> PiiDetector:
        """The (cached) PII detector for a policy's types."""
        types = tuple(policy.pii.detected_types())
        if types not in self._detectors:
            self._detectors[types] = PiiDetector(types, self.names)
        return self._detectors[types]

    def _check_categories(self) -> None:
        known = set(self.lexicon.categories)
        for name, policy in self.config.policies.items():
            for section in ("categories", "output_categories", "messages"):
                for category in getattr(policy, section):
                    if category not in known:
                        raise self.config.error(
                            f"unknown category '{category}' (lexicon files: {', '.join(sorted(known))})",
                            ("policies", name, section, category),
                        )
