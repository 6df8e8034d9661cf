"""Both local engines produce real text from the packaged SmolLM2 weights; bitsandbytes loads."""

from __future__ import annotations

import asyncio

import pytest

from models.catalog import load_catalog
from models.factory import build_chat_model
from models.local_weights import converted_folder

pytestmark = pytest.mark.slow
SPECS = {s.name: s for s in load_catalog()}
QUESTION = "What is the capital of France? Answer in one short sentence."


def test_llamacpp_engine_answers_streams_and_counts_tokens():
    chat = build_chat_model(SPECS["smollm2-135m"], params={"temperature": 0, "max_tokens": 24})
    reply = chat.invoke(QUESTION)
    assert "paris" in reply.content.lower()
    assert reply.usage_metadata["input_tokens"] > 5 and reply.usage_metadata["output_tokens"] > 0
    assert reply.response_metadata["cost_usd"] == 0.0 and reply.response_metadata["provider"] == "llamacpp"
    chunks = list(chat.stream(QUESTION))
    assert len([c for c in chunks if c.text]) > 2
    assert "".join(c.text for c in chunks) == reply.content  # greedy decoding: same text streamed
    assert asyncio.run(chat.ainvoke(QUESTION)).content == reply.content


def test_llamacpp_engine_is_loaded_once_per_process():
    from models.adapters.llamacpp import llamacpp_engine

    source = SPECS["smollm2-135m"].source
    assert llamacpp_engine(source) is llamacpp_engine(source)


def test_transformers_engine_converts_once_and_answers():
    spec = SPECS["smollm2-135m-transformers"]
    chat = build_chat_model(spec, params={"temperature": 0, "max_tokens": 16})
    assert (converted_folder(spec.source) / "model.safetensors").exists()
    reply = chat.invoke(QUESTION)
    assert "paris" in reply.content.lower()
    assert reply.usage_metadata["input_tokens"] > 5 and 0 < reply.usage_metadata["output_tokens"] <= 17
    streamed = list(chat.stream("Say hello."))
    assert "".join(c.text for c in streamed).strip()
    assert sum(streamed[1:], streamed[0]).usage_metadata["output_tokens"] > 0


@pytest.mark.parametrize("quantization", ["8bit", "4bit"])
def test_bitsandbytes_quantized_load_generates(quantization):
    spec = SPECS["smollm2-135m-transformers"].model_copy(update={"quantization": quantization})
    chat = build_chat_model(spec, params={"temperature": 0, "max_tokens": 8})
    model = chat.llm.pipeline.model
    assert getattr(model, "is_quantized", False)
    kinds = {type(m).__name__ for m in model.modules()}
    assert ("Linear8bitLt" if quantization == "8bit" else "Linear4bit") in kinds
    assert chat.invoke("Say hello.").content.strip()
