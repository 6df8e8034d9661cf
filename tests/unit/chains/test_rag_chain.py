"""The RAG chain over real Chroma + real embeddings (the Yardstore sample).

The model is the only stand-in: ``QuotingModel`` is an honest chat model that answers from the
prompt it is given — it quotes the first sentence of source [1] and cites it — so the tests can
check that the numbering in the prompt, the sources in the output and the citations agree.
"""

from __future__ import annotations

import re
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import RunnableLambda

from chains.extractive import ExtractiveChatModel
from chains.moderation import moderated
from chains.rag import DONT_KNOW_EN, DONT_KNOW_ZH, build_rag_chain, extract_citations, unsupported_sentences
from chains.retrieval import DEFAULT_MIN_RELEVANCE, DEFAULT_MIN_RELEVANCE_ZH, HybridRetriever
from knowledge import KnowledgeBase, ensure_sample_kb


class QuotingModel:
    """Answers with the first sentence of source [1] plus "[1]"; remembers every prompt."""

    def __init__(self) -> None:
        self.prompts: list[list[BaseMessage]] = []

    def __call__(self, prompt: PromptValue) -> AIMessage:
        messages = prompt.to_messages()  # what a chat model receives from a chat prompt
        self.prompts.append(messages)
        system = messages[0].content
        assert isinstance(system, str)
        body = system.split("\n[1] ", 1)[1].split("\n", 1)[1]
        first_sentence = re.split(r"(?<=[.。])\s*", body.strip(), maxsplit=1)[0]
        return AIMessage(content=f"{first_sentence} [1]")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    client = chromadb.PersistentClient(
        path=str(tmp_path_factory.mktemp("rag-chroma")), settings=Settings(anonymized_telemetry=False)
    )
    ensure_sample_kb(client=client)
    return KnowledgeBase("shop", client=client, create=False)


@pytest.fixture
def retriever(shop: KnowledgeBase) -> HybridRetriever:
    return HybridRetriever(
        knowledge_base=shop, k=3, min_relevance=DEFAULT_MIN_RELEVANCE, min_relevance_cjk=DEFAULT_MIN_RELEVANCE_ZH
    )


def test_answer_cites_the_numbered_sources_it_was_given(retriever):
    model = QuotingModel()
    result = build_rag_chain(retriever, RunnableLambda(model)).invoke("How long does a refund take?")

    assert set(result) == {"question", "sources", "answer", "citations", "unsupported", "reply"}
    assert result["unsupported"] == []  # a quote of source [1] is supported
    retrieved = retriever.invoke("How long does a refund take?")
    assert [s["text"] for s in result["sources"]] == [d.page_content for d in retrieved]
    assert [s["n"] for s in result["sources"]] == [1, 2, 3]
    assert result["citations"] == [1]
    quoted = result["answer"].removesuffix(" [1]")
    assert quoted and quoted in result["sources"][0]["text"]
    assert "5 business days" in " ".join(s["text"] for s in result["sources"])

    prompt = model.prompts[-1]
    assert prompt[-1] == HumanMessage(content="How long does a refund take?")
    for source in result["sources"]:
        assert f"[{source['n']}] {source['file']} — {source['heading']}" in prompt[0].content


def test_sources_carry_file_heading_snippet_and_score(retriever):
    result = build_rag_chain(retriever, RunnableLambda(QuotingModel())).invoke(
        {"question": "Can I return opened fertiliser?"}
    )
    policy = next(s for s in result["sources"] if s["file"] == "returns.md")
    assert policy["heading"] == "Returns and refunds > Conditions" and "fertilisers" in policy["text"]
    assert policy["snippet"] and policy["text"].startswith(policy["snippet"].rstrip("…"))
    assert all(DEFAULT_MIN_RELEVANCE <= s["score"] <= 1 for s in result["sources"])
    assert Path(policy["source"]).parent.name == "shop"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the capital of France?", DONT_KNOW_EN),
        ("今天天气怎么样？", DONT_KNOW_ZH),
    ],
)
def test_unrelated_questions_get_i_dont_know_without_calling_the_model(retriever, question, expected):
    model = QuotingModel()
    result = build_rag_chain(retriever, RunnableLambda(model)).invoke(question)
    refusal = result.pop("refusal")
    assert result == {"question": question, "sources": [], "answer": expected, "citations": [], "unsupported": []}
    assert model.prompts == []
    assert refusal["threshold"] == retriever.threshold(question)
    assert refusal["best"]["file"] and refusal["best"]["score"] < refusal["threshold"]  # named, and below it


def test_chinese_question_is_answered_from_chinese_sources(retriever):
    result = build_rag_chain(retriever, RunnableLambda(QuotingModel())).invoke("退款需要多久？")
    assert result["citations"] == [1]
    assert "5 个工作日" in " ".join(s["text"] for s in result["sources"])


def test_streaming_sends_sources_first_then_answer_pieces_then_citations(retriever):
    model = GenericFakeChatModel(messages=iter(["Refunds take 5 business days [1][2]."]))
    chunks = list(build_rag_chain(retriever, model).stream("How long does a refund take?"))

    assert "sources" in chunks[0] and chunks[0]["sources"]
    answer_chunks = [c["answer"] for c in chunks if "answer" in c]
    assert len(answer_chunks) > 3 and "".join(answer_chunks) == "Refunds take 5 business days [1][2]."
    assert chunks[-2:] == [{"unsupported": []}, {"citations": [1, 2]}]
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert set(merged) == {"question", "sources", "answer", "citations", "unsupported", "reply"}
    assert set(merged["reply"]) == {"response_metadata", "usage_metadata"}


def test_history_reaches_the_prompt(retriever):
    model = QuotingModel()
    history = [HumanMessage(content="I bought a YardPro mower."), AIMessage(content="Great choice!")]
    build_rag_chain(retriever, RunnableLambda(model)).invoke(
        {"question": "How long is its warranty?", "history": history}
    )
    assert model.prompts[-1][1:3] == history


def test_extract_citations_keeps_only_valid_source_numbers():
    assert extract_citations("A [1][3]. B [2, 9]. C [0] and [x].", source_count=3) == [1, 2, 3]
    assert extract_citations("no citations", source_count=3) == []


def test_retriever_is_a_langchain_retriever_with_scores(retriever):
    [first, *_] = retriever.invoke("YardPro warranty years")
    assert first.metadata["score"] >= DEFAULT_MIN_RELEVANCE and first.id == first.metadata["id"]
    assert retriever.batch(["warranty", "What is the capital of France?"])[1] == []


def test_chinese_paraphrase_passes_the_chinese_threshold_and_finds_the_chinese_page(retriever):
    """The question from the issue: its best hit (0.315 coverage) was refused by the 0.35 English threshold."""
    assert retriever.threshold("我想退货，需要多长时间？") == DEFAULT_MIN_RELEVANCE_ZH
    assert retriever.threshold("How long do I have to return an item?") == DEFAULT_MIN_RELEVANCE
    files = {d.metadata["file"] for d in retriever.invoke("我想退货，需要多长时间？")}
    assert "returns-zh.md" in files


@pytest.mark.parametrize(
    ("question", "fact"),
    [("How long do I have to return an item?", "30 days of delivery"), ("运费是多少？", "4.95 欧元")],
)
def test_extractive_answers_quote_the_source_sentence_with_its_number(retriever, question, fact):
    chain = build_rag_chain(retriever, moderated(ExtractiveChatModel()), answer_style="extractive")
    result = chain.invoke(question)
    assert fact in result["answer"] and result["citations"] and result["unsupported"] == []
    for number in result["citations"]:  # every quoted sentence is in the source it cites
        quoted = result["answer"].split(f" [{number}]")[0].split("] ")[-1]
        assert quoted in " ".join(result["sources"][number - 1]["text"].split())
    assert result["reply"]["response_metadata"]["moderation"]["reviewed"]


def test_extractive_streams_pieces_after_the_sources(retriever):
    chain = build_rag_chain(retriever, moderated(ExtractiveChatModel()), answer_style="extractive")
    chunks = list(chain.stream("How much does express shipping cost?"))
    assert "sources" in chunks[0]
    pieces = [c["answer"] for c in chunks if "answer" in c]
    assert len(pieces) > 2 and "12.95" in "".join(pieces)


def test_citation_check_flags_claims_no_source_holds(retriever):
    chain = build_rag_chain(retriever, RunnableLambda(QuotingModel()))
    sources = chain.invoke("How long does a refund take?")["sources"]
    answer = "We refund within 5 business days of receiving your return [1]. Most items ship by drone in 1-2 hours."
    assert unsupported_sentences(answer, sources) == ["Most items ship by drone in 1-2 hours."]
