"""Catalog entry → LangChain chat model: one builder per provider protocol.

Example:
    >>> from models.registry import Registry
    >>> entry = Registry().get("smollm2-135m")
    >>> chat = build_chat_model(entry.spec)          # first deployment
    >>> chat.invoke("Say hello").content             # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from core.errors import RegistryError
from models.params import canonical_values
from models.providers import PROVIDERS, Builder
from models.spec import ModelSpec

__all__ = ["BUILDERS", "build_chat_model"]


BUILDERS: dict[str, Builder] = {name: info.build for name, info in PROVIDERS.items()}
"""Provider name → builder (from the provider registry, :mod:`models.providers`)."""


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
