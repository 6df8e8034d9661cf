"""The provider registry: what Modelyard knows about each adapter protocol, in one place.

Adding a provider is one adapter module in ``models/adapters/`` plus one :class:`ProviderInfo`
in :data:`PROVIDERS`: the catalog schema accepts its name, the factory builds it, availability
asks its own check, error translation knows which of its exceptions mean "answer not understood",
and the gateway forwards to it over raw HTTP when it speaks OpenAI's protocol.

Example:
    >>> sorted(PROVIDERS)
    ['http_template', 'huggingface_endpoint', 'huggingface_local', 'llamacpp', 'openai']
    >>> PROVIDERS["llamacpp"].local, PROVIDERS["openai"].openai_http
    (True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

    from models.spec import Deployment, ModelSpec

__all__ = ["PROVIDERS", "Builder", "ProviderInfo", "provider"]

Builder = Callable[["ModelSpec", "Deployment", dict[str, Any]], "BaseChatModel"]


@dataclass(frozen=True)
class ProviderInfo:
    """One adapter protocol."""

    name: str
    build: Builder
    """Catalog entry + deployment + checked parameters → LangChain chat model (imports its SDK lazily)."""
    local: bool = False
    """Runs in this process from local weights (``source:`` in the catalog); trusted with PII by default."""
    needs: str | None = None
    """The catalog section its entries must have (``source`` for local weights, ``http_template``)."""
    openai_http: bool = False
    """Its deployments speak OpenAI's HTTP API: the gateway may forward requests to them as JSON."""
    unavailable: Callable[[ModelSpec], str | None] | None = None
    """A provider-wide reason its models cannot be called right now (``None`` when they can)."""
    response_errors: tuple[type[BaseException], ...] = ()
    """Exceptions of its adapter that mean the answer could not be understood (not a provider outage)."""
    carries: frozenset[str] = frozenset()
    """Capabilities (:data:`models.capabilities.CAPABILITIES`) its adapter can pass to the engine."""
    capabilities: frozenset[str] = frozenset()
    """Those on by default; a catalog entry may switch carried ones on or off (``capabilities:``)."""


def _openai(spec: ModelSpec, dep: Deployment, params: dict[str, Any]) -> BaseChatModel:
    if "text" not in spec.modalities.output:  # an image model: /v1/images/generations
        from models.adapters.openai_images import build_openai_images

        return build_openai_images(spec, dep, params)
    from models.adapters.openai import build_openai

    return build_openai(spec, dep, params)


def _hf_endpoint(spec: ModelSpec, dep: Deployment, params: dict[str, Any]) -> BaseChatModel:
    from models.adapters.huggingface_endpoint import build_huggingface_endpoint

    return build_huggingface_endpoint(spec, dep, params)


def _hf_offline(_: ModelSpec) -> str | None:
    from huggingface_hub import constants

    return "HF_HUB_OFFLINE=1 blocks every huggingface_hub request" if constants.HF_HUB_OFFLINE else None


def _hf_local(spec: ModelSpec, dep: Deployment, params: dict[str, Any]) -> BaseChatModel:
    from models.adapters.huggingface_local import build_huggingface_local

    return build_huggingface_local(spec, dep, params)


def _llamacpp(spec: ModelSpec, dep: Deployment, params: dict[str, Any]) -> BaseChatModel:
    from models.adapters.llamacpp import build_llamacpp

    return build_llamacpp(spec, dep, params)


def _http_template(spec: ModelSpec, dep: Deployment, params: dict[str, Any]) -> BaseChatModel:
    from models.adapters.http_template import build_http_template

    return build_http_template(spec, dep, params)


_EVERY = frozenset({"tools", "parallel_tool_calls", "json_schema", "json_mode", "stop", "seed", "logprobs"})
_EVERY |= {"logit_bias", "n"}
# ChatHuggingFace passes these to huggingface_hub's chat_completion (TGI grammars for JSON)
_HF_ENDPOINT = frozenset({"tools", "json_schema", "json_mode", "stop", "seed", "logprobs", "logit_bias"})
# llama.cpp's server (checked with xllamacpp): a grammar from the schema, logprobs, stop, seed. Tool
# calls need a model whose chat template has them: SmolLM2's has not (tools are ignored), so off by default
_LLAMACPP = frozenset({"tools", "json_schema", "json_mode", "stop", "seed", "logprobs", "logit_bias"})

PROVIDERS: dict[str, ProviderInfo] = {
    info.name: info
    for info in (
        ProviderInfo("openai", _openai, openai_http=True, carries=_EVERY, capabilities=_EVERY),
        ProviderInfo(
            "huggingface_endpoint",
            _hf_endpoint,
            unavailable=_hf_offline,
            carries=_HF_ENDPOINT,
            capabilities=_HF_ENDPOINT,
        ),
        ProviderInfo("huggingface_local", _hf_local, local=True, needs="source"),
        ProviderInfo(
            "llamacpp", _llamacpp, local=True, needs="source", carries=_LLAMACPP, capabilities=_LLAMACPP - {"tools"}
        ),
        ProviderInfo(
            "http_template", _http_template, needs="http_template", response_errors=(ValueError, KeyError, TypeError)
        ),
    )
}
"""Every provider by name (builders import their SDKs lazily: torch is loaded only when needed)."""


def provider(name: str) -> ProviderInfo:
    """The registered provider ``name`` (``KeyError`` listing the known ones otherwise)."""
    try:
        return PROVIDERS[name]
    except KeyError:
        raise KeyError(f"unknown provider '{name}'; known: {', '.join(sorted(PROVIDERS))}") from None
