"""What every adapter adds to its LangChain chat model: identity, cost and error translation.

:class:`CatalogChatMixin` goes first in an adapter's bases (``class X(CatalogChatMixin,
ChatOpenAI)``). It reads the catalog identity from the model's ``metadata["modelyard"]``
(``provider``, ``model``, ``deployment``, ``cost``), so the same facts also reach every
callback handler. After each call it adds ``cost_usd`` (from ``usage_metadata`` and the
catalog prices) plus the model and deployment to ``response_metadata``, and it turns any
provider exception into a :class:`~core.errors.ProviderError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from core.errors import ProviderError
from models.provider_errors import translate
from models.spec import Cost, Deployment, ModelSpec

__all__ = ["CatalogChatMixin", "identity"]


def identity(spec: ModelSpec, deployment: Deployment) -> dict[str, Any]:
    """The ``metadata`` an adapter is built with."""
    return {
        "modelyard": {
            "provider": spec.provider,
            "model": spec.name,
            "deployment": deployment.name,
            "cost": spec.cost.model_dump(),
            "trusted": bool(spec.trusted),
        }
    }


class CatalogChatMixin:
    """Cost in ``response_metadata`` and ProviderError translation for any BaseChatModel."""

    metadata: dict[str, Any] | None

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Catalog models are built from the catalog, never deserialised (a dump could hold keys)."""
        return False

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        """LangChain's tracing parameters, with the catalog's provider and model name."""
        params = super()._get_ls_params(stop=stop, **kwargs)  # type: ignore[misc]
        ident = self.catalog_identity
        named = getattr(self, "model_name", None) or getattr(self, "model_id", None)
        params["ls_provider"] = ident.get("provider") or params.get("ls_provider")
        params["ls_model_name"] = kwargs.get("model") or params.get("ls_model_name") or ident.get("model") or named
        return params

    @property
    def catalog_identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = (self.metadata or {}).get("modelyard", {})
        return ident

    def _provider_error(self, exc: BaseException) -> ProviderError:
        ident = self.catalog_identity
        return translate(
            exc,
            provider=ident.get("provider", ""),
            model=ident.get("model", ""),
            deployment=ident.get("deployment", ""),
        )

    def _price(self, message: BaseMessage) -> None:
        usage = getattr(message, "usage_metadata", None)
        if not usage:
            return
        ident = self.catalog_identity
        cost = Cost(**ident.get("cost", {})).of(usage.get("input_tokens", 0), usage.get("output_tokens", 0))
        message.response_metadata.update(
            cost_usd=cost,
            modelyard_model=ident.get("model"),
            deployment=ident.get("deployment"),
            provider=ident.get("provider"),
        )

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            result: ChatResult = super()._generate(*args, **kwargs)  # type: ignore[misc]
        except Exception as exc:
            raise self._provider_error(exc) from exc
        for generation in result.generations:
            self._price(generation.message)
        return result

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            result: ChatResult = await super()._agenerate(*args, **kwargs)  # type: ignore[misc]
        except Exception as exc:
            raise self._provider_error(exc) from exc
        for generation in result.generations:
            self._price(generation.message)
        return result

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        try:
            for chunk in super()._stream(*args, **kwargs):  # type: ignore[misc]
                self._price(chunk.message)
                yield chunk
        except Exception as exc:
            raise self._provider_error(exc) from exc

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        try:
            async for chunk in super()._astream(*args, **kwargs):  # type: ignore[misc]
                self._price(chunk.message)
                yield chunk
        except Exception as exc:
            raise self._provider_error(exc) from exc
