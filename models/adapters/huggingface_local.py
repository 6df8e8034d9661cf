"""``huggingface_local`` provider: a transformers model in this process, optionally quantized.

The GGUF is converted once to a safetensors folder (:mod:`models.local_weights`), then loaded
with transformers — with bitsandbytes 8-bit or 4-bit (nf4) when the catalog says so — and
wrapped in langchain-huggingface's ``HuggingFacePipeline`` + ``ChatHuggingFace``. Those report
no token usage for a local pipeline, so this adapter counts it with the model's own tokenizer.
A loaded model is cached per (folder, quantization) for the life of the process.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from functools import lru_cache
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables.config import run_in_executor
from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline

from models.adapters.base import CatalogChatMixin, identity
from models.local_weights import ensure_converted
from models.spec import Deployment, ModelSpec

__all__ = ["CatalogChatHuggingFaceLocal", "build_huggingface_local", "load_local_model"]

_load_lock = threading.Lock()


@lru_cache(maxsize=4)
def _load(folder: str, quantization: str, threads: int) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    torch.set_num_threads(threads)
    kwargs: dict[str, Any] = {}
    if quantization == "8bit":
        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
    elif quantization == "4bit":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float32
        )
    model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return model, tokenizer


def load_local_model(spec: ModelSpec) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for ``spec``, converted and loaded once per process."""
    assert spec.source is not None
    folder = ensure_converted(spec.source)
    with _load_lock:
        return _load(str(folder), spec.quantization, spec.source.threads)


class _UsageCountingChatHuggingFace(ChatHuggingFace):
    """ChatHuggingFace over a local pipeline, plus token usage and async via a thread."""

    def _count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _usage(self, messages: list[BaseMessage], output: str) -> UsageMetadata:
        prompt = self._count(self._to_chat_prompt(messages))
        completion = self._count(output)
        return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        stream: bool | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        result = super()._generate(messages, stop=stop, run_manager=run_manager, stream=stream, **kwargs)
        for generation in result.generations:
            if isinstance(generation.message, AIMessage):
                generation.message.usage_metadata = self._usage(messages, generation.message.text)
        return result

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        text = ""
        for chunk in super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs):
            text += chunk.text
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
        usage = AIMessageChunk(content="", usage_metadata=self._usage(messages, text))
        yield ChatGenerationChunk(message=usage)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        stream: bool | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return await run_in_executor(None, self._generate, messages, stop, None, stream, **kwargs)

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        async for chunk in BaseChatModel._astream(self, messages, stop=stop, **kwargs):
            yield chunk


class CatalogChatHuggingFaceLocal(CatalogChatMixin, _UsageCountingChatHuggingFace):
    """A local transformers chat model with catalog cost and ProviderError translation.

    A transformers text-generation pipeline takes no tools and no response format (its catalog
    capabilities are empty), so ``bind_tools`` and ``with_structured_output`` refuse instead of
    binding options the pipeline would silently ignore.
    """

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(_NO_OPTIONS.format(what="tools"))

    def with_structured_output(self, schema: Any = None, **kwargs: Any) -> Any:
        raise NotImplementedError(_NO_OPTIONS.format(what="structured output"))


_NO_OPTIONS = (
    "the huggingface_local adapter (a transformers pipeline) cannot pass {what} to the model; use a llamacpp "
    "entry (JSON schemas become a grammar) or a served model (vLLM, TGI) behind the openai provider"
)


def build_huggingface_local(
    spec: ModelSpec, deployment: Deployment, params: dict[str, Any]
) -> CatalogChatHuggingFaceLocal:
    """``params`` are canonical values: ``temperature``, ``max_tokens``, ``top_p``."""
    from transformers import pipeline

    model, tokenizer = load_local_model(spec)
    temperature = params.get("temperature") or 0.0
    generation: dict[str, Any] = {
        "max_new_tokens": int(params.get("max_tokens") or 256),
        "do_sample": temperature > 0,
        "return_full_text": False,
    }
    if temperature > 0:
        generation.update(temperature=temperature, top_p=params.get("top_p") or 1.0)
    pipe = pipeline("text-generation", model=model, tokenizer=tokenizer, **generation)
    llm = HuggingFacePipeline(pipeline=pipe, model_id=spec.name)
    return CatalogChatHuggingFaceLocal(
        llm=llm, tokenizer=tokenizer, model_id=spec.name, metadata=identity(spec, deployment)
    )
