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
from models.adapters.openai_tools import OpenAIToolsMixin
from models.spec import Deployment, ModelSpec

__all__ = ["CatalogChatHuggingFaceEndpoint", "build_huggingface_endpoint", "endpoint_options"]


def endpoint_options(options: dict[str, Any]) -> dict[str, Any]:
    """OpenAI-shaped call options as ``huggingface_hub``'s ``chat_completion`` takes them: a
    ``json_schema`` response format becomes TGI's JSON grammar (what ``ChatHuggingFace``'s own
    ``with_structured_output`` sends); everything else has the same name and shape.

    Example:
        >>> fmt = {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}
        >>> endpoint_options({"response_format": fmt})
        {'response_format': {'type': 'json_object', 'schema': {'type': 'object'}}}
    """
    fmt = options.get("response_format") or {}
    if fmt.get("type") != "json_schema":
        return options
    schema = (fmt.get("json_schema") or {}).get("schema") or {}
    return {**options, "response_format": {"type": "json_object", "schema": schema}}


class CatalogChatHuggingFaceEndpoint(CatalogChatMixin, OpenAIToolsMixin, ChatHuggingFace):
    """ChatHuggingFace over an endpoint, with catalog cost and ProviderError translation.

    Tools and structured output are bound in OpenAI's shape (:class:`OpenAIToolsMixin`: any number
    of tools with a ``tool_choice``, pydantic schemas for ``function_calling``) and translated for
    ``huggingface_hub`` at call time (:func:`endpoint_options`).
    """

    def _generate(
        self, messages: Any, stop: Any = None, run_manager: Any = None, stream: bool | None = None, **kwargs: Any
    ) -> Any:
        return super()._generate(messages, stop, run_manager, stream, **endpoint_options(kwargs))

    async def _agenerate(
        self, messages: Any, stop: Any = None, run_manager: Any = None, stream: bool | None = None, **kwargs: Any
    ) -> Any:
        return await super()._agenerate(messages, stop, run_manager, stream, **endpoint_options(kwargs))

    def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        yield from super()._stream(messages, stop, run_manager, **endpoint_options(kwargs))

    async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        async for chunk in super()._astream(messages, stop, run_manager, **endpoint_options(kwargs)):
            yield chunk


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
