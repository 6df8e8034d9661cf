"""Catalog entry → LangChain chat model: one builder per provider protocol.

Example:
    >>> from models.registry import Registry
    >>> entry = Registry().get("smollm2-135m-llamacpp")
    >>> chat = build_chat_model(entry.spec)          # first deployment
    >>> chat.invoke("Say hello").content             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from core.errors import RegistryError
from models.params import canonical_values
from models.spec import Deployment, ModelSpec

__all__ = ["BUILDERS", "build_chat_model"]

Builder = Callable[[ModelSpec, Deployment, dict[str, Any]], BaseChatModel]


def _openai(spec: ModelSpec, dep: Deployment, params: dict[str, Any]) -> BaseChatModel:
    if "text" not in spec.modalities.output:  # an image model: /v1/images/generations
        from models.adapters.openai_images import build_openai_images

        return build_openai_images(spec, dep, params)
    from models.adapters.openai import build_openai

    return build_openai(spec, dep, params)


def _hf_endpoint(spec: ModelSpec, dep: Deployment, params: dict[str, Any]) -> BaseChatModel:
    from models.adapters.huggingface_endpoint import build_huggingface_endpoint

    return build_huggingface_endpoint(spec, dep, params)


def _hf_local(spec: ModelSpec, dep: Deployment, params: dict[str, Any]) -> BaseChatModel:
    from models.adapters.huggingface_local import build_huggingface_local

    return build_huggingface_local(spec, dep, params)


def _llamacpp(spec: ModelSpec, dep: Deployment, params: dict[str, Any]) -> BaseChatModel:
    from models.adapters.llamacpp import build_llamacpp

    return build_llamacpp(spec, dep, params)


def _http_template(spec: ModelSpec, dep: Deployment, params: dict[str, Any]) -> BaseChatModel:
    from models.adapters.http_template import build_http_template

    return build_http_template(spec, dep, params)


# Builders import their SDKs lazily: loading torch for a hosted-only process would cost seconds.
BUILDERS: dict[str, Builder] = {
    "openai": _openai,
    "huggingface_endpoint": _hf_endpoint,
    "huggingface_local": _hf_local,
    "llamacpp": _llamacpp,
    "http_template": _http_template,
}


def build_chat_model(
    spec: ModelSpec, deployment: str | None = None, params: dict[str, Any] | None = None
) -> BaseChatModel:
    """A chat model for ``spec`` on ``deployment`` (default: the first), with checked params.

    Raises:
        ParameterError: a parameter is unknown or out of range.
        RegistryError: the deployment does not exist.
    """
    try:
        dep = spec.deployment(deployment) if deployment else spec.deployments[0]
    except KeyError as exc:
        raise RegistryError(str(exc.args[0])) from exc
    return BUILDERS[spec.provider](spec, dep, canonical_values(spec, params))
