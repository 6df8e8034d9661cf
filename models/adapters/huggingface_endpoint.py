"""``huggingface_endpoint`` provider: Hugging Face Inference (or any TGI server).

``HuggingFaceEndpoint`` + ``ChatHuggingFace`` from langchain-huggingface. ``ChatHuggingFace``
calls the endpoint's OpenAI-style chat route (``/v1/chat/completions``) through
``huggingface_hub``'s ``InferenceClient`` and reports usage when the server does.
"""

from __future__ import annotations

import math
import os
from typing import Any

from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint

from models.adapters.base import CatalogChatMixin, identity
from models.spec import Deployment, ModelSpec

__all__ = ["CatalogChatHuggingFaceEndpoint", "build_huggingface_endpoint"]


class CatalogChatHuggingFaceEndpoint(CatalogChatMixin, ChatHuggingFace):
    """ChatHuggingFace over an endpoint, with catalog cost and ProviderError translation."""


def build_huggingface_endpoint(
    spec: ModelSpec, deployment: Deployment, params: dict[str, Any]
) -> CatalogChatHuggingFaceEndpoint:
    """``params`` are canonical values (``temperature``, ``max_tokens``, ``top_p``)."""
    token = os.environ.get(deployment.api_key_env, "") if deployment.api_key_env else ""
    target = {"endpoint_url": deployment.base_url} if deployment.base_url else {"repo_id": deployment.model_id}
    llm = HuggingFaceEndpoint(
        **target,
        task="text-generation",
        huggingfacehub_api_token=token or None,
        max_new_tokens=int(params.get("max_tokens") or 256),
        temperature=params.get("temperature"),
        timeout=math.ceil(deployment.timeout),  # whole seconds
        server_kwargs={},
    )
    return CatalogChatHuggingFaceEndpoint(
        llm=llm,
        model_id=deployment.model_id or spec.name,
        max_tokens=params.get("max_tokens"),
        temperature=params.get("temperature"),
        top_p=params.get("top_p"),
        stream_usage=True,
        metadata=identity(spec, deployment),
    )
