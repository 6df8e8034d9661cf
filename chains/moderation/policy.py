"""Moderation policies per surface or route, read from ``config/moderation.yaml``.

A policy says, per lexicon category, whether a hit blocks the request (``block``), is starred
out (``mask``) or only recorded (``flag``); which PII types are masked before an untrusted model
sees them; whether a model judge reviews input or output; and what the refusals say. A policy
may ``extends:`` another and change only what differs (mappings are merged, lists replaced).

A bad file raises :class:`~.errors.ModerationConfigError` naming the file, line and field::

    config/moderation.yaml:12, field 'policies.support.categories.violence': Input should be
    'block', 'mask' or 'flag' (got 'deny')

Example:
    >>> config = parse_config("policies: {default: {categories: {weapons: block}}}")
    >>> config.policy("default").action("weapons"), config.policy("default").action("violence")
    ('block', 'flag')
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from chains.moderation.errors import ModerationConfigError
from core.settings import config_dir
from core.yaml_locations import describe, parse_yaml
from core.yaml_locations import dotted as _dotted
from core.yaml_locations import line_of as _line_of

__all__ = [
    "Action",
    "ClassifierPolicy",
    "JudgePolicy",
    "ModerationConfig",
    "PiiPolicy",
    "Policy",
    "config_path",
    "load_config",
    "parse_config",
]

Action = Literal["block", "mask", "flag"]
PiiType = Literal["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "CN_ID", "US_SSN", "ADDRESS", "PERSON"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PiiPolicy(_Strict):
    """What PII is masked, and for whom."""

    mask: bool = True
    """Replace PII with ``<TYPE_n>`` placeholders before an untrusted (hosted) model sees it."""
    types: list[PiiType] = ["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "CN_ID", "US_SSN", "ADDRESS"]
    """Types to detect. ``PERSON`` is added by ``names``."""
    names: bool = False
    """Also find person names (presidio + spaCy; jieba for Chinese): ~100 ms per 2 KB of text."""
    mask_for_trusted: bool = False
    """Mask even for models marked ``trusted: true`` in the catalog."""

    def detected_types(self) -> list[str]:
        detected: list[str] = list(self.types)
        return detected + (["PERSON"] if self.names and "PERSON" not in self.types else [])


class ClassifierPolicy(_Strict):
    """The trained harmful-request classifier (:mod:`~chains.moderation.harm_classifier`) as a step."""

    threshold: float | None = Field(None, ge=0, le=1)
    """Score at which the user's message counts as a ``harmful_request``; ``None`` turns the step off."""
    action: Action = "block"
    """What a score at or above ``threshold`` does (``mask`` acts as ``flag``: there is no term to star)."""


class JudgePolicy(_Strict):
    """Where the optional model judge is asked for a verdict."""

    input: bool = False
    """Ask the judge about the user's last message before the model is called."""
    output: bool = False
    """Ask the judge about the answer (a streamed answer is then held back until it is judged)."""


class Policy(_Strict):
    """One surface's or route's moderation rules."""

    description: str = ""
    extends: str | None = None
    """Name of the policy this one starts from."""
    categories: dict[str, Action] = {}
    """Action per lexicon category."""
    default_action: Action = "flag"
    """Action for categories the policy does not list."""
    output_categories: dict[str, Action] = {}
    """Overrides of ``categories`` for the model's answer."""
    on_block: Literal["refuse", "raise"] = "refuse"
    """``refuse``: answer with ``refusal``; ``raise``: raise ``ModerationBlocked``."""
    refusal: str = (
        "Sorry, I can't help with that request: it was blocked by the {policy} content policy ({categories})."
    )
    """Answer to a blocked request; ``{policy}`` and ``{categories}`` are filled in."""
    output_refusal: str = "[The rest of this answer was withheld by the {policy} content policy ({categories}).]"
    """Replaces an answer (or the rest of a streamed one) that fails output review."""
    messages: dict[str, str] = {}
    """Extra sentence per category added to a refusal (e.g. where to find help for ``self_harm``)."""
    pii: PiiPolicy = PiiPolicy()
    classifier: ClassifierPolicy = ClassifierPolicy()
    """The harmful-request classifier on the user's input (off unless a threshold is set)."""
    judge: JudgePolicy = JudgePolicy()
    stream_window: int = Field(24, ge=0)
    """Characters of a streamed answer held back for review; raised to the longest lexicon term."""

    def refusal_text(self, name: str, categories: list[str], stage: Literal["input", "output"] = "input") -> str:
        """The refusal for ``categories``, with their extra ``messages``."""
        template = self.refusal if stage == "input" else self.output_refusal
        text = template.format(policy=name, categories=", ".join(categories))
        extra = [self.messages[c] for c in categories if c in self.messages]
        return " ".join([text, *extra])

    def action(self, category: str, stage: Literal["input", "output"] = "input") -> Action:
        """The action for a hit in ``category`` on the input or on the output."""
        if stage == "output" and category in self.output_categories:
            return self.output_categories[category]
        return self.categories.get(category, self.default_action)


class ModerationConfig(_Strict):
    """The whole ``moderation.yaml``."""

    lexicons: str = "moderation"
    """Folder of ``<category>.txt`` files and ``exceptions.yaml``, relative to the config file."""
    policies: dict[str, Policy] = Field(min_length=1)
    _source: str = PrivateAttr("<moderation config>")
    _root: Any = PrivateAttr(None)

    def policy(self, name: str) -> Policy:
        """The policy called ``name``.

        Raises:
            ModerationConfigError: no such policy.
        """
        try:
            return self.policies[name]
        except KeyError:
            raise ModerationConfigError(
                f"no policy '{name}' (defined: {', '.join(self.policies)})", source=self._source, field="policies"
            ) from None

    def lexicon_folder(self) -> Path:
        base = Path(self._source).parent if not self._source.startswith("<") else config_dir()
        return base / self.lexicons

    def error(self, message: str, location: tuple[Any, ...]) -> ModerationConfigError:
        """A :class:`ModerationConfigError` pointing at ``location`` in the file."""
        return ModerationConfigError(
            message, source=self._source, line=_line_of(self._root, location), field=_dotted(location)
        )


def config_path() -> Path:
    """``moderation.yaml`` in the configuration folder."""
    return config_dir() / "moderation.yaml"


def load_config(path: Path | None = None) -> ModerationConfig:
    """Load and validate a moderation config file (default: :func:`config_path`)."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModerationConfigError(f"cannot read the moderation config: {exc.strerror}", source=str(path)) from exc
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "<moderation config>") -> ModerationConfig:
    """Validate moderation YAML text; errors carry ``source``, line and field."""
    root, data = parse_yaml(text, source, ModerationConfigError)
    if not isinstance(data, dict) or not isinstance(data.get("policies"), dict):
        raise ModerationConfigError(
            "expected a mapping with a 'policies:' mapping", source=source, line=1, field="policies"
        )
    data["policies"] = _resolve_extends(data["policies"], root, source)
    try:
        config = ModerationConfig.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, root, source) from exc
    config._source, config._root = source, root
    return config


def _resolve_extends(policies: dict[str, Any], root: Any, source: str) -> dict[str, Any]:
    """Merge each policy over the policy it ``extends`` (recursively, mappings deep-merged)."""
    resolved: dict[str, Any] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> dict[str, Any]:
        if name in resolved:
            return resolved[name]
        raw = policies[name] or {}
        if not isinstance(raw, dict):
            raise ModerationConfigError(
                "a policy must be a mapping",
                source=source,
                line=_line_of(root, ("policies", name)),
                field=f"policies.{name}",
            )
        parent = raw.get("extends")
        merged = dict(raw)
        if parent is not None:
            location = ("policies", name, "extends")
            if parent not in policies:
                raise ModerationConfigError(
                    f"extends unknown policy '{parent}'",
                    source=source,
                    line=_line_of(root, location),
                    field=_dotted(location),
                )
            if parent in chain:
                raise ModerationConfigError(
                    f"circular extends: {' -> '.join(chain + (parent,))}",
                    source=source,
                    line=_line_of(root, location),
                    field=_dotted(location),
                )
            merged = _deep_merge(resolve(parent, chain + (parent,)), raw)
        resolved[name] = merged
        return merged

    return {name: resolve(name, (name,)) for name in policies}


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _validation_error(exc: ValidationError, root: Any, source: str) -> ModerationConfigError:
    message, loc = describe(exc, "check its spelling against chains/moderation/policy.py")
    return ModerationConfigError(message, source=source, line=_line_of(root, loc), field=_dotted(loc))
