"""The RAG chain with the real packaged local model (SmolLM2-135M via llama.cpp) as its model.

A 135M-parameter model answers poorly and rarely cites, so this checks the plumbing with a real
engine — retrieval feeds a real prompt, the model's tokens stream through the chain — not the
quality of the answer; citation logic is covered with a deterministic model in the unit tests.
"""

from __future__ import annotations

import chromadb
import pytest
from chromadb.config import Settings

from chains.rag import build_rag_chain
from chains.retrieval import DEFAULT_MIN_RELEVANCE, HybridRetriever
from knowledge import KnowledgeBase, ensure_sample_kb
from models.catalog import load_catalog
from models.factory import build_chat_model

pytestmark = pytest.mark.slow


def test_rag_chain_streams_a_real_local_models_answer_over_retrieved_sources(tmp_path):
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=Settings(anonymized_telemetry=False))
    ensure_sample_kb(client=client)
    retriever = HybridRetriever(
        knowledge_base=KnowledgeBase("shop", client=client), k=3, min_relevance=DEFAULT_MIN_RELEVANCE
    )
    spec = next(s for s in load_catalog() if s.name == "smollm2-135m")
    chain = build_rag_chain(retriever, build_chat_model(spec, params={"temperature": 0, "max_tokens": 48}))

    chunks = list(chain.stream("How long does a refund take?"))
    assert any("5 business days" in s["text"] for s in chunks[0]["sources"])
    pieces = [c["answer"] for c in chunks if "answer" in c]
    assert len(pieces) > 2 and "".join(pieces).strip()
    assert "citations" in chunks[-1]
