"""The task classifier: which task of the taxonomy a prompt asks for, and why.

A prompt is first tried against the keyword rules of ``config/routing.yaml`` (code fences,
"translate … into French", "翻译", maths expressions, "画一张", refund/退货 …); the first
rule that matches decides. Otherwise the prompt is compared with each task's example
utterances (:class:`~routers.task_semantic.SemanticIndex`); the best task wins if its score
reaches the task's threshold. Below every threshold the answer is ``task=None``: take the
default route. Built with ``rules_only=True`` no model is loaded and only rules decide.

When the section names a fitted ``head`` (``config/routing.yaml`` does), a trained linear model
over MiniLM embeddings and n-grams (:class:`~routers.task_head.TaskHead`) replaces the nearest
examples: its task probability must reach the head's calibrated threshold for that task.

:func:`preferred_model` maps a task to the catalog model best suited to it.

Example:
    >>> classifier = TaskClassifier.from_config(rules_only=True)
    >>> classifier.classify("请把这句话翻译成英文").task
    'translation'
    >>> classifier.classify("hmm").task is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.embeddings import Embeddings

from core.errors import CatalogError
from core.settings import data_dir
from routers.task_config import TaskConfig, load_task_config, parse_task_config
from routers.task_head import TaskHead
from routers.task_rules import KeywordRules, RuleMatch
from routers.task_semantic import SemanticIndex
from routers.task_text import focus, normalise

if TYPE_CHECKING:
    from models.registry import ModelEntry

__all__ = ["TaskClassifier", "TaskDecision", "preferred_model"]

Method = Literal["rule", "semantic", "none"]

TaskScorer = SemanticIndex | TaskHead
"""What scores the prompts no rule decides: the trained head or nearest examples."""


@dataclass(frozen=True)
class TaskDecision:
    """The classifier's answer for one prompt.

    Attributes:
        task: a task of the taxonomy, or ``None`` for "no match → default route".
        score: 1.0 for a rule; the semantic score otherwise (the best one when ``task`` is None):
            a probability for the trained head, a similarity for nearest examples.
        method: ``rule``, ``semantic`` (trained head or nearest examples) or ``none``.
        reason: one line a person can read.
    """

    task: str | None
    score: float
    method: Method
    reason: str


class TaskClassifier:
    """Keyword rules first, then the trained head (or nearest examples). Build with :meth:`from_config`.

    Args:
        config: the validated ``task:`` section.
        index: the trained head or the nearest-example index, or ``None`` for a rules-only classifier.

    Example:
        >>> classifier = TaskClassifier.from_config()
        >>> decision = classifier.classify("Who painted the Sistine Chapel ceiling?")
        >>> decision.task, decision.method
        ('knowledge_qa', 'semantic')
    """

    def __init__(self, config: TaskConfig, index: TaskScorer | None = None):
        self.config = config
        self.rules = KeywordRules(config.rules)
        self.index = index

    @classmethod
    def from_config(
        cls,
        config: TaskConfig | Mapping[str, Any] | None = None,
        *,
        rules_only: bool = False,
        embeddings: Embeddings | None = None,
        cache_dir: Path | None = None,
    ) -> TaskClassifier:
        """A classifier for ``config`` (default: the ``task:`` section of ``config/routing.yaml``).

        Args:
            config: a :class:`TaskConfig`, the raw ``task:`` mapping, or ``None`` to read the file.
            rules_only: skip the embedding model; only keyword rules decide.
            embeddings: the encoder for the semantic match (default: the offline MiniLM).
            cache_dir: where example vectors are cached (default ``data/cache/routing``).

        Raises:
            CatalogError: the configuration is missing or invalid, or its head is unreadable or
                fitted for other tasks.
        """
        if config is None:
            config = load_task_config()
        elif not isinstance(config, TaskConfig):
            config = parse_task_config(config)
        if rules_only:
            return cls(config)
        if embeddings is None:  # loaded on the first prompt that needs it, not here
            from models.embeddings import LazyLocalEmbeddings

            embeddings = LazyLocalEmbeddings()
        head_path = config.head_path()
        if head_path is None:
            return cls(config, SemanticIndex(config, embeddings, cache_dir or data_dir("cache", "routing")))
        head = TaskHead.load(head_path, embeddings)
        if head.tasks != config.taxonomy:
            raise CatalogError(
                f"the head's tasks ({', '.join(head.tasks)}) are not the taxonomy ({', '.join(config.taxonomy)}): "
                "refit with bench/fit_task_head.py",
                source=str(head_path),
                field="task.head",
            )
        return cls(config, head)

    @property
    def taxonomy(self) -> list[str]:
        """The configured task names."""
        return self.config.taxonomy

    @property
    def rules_only(self) -> bool:
        """True when no semantic index is loaded."""
        return self.index is None

    def by_rules(self, text: str) -> TaskDecision | None:
        """The keyword rules' decision for ``text``, or ``None`` when no rule matches (no embedding).

        The router uses it to tell whether a prompt needs the embedding model at all.
        """
        return self._by_rule(focus(normalise(text), self.config.head_chars, self.config.tail_chars))

    def classify(self, text: str) -> TaskDecision:
        """The task of one prompt (one embedding call at most)."""
        return self.classify_batch([text])[0]

    def classify_batch(self, texts: Sequence[str]) -> list[TaskDecision]:
        """The task of each prompt; prompts no rule decides are embedded together in one call."""
        prepared = [focus(normalise(t), self.config.head_chars, self.config.tail_chars) for t in texts]
        decisions: list[TaskDecision | None] = [self._by_rule(t) for t in prepared]
        undecided = [i for i, d in enumerate(decisions) if d is None and prepared[i]]
        if self.index is not None and undecided:
            scores = self.index.scores([prepared[i] for i in undecided])
            for i, row in zip(undecided, scores, strict=True):
                decisions[i] = self._by_scores(dict(zip(self.index.tasks, row.tolist(), strict=True)))
        return [d or _no_match(p, self.rules_only) for d, p in zip(decisions, prepared, strict=True)]

    def scores(self, text: str) -> dict[str, float]:
        """Semantic score of every task for ``text`` (empty for a rules-only classifier)."""
        if self.index is None:
            return {}
        prepared = focus(normalise(text), self.config.head_chars, self.config.tail_chars)
        return dict(zip(self.index.tasks, self.index.scores([prepared])[0].tolist(), strict=True))

    def _by_rule(self, text: str) -> TaskDecision | None:
        found: RuleMatch | None = self.rules.match(text) if text else None
        if found is None:
            return None
        return TaskDecision(found.task, 1.0, "rule", f"rule '{found.rule}' matched “{found.snippet}”")

    def _by_scores(self, scores: dict[str, float]) -> TaskDecision:
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        (best, score), runner_up = ranked[0], ranked[1] if len(ranked) > 1 else None
        trained = isinstance(self.index, TaskHead)
        threshold = self.index.threshold(best) if isinstance(self.index, TaskHead) else self.config.threshold(best)
        if score < threshold:
            reason = f"no task reached its threshold (closest: {best} {score:.2f} < {threshold:.2f})"
            return TaskDecision(None, round(score, 4), "none", reason)
        next_best = f"; next {runner_up[0]} {runner_up[1]:.2f}" if runner_up else ""
        what = f"the task model rates {best} most likely" if trained else f"closest to the {best} examples"
        return TaskDecision(
            best,
            round(score, 4),
            "semantic",
            f"{what} ({score:.2f} ≥ {threshold:.2f}{next_best})",
        )


def _no_match(text: str, rules_only: bool) -> TaskDecision:
    if not text:
        return TaskDecision(None, 0.0, "none", "empty prompt")
    reason = "no rule matched (rules only)" if rules_only else "no task matched"
    return TaskDecision(None, 0.0, "none", reason)


def preferred_model(task: str | None, entries: Sequence[ModelEntry]) -> str | None:
    """The catalog model to prefer for ``task``.

    Among available models whose ``spec.tasks`` contains ``task``, the one with the highest
    ``quality`` (catalog order breaks ties); if none is tagged for it (or ``task`` is None),
    the first available model; ``None`` when nothing is available.

    Example:
        >>> from models.registry import Registry
        >>> preferred_model("code", [])  # nothing available
        >>> preferred_model("code", Registry().entries())  # depends on the API keys set  # doctest: +SKIP
        'gpt-4o-mini'
    """
    available = [e for e in entries if e.availability.available]
    capable = [e for e in available if task is not None and task in e.spec.tasks]
    if capable:
        return max(capable, key=lambda e: e.spec.quality).spec.name
    return available[0].spec.name if available else None
