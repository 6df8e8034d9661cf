"""The ``task:`` section of ``config/routing.yaml``: taxonomy, example utterances, thresholds, rules.

The section is self-contained: :func:`load_task_config` reads only the ``task`` key, so other
sections of the file (policies, fallbacks, experiments) never affect it.

Example:
    >>> cfg = TaskConfig.model_validate({"tasks": {"math": {"examples": ["What is 2 + 2?"]}}})
    >>> cfg.taxonomy, cfg.threshold("math")
    (['math'], 0.4)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import CatalogError
from core.settings import config_dir

__all__ = ["TaskConfig", "TaskRule", "TaskSpec", "load_task_config", "parse_task_config"]

RULE_FLAGS = re.MULTILINE | re.ASCII
"""How rule patterns are compiled: ``^``/``$`` at line boundaries, and ``\\b``, ``\\w``, ``\\d``,
``\\s`` ASCII-only — so ``\\bcss\\b`` is found in "CSS怎么…" (a Chinese character is not a word
character). Patterns are matched against lower-cased text (faster than ``re.IGNORECASE``), so
they must be written in lower case; :class:`TaskRule` rejects upper-case letters."""


_UPPER_CASE_LITERAL = re.compile(r"(?<!\\)[A-Z]")
"""An upper-case letter that is not an escape such as ``\\A``, ``\\Z``, ``\\S`` or ``\\W``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskSpec(_Strict):
    """One task of the taxonomy."""

    description: str = ""
    """What the task covers, in words (shown by tools, not used for matching)."""
    examples: list[str] = Field(min_length=1)
    """Typical prompts, in every language the classifier should understand."""
    threshold: float | None = Field(None, ge=0, le=1)
    """Minimum semantic score for this task; ``None`` uses ``default_threshold``."""


class TaskRule(_Strict):
    """A keyword rule: if any keyword or pattern is found in the prompt, the prompt is ``task``."""

    name: str = Field(min_length=1)
    """Shown in the decision's reason."""
    task: str
    """The task this rule decides."""
    keywords: list[str] = []
    """Literal strings in lower case. One that starts (ends) with an ASCII letter or digit must
    start (end) on a word boundary; Chinese keywords match anywhere. Cheaper than patterns."""
    patterns: list[str] = []
    """Python regular expressions in lower case, compiled with :data:`RULE_FLAGS`."""

    @model_validator(mode="after")
    def _something_to_match(self) -> TaskRule:
        if not self.keywords and not self.patterns:
            raise ValueError(f"rule '{self.name}' needs keywords or patterns")
        return self

    @field_validator("keywords")
    @classmethod
    def _keywords_lower_case(cls, keywords: list[str]) -> list[str]:
        for keyword in keywords:
            if not keyword or keyword != keyword.lower():
                raise ValueError(
                    f"keyword {keyword!r} must be non-empty and lower case (prompts are lower-cased before matching)"
                )
        return keywords

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if _UPPER_CASE_LITERAL.search(pattern):
                raise ValueError(
                    f"pattern {pattern!r} has upper-case letters; prompts are lower-cased "
                    "before matching, so write patterns in lower case"
                )
            try:
                re.compile(pattern, RULE_FLAGS)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
        return patterns


class TaskConfig(_Strict):
    """Settings of the task classifier."""

    default_threshold: float = Field(0.4, ge=0, le=1)
    """Minimum semantic score for a task without its own ``threshold``."""
    top_k: int = Field(3, ge=1)
    """A task's score is the mean similarity of its ``top_k`` nearest examples."""
    lexical_weight_cjk: float = Field(0.75, ge=0, le=1)
    """Share of the character n-gram similarity in the score of Chinese/Japanese text."""
    lexical_weight_latin: float = Field(0.25, ge=0, le=1)
    """Share of the word similarity in the score of Latin-script text."""
    head_chars: int = Field(400, ge=1)
    """Characters read from the start of a long prompt."""
    tail_chars: int = Field(200, ge=0)
    """Characters read from the end of a long prompt (instructions often close a pasted text)."""
    head: str | None = None
    """A fitted task head (``.npz`` written by ``bench/fit_task_head.py``; a relative path is read
    from ``routers/data/``). When set it replaces the nearest-example match, its own calibrated
    thresholds replace ``default_threshold``/``threshold`` and ``top_k``/``lexical_weight_*`` are
    unused; its tasks must be the taxonomy. ``None``: nearest examples."""
    tasks: dict[str, TaskSpec] = Field(min_length=1)
    """The taxonomy, in order: task name → examples and threshold."""
    rules: list[TaskRule] = []
    """Keyword rules, tried in order before the semantic match."""

    @model_validator(mode="after")
    def _rules_name_known_tasks(self) -> TaskConfig:
        for i, rule in enumerate(self.rules):
            if rule.task not in self.tasks:
                raise ValueError(
                    f"rules[{i}] ('{rule.name}') names unknown task '{rule.task}'; tasks: {', '.join(self.tasks)}"
                )
        return self

    def head_path(self) -> Path | None:
        """Where the fitted head is read from, or ``None`` for nearest examples."""
        if self.head is None:
            return None
        path = Path(self.head)
        return path if path.is_absolute() else Path(__file__).resolve().parent / "data" / path

    @property
    def taxonomy(self) -> list[str]:
        """Task names in configuration order."""
        return list(self.tasks)

    def threshold(self, task: str) -> float:
        """The minimum semantic score for ``task``."""
        own = self.tasks[task].threshold
        return self.default_threshold if own is None else own


def parse_task_config(data: Mapping[str, Any], source: str = "<task config>") -> TaskConfig:
    """Validate a ``task:`` section given as a mapping; errors name the source and field.

    Raises:
        CatalogError: the section is invalid.
    """
    try:
        return TaskConfig.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(["task", *(str(p) for p in first["loc"])])
        raise CatalogError(first["msg"].removeprefix("Value error, "), source=source, field=field) from exc


def load_task_config(path: Path | None = None) -> TaskConfig:
    """Read the ``task:`` section of ``routing.yaml`` (default: ``config_dir()/routing.yaml``).

    Raises:
        CatalogError: the file is missing, is not YAML, has no ``task`` section, or is invalid.
    """
    path = path or config_dir() / "routing.yaml"
    if not path.exists():
        raise CatalogError("routing configuration not found", source=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise CatalogError(f"invalid YAML: {exc.problem}", source=str(path), line=line) from exc
    section = data.get("task") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise CatalogError("no 'task' section", source=str(path), field="task")
    return parse_task_config(section, source=str(path))
