"""LangChain's standard unit tests (``langchain-tests``' ``ChatModelUnitTests``) for every chat-model
class Modelyard defines: construction with the standard parameters, LangSmith parameters,
``bind_tools`` / ``with_structured_output`` where the class offers them, initialisation time.

No test here calls a model: the endpoints are a closed loopback port.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_tests.unit_tests import ChatModelUnitTests

from chains.extractive import ExtractiveChatModel
from models.adapters.http_template import ChatHttpTemplate
from models.adapters.huggingface_endpoint import CatalogChatHuggingFaceEndpoint
from models.adapters.huggingface_local import CatalogChatHuggingFaceLocal
from models.adapters.openai import CatalogChatOpenAI
from models.adapters.openai_images import CatalogOpenAIImages
from models.registry import Registry
from routers.chat_model import RouterChatModel
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable

CLOSED = "http://127.0.0.1:9/v1"  # the discard port: nothing listens


class TestCatalogChatOpenAI(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return CatalogChatOpenAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "fake-gpt", "base_url": CLOSED, "api_key": "test"}


class TestCatalogChatHuggingFaceEndpoint(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return CatalogChatHuggingFaceEndpoint

    @property
    def chat_model_params(self) -> dict[str, Any]:
        from langchain_huggingface import HuggingFaceEndpoint

        llm = HuggingFaceEndpoint(endpoint_url="http://127.0.0.1:9", task="text-generation", server_kwargs={})
        return {"llm": llm, "model_id": "meta-llama/Llama-3.1-8B-Instruct"}


class TestChatHttpTemplate(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatHttpTemplate

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "url_template": "http://127.0.0.1:9/template/{MODEL_NAME}",
            "body_template": {"q": "{USER_PROMPT}"},
            "response_extract": "answer",
            "model_name": "acme-answers",
        }


class TestCatalogOpenAIImages(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return CatalogOpenAIImages

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model_name": "dall-e-3", "base_url": CLOSED}


class TestExtractiveChatModel(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ExtractiveChatModel


@cache
def _router(folder: str) -> RouterRunnable:
    Path(folder).mkdir(parents=True, exist_ok=True)
    registry = Registry(db_path=Path(folder) / "registry.sqlite")
    config = RoutingConfig.model_validate({"policies": ["explicit", "modality", "context_window", "cost"]})
    return RouterRunnable(registry, config, experiments=Experiments([], Path(folder) / "ab.sqlite"))


class TestRouterChatModel(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return RouterChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"router": _router(tempfile.gettempdir() + "/modelyard-standard-tests")}


@cache
def _local_pipeline() -> dict[str, Any]:
    """The bundled SmolLM2 as a transformers pipeline (converted and loaded once)."""
    from langchain_huggingface import HuggingFacePipeline
    from transformers import pipeline

    from models.adapters.huggingface_local import load_local_model

    spec = (
        Registry(db_path=Path(tempfile.gettempdir()) / "modelyard-standard-tests" / "local.sqlite")
        .get("smollm2-135m-transformers")
        .spec
    )
    model, tokenizer = load_local_model(spec)
    pipe = pipeline("text-generation", model=model, tokenizer=tokenizer, max_new_tokens=8, return_full_text=False)
    return {
        "llm": HuggingFacePipeline(pipeline=pipe, model_id=spec.name),
        "tokenizer": tokenizer,
        "model_id": spec.name,
    }


@pytest.mark.slow
class TestCatalogChatHuggingFaceLocal(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return CatalogChatHuggingFaceLocal

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return _local_pipeline()

    @property
    def has_tool_calling(self) -> bool:
        return False  # a transformers pipeline takes no tools: bind_tools refuses (tested below)

    @property
    def has_structured_output(self) -> bool:
        return False


@pytest.mark.slow
def test_the_local_pipeline_refuses_tools_and_structured_output_it_cannot_pass():
    chat = CatalogChatHuggingFaceLocal(**_local_pipeline())
    with pytest.raises(NotImplementedError, match="cannot pass tools"):
        chat.bind_tools([{"type": "function", "function": {"name": "f", "parameters": {}}}])
    with pytest.raises(NotImplementedError, match="cannot pass structured output"):
        chat.with_structured_output({"type": "object", "properties": {}})
