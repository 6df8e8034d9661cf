"""Named prompt templates from ``config/prompts/*.yaml``: a prompt, a model and parameters.

One file per prompt::

    # config/prompts/summarize.yaml
    description: Summarise a text in a few bullet points.
    model: auto                      # or a catalog name
    task: summarization              # routing hint for ``auto`` (optional)
    params: {temperature: 0.2, max_tokens: 300}
    messages:
      - {role: system, content: "You write short, faithful summaries."}
      - {role: user, content: "Summarise in {bullets} bullet points:\\n\\n{text}"}
    variables:                       # optional; without it every {variable} is required
      text: {description: The text to summarise}
      bullets: {default: 3}

``name`` defaults to the file's stem. Messages are LangChain f-string templates (``{{`` for a
literal brace) and become a ``ChatPromptTemplate``; :meth:`Prompt.chain` is
``template | router`` with the prompt's model, task and parameters as routing hints. A bad
file raises :class:`~core.errors.CatalogError` naming the file, the line and the field; the
library keeps the other prompts and reports the broken file in :attr:`PromptLibrary.errors`.

The loader lives in ``chains/`` because a prompt plus its model choice is a chain; nothing here
knows about HTTP, so the gateway, the UI and notebooks can share it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.prompts.string import get_template_variables
from langchain_core.runnables import Runnable
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import CatalogError, RequestError
from core.settings import config_dir
from core.yaml_locations import describe, dotted, line_of, parse_yaml

__all__ = [
    "Prompt",
    "PromptInputError",
    "PromptLibrary",
    "PromptMessage",
    "PromptSpec",
    "PromptVariable",
    "build_prompt",
    "load_prompt",
]

log = logging.getLogger(__name__)

_SUFFIXES = (".yaml", ".yml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PromptMessage(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)
    """An f-string template: ``{name}`` is a variable, ``{{`` a literal brace."""


class PromptVariable(_Strict):
    description: str = ""
    default: str | int | float | bool | None = None
    """Used when the caller does not send the variable; without one the variable is required."""


class PromptSpec(_Strict):
    """The schema of one prompt file."""

    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    """The API name (``POST /api/prompts/{name}``); default: the file's stem."""
    description: str = ""
    model: str = Field("auto", min_length=1)
    """A catalog model name, or ``auto`` to let the router choose."""
    task: str | None = None
    """Routing hint (``summarization``, ``translation``, ...) instead of the classifier's guess."""
    params: dict[str, Any] = {}
    """Call parameters by canonical name (``temperature``, ``max_tokens``, ...)."""
    messages: list[PromptMessage] = Field(min_length=1)
    variables: dict[str, PromptVariable] | None = None
    """Declared inputs; ``None`` = every variable the messages use, all required."""

    @field_validator("variables", mode="before")
    @classmethod
    def _bare_names(cls, value: Any) -> Any:
        """``variables: {text: }`` (no details) declares a required variable."""
        if isinstance(value, dict):
            return {name: {} if details is None else details for name, details in value.items()}
        return value


class PromptInputError(RequestError, ValueError):
    """The caller's variables do not fit the prompt: ``missing`` required ones or ``unknown`` ones.

    ``param`` is the first of them as a request field (``variables.text``).
    """

    def __init__(self, prompt: str, missing: list[str], unknown: list[str], accepted: list[str]):
        self.missing, self.unknown = missing, unknown
        problems = []
        if missing:
            problems.append(f"missing variable{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown variable{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
        super().__init__(
            f"prompt '{prompt}': {'; '.join(problems)} (it takes: {', '.join(accepted) or 'none'})",
            param=f"variables.{(missing or unknown)[0]}",
        )


@dataclass(frozen=True)
class Prompt:
    """One loaded prompt: its spec, its ``ChatPromptTemplate`` and its variables.

    Example:
        >>> prompt = load_prompt(Path("config/prompts/translate.yaml"))
        >>> prompt.inputs({"text": "Bonjour"})
        {'target': 'English', 'text': 'Bonjour'}
        >>> prompt.chain(RouterRunnable.from_config()).invoke(prompt.inputs({"text": "Bonjour"}))  # doctest: +SKIP
    """

    name: str
    spec: PromptSpec
    source: Path
    template: ChatPromptTemplate
    variables: dict[str, PromptVariable]
    _chains: dict[int, Runnable[Any, Any]] = field(default_factory=dict, compare=False, repr=False)

    def inputs(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The template's inputs: ``given`` over the defaults.

        Raises:
            PromptInputError: a required variable is missing or an unknown one was given.
        """
        unknown = sorted(set(given) - set(self.variables))
        missing = [name for name, var in self.variables.items() if var.default is None and name not in given]
        if missing or unknown:
            raise PromptInputError(self.name, missing, unknown, list(self.variables))
        values = {name: var.default for name, var in self.variables.items() if var.default is not None}
        values.update(given)
        return values

    def router_hints(self) -> dict[str, Any]:
        """What the router is told: the model (or ``auto``), the task and the parameters."""
        hints: dict[str, Any] = {"model": self.spec.model, "params": dict(self.spec.params)}
        if self.spec.task:
            hints["task"] = self.spec.task
        return hints

    def chain(self, router: Runnable[Any, Any]) -> Runnable[Any, Any]:
        """``template | router`` with this prompt's hints; built once per router."""
        built = self._chains.get(id(router))
        if built is None:
            built = self._chains[id(router)] = self.template | router.with_config(
                configurable=self.router_hints(), run_name=f"prompt:{self.name}"
            )
        return built

    def describe(self) -> dict[str, Any]:
        """The public view: name, description, model, task, params and variables."""
        return {
            "name": self.name,
            "description": self.spec.description,
            "model": self.spec.model,
            "task": self.spec.task,
            "params": self.spec.params,
            "variables": [
                {"name": name, "description": var.description, "required": var.default is None, "default": var.default}
                for name, var in self.variables.items()
            ],
        }


def load_prompt(path: Path) -> Prompt:
    """Read and validate one prompt file.

    Raises:
        CatalogError: unreadable file, invalid YAML, a wrong field, a template that cannot be
            parsed or that uses an undeclared variable (file, line and field named).
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read the prompt: {exc.strerror}", source=source) from exc
    root, data = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise CatalogError("expected a mapping with 'messages:' (and model, params, variables)", source=source, line=1)
    try:
        spec = PromptSpec.model_validate(data)
    except ValidationError as exc:
        message, loc = describe(exc, "accepted: name, description, model, task, params, messages, variables")
        raise CatalogError(message, source=source, line=line_of(root, loc), field=dotted(loc)) from exc
    return build_prompt(spec, spec.name or path.stem, path, root)


def build_prompt(spec: PromptSpec, name: str, source: Path, root: yaml.Node | None = None) -> Prompt:
    """The :class:`Prompt` of a validated ``spec`` (from a file, or a published service's version).

    Raises:
        CatalogError: a template that cannot be parsed or that uses an undeclared variable (with
            the line in ``root``, the parsed file, when there is one).

    Example:
        >>> spec = PromptSpec(messages=[{"role": "user", "content": "Say {word}"}])
        >>> build_prompt(spec, "say", Path("<service say v1>")).inputs({"word": "hi"})
        {'word': 'hi'}
    """
    variables = _variables(spec, root, str(source))
    template = ChatPromptTemplate.from_messages([(m.role, m.content) for m in spec.messages])
    return Prompt(name, spec, source, template, variables)


def _variables(spec: PromptSpec, root: yaml.Node | None, source: str) -> dict[str, PromptVariable]:
    """The declared variables, checked against the ones the messages use."""
    used: dict[str, int] = {}  # variable → first message using it
    for index, message in enumerate(spec.messages):
        loc: tuple[str | int, ...] = ("messages", index, "content")
        try:
            names = get_template_variables(message.content, "f-string")
        except ValueError as exc:
            raise CatalogError(
                f"not a valid template: {exc}", source=source, line=line_of(root, loc), field=dotted(loc)
            ) from exc
        for name in names:
            used.setdefault(name, index)
    if spec.variables is None:
        return {name: PromptVariable() for name in used}
    for name, index in used.items():
        if name not in spec.variables:
            loc = ("messages", index, "content")
            raise CatalogError(
                f"uses {{{name}}}, which is not declared under 'variables' "
                f"(declared: {', '.join(spec.variables) or 'none'})",
                source=source,
                line=line_of(root, loc),
                field=dotted(loc),
            )
    for name in spec.variables:
        if name not in used:
            loc = ("variables", name)
            raise CatalogError(
                "declared but no message uses it", source=source, line=line_of(root, loc), field=dotted(loc)
            )
    return dict(spec.variables)


class PromptLibrary:
    """Every prompt in a folder, reloaded when a file changes (checked at most every ``check_seconds``).

    Args:
        directory: the folder (default ``config/prompts``); missing = no prompts.
        check_seconds: how often :meth:`refresh` looks at the folder (``0`` = every call).

    Example:
        >>> library = PromptLibrary()
        >>> [p.name for p in library.prompts()]
        ['summarize', 'translate']
    """

    def __init__(self, directory: Path | None = None, check_seconds: float = 1.0):
        self.directory = directory or config_dir() / "prompts"
        self.check_seconds = check_seconds
        self.errors: dict[str, CatalogError] = {}
        """Broken files by file name, with the error that names the line and field."""
        self._prompts: dict[str, Prompt] = {}
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._checked = float("-inf")
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Reload if a file was added, removed or changed since the last load."""
        now = time.monotonic()
        if not force and now - self._checked < self.check_seconds:
            return
        self._checked = now
        signature = self._scan()
        if signature == self._signature and not force:
            return
        prompts: dict[str, Prompt] = {}
        errors: dict[str, CatalogError] = {}
        for file_name, _, _ in signature:
            try:
                prompt = load_prompt(self.directory / file_name)
            except CatalogError as exc:
                errors[file_name] = exc
                log.warning("prompt not loaded: %s", exc)
                continue
            if prompt.name in prompts:
                errors[file_name] = CatalogError(
                    f"prompt name '{prompt.name}' is already used by {prompts[prompt.name].source.name}",
                    source=str(prompt.source),
                    field="name",
                )
                continue
            prompts[prompt.name] = prompt
        self._prompts, self.errors, self._signature = prompts, errors, signature

    def get(self, name: str) -> Prompt:
        """The prompt called ``name``.

        Raises:
            KeyError: no such prompt (the message lists the known ones).
        """
        self.refresh()
        try:
            return self._prompts[name]
        except KeyError:
            raise KeyError(f"no prompt named '{name}'; known: {', '.join(sorted(self._prompts)) or 'none'}") from None

    def prompts(self) -> list[Prompt]:
        """Every loaded prompt, by name."""
        self.refresh()
        return [self._prompts[name] for name in sorted(self._prompts)]

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        try:
            entries = [e for e in os.scandir(self.directory) if e.name.endswith(_SUFFIXES) and e.is_file()]
        except OSError:
            return ()
        return tuple(sorted((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in entries))
