"""``openai`` provider, image-output models: ``/v1/images/generations`` as a chat model.

A catalog entry with ``modalities.output: [image]`` is called with the last user message as
the prompt; the answer is an ``AIMessage`` whose content is one standard image block
(``{"type": "image", "base64": ..., "mime_type": "image/png"}``) or, when the provider
returns a URL, ``{"type": "image", "url": ...}``. Usage is the prompt's estimated tokens.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import openai
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from core.errors import ProviderResponseError
from models.adapters.base import CatalogChatMixin, identity
from models.spec import Deployment, ModelSpec
from models.tokens import count_tokens

__all__ = ["CatalogOpenAIImages", "build_openai_images"]


class CatalogOpenAIImages(CatalogChatMixin, BaseChatModel):
    """Image generation behind the chat-model interface."""

    model_name: str
    base_url: str | None = None
    api_key: str = ""
    timeout: float = 60.0
    size: str = "1024x1024"

    @property
    def _llm_type(self) -> str:
        return "openai-images"

    def _client(self) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.base_url, api_key=self.api_key or "not-needed", timeout=self.timeout, max_retries=0
        )

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        message = self._image_message(messages)
        self._price(message)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        """The images API does not stream: one chunk carrying the whole image."""
        message = self._image_message(messages)
        self._price(message)
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content=message.content,
                usage_metadata=message.usage_metadata,
                response_metadata=message.response_metadata,
            )
        )

    def _image_message(self, messages: list[BaseMessage]) -> AIMessage:
        """One images API call for the last user message, as an AIMessage with one image block."""
        users = [m for m in messages if m.type == "human"]
        prompt = (users[-1] if users else messages[-1]).text
        try:
            result = self._client().images.generate(model=self.model_name, prompt=prompt, size=self.size, n=1)
        except Exception as exc:
            raise self._provider_error(exc) from exc
        if not result.data:
            raise self._provider_error(ProviderResponseError("the images API returned no image"))
        image = result.data[0]
        block = (
            {"type": "image", "base64": image.b64_json, "mime_type": "image/png"}
            if image.b64_json
            else {"type": "image", "url": image.url}
        )
        tokens = count_tokens(prompt)
        return AIMessage(
            content=[block], usage_metadata={"input_tokens": tokens, "output_tokens": 0, "total_tokens": tokens}
        )


def build_openai_images(spec: ModelSpec, deployment: Deployment, params: dict[str, Any]) -> CatalogOpenAIImages:
    api_key = os.environ.get(deployment.api_key_env, "") if deployment.api_key_env else ""
    return CatalogOpenAIImages(
        model_name=deployment.model_id or spec.name,
        base_url=deployment.base_url,
        api_key=api_key,
        timeout=deployment.timeout,
        size=params.get("size", "1024x1024"),
        metadata=identity(spec, deployment),
    )
