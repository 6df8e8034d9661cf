"""``openai`` provider: any OpenAI-compatible server through ``ChatOpenAI``.

Retries are off (``max_retries=0``): the router owns retries, fallbacks and cooldowns, and a
hidden SDK retry would hide a failing deployment from its health record. Streams always ask
for a final usage chunk (``stream_usage=True``).
"""

from __future__ import annotations

import os
from typing import Any

from langchain_openai import ChatOpenAI

from models.adapters.base import CatalogChatMixin, identity
from models.params import provider_names
from models.spec import Deployment, ModelSpec

__all__ = ["CatalogChatOpenAI", "build_openai"]


class CatalogChatOpenAI(CatalogChatMixin, ChatOpenAI):
    """``ChatOpenAI`` with catalog cost and ProviderError translation."""


def build_openai(spec: ModelSpec, deployment: Deployment, params: dict[str, Any]) -> CatalogChatOpenAI:
    """``params`` are validated canonical values (see :mod:`models.params`)."""
    api_key = os.environ.get(deployment.api_key_env, "") if deployment.api_key_env else ""
    return CatalogChatOpenAI(
        model=deployment.model_id or spec.name,
        base_url=deployment.base_url,
        api_key=api_key or "not-needed",
        timeout=deployment.timeout,
        max_retries=0,
        stream_usage=True,
        metadata=identity(spec, deployment),
        **provider_names(spec, params),
    )
