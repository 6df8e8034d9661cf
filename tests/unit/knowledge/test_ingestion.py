"""Ingestion into real Chroma with real embeddings: idempotence, updates, prune, bad input."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import pytest

from core.errors import KnowledgeError
from knowledge import IngestOptions, KnowledgeBase, delete_collection, list_collections
from knowledge.loaders import load_file
from knowledge.manifest import chunk_id
from knowledge.splitting import SplitOptions, split_documents

RETURNS = """# Returns policy

You can return unused items within 30 days of delivery.

## Refunds

Refunds reach your original payment method within 5 business days.
"""
SHIPPING = "Standard delivery takes 3 to 5 business days. Express delivery takes 1 to 2 days."
FAQ = [
    {"question": "Do you ship to Norway?", "answer": "Yes, Norway is one of our 30 delivery countries."},
    {"question": "运费是多少？", "answer": "标准配送运费 4.95 欧元，满 50 欧元免运费。"},
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    (folder / "policies").mkdir(parents=True)
    (folder / "policies" / "returns.md").write_text(RETURNS, encoding="utf-8")
    (folder / "shipping.txt").write_text(SHIPPING, encoding="utf-8")
    (folder / "faq.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in FAQ), encoding="utf-8")
    (folder / ".hidden.md").write_text("# Secret\n\nnot to be indexed", encoding="utf-8")
    (folder / "photo.png").write_bytes(b"\x89PNG not a document")
    return folder


def expected_chunks(*paths: Path) -> int:
    return sum(len(split_documents(load_file(p))) for p in paths)


def chunk_texts(kb: KnowledgeBase, source: Path) -> list[str]:
    found = kb.collection.get(where={"source": str(source.resolve())}, include=["documents"])
    return list(found["documents"] or [])


def all_ids(kb: KnowledgeBase) -> set[str]:
    return set(kb.collection.get(include=[])["ids"])


def test_first_ingest_adds_supported_files_and_ignores_hidden_and_unknown_ones(make_kb, corpus):
    kb = make_kb()
    report = kb.ingest([corpus])
    files = [corpus / "faq.jsonl", corpus / "policies" / "returns.md", corpus / "shipping.txt"]
    assert sorted(report.added) == sorted(str(f) for f in files)
    assert report.skipped == [] and report.chunks_written == expected_chunks(*files)
    assert kb.stats().documents == 3 and kb.stats().chunks == report.chunks_written
    metadata = kb.collection.get(where={"file": "returns.md"}, include=["metadatas"])["metadatas"]
    assert {m["heading"] for m in metadata} == {"Returns policy", "Returns policy > Refunds"}
    assert all(len(m["file_hash"]) == 64 and len(m["content_hash"]) == 16 for m in metadata)


def test_reingesting_unchanged_files_changes_nothing(make_kb, corpus):
    kb = make_kb()
    kb.ingest([corpus])
    before_ids, before_stats = all_ids(kb), kb.stats()
    report = kb.ingest([corpus])
    assert len(report.unchanged) == 3 and not report.added and not report.updated
    assert report.chunks_written == 0 and report.chunks_removed == 0
    assert all_ids(kb) == before_ids and kb.stats() == before_stats


def test_a_changed_file_replaces_its_old_chunks(make_kb, corpus):
    kb = make_kb()
    kb.ingest([corpus])
    returns = corpus / "policies" / "returns.md"
    returns.write_text(RETURNS.replace("30 days", "60 days").replace("5 business days", "2 business days"))
    report = kb.ingest([corpus])
    assert report.updated == [str(returns)] and len(report.unchanged) == 2
    texts = chunk_texts(kb, returns)
    assert len(texts) == expected_chunks(returns)
    assert any("60 days" in t for t in texts) and not any("30 days" in t for t in texts)
    assert "2 business days" in kb.search("How fast is my refund?", k=1)[0].text


def test_new_splitting_rules_or_sizes_re_split_unchanged_files_once(make_kb, corpus):
    make_kb().ingest([corpus])
    small = IngestOptions(split=SplitOptions(chunk_size=60, chunk_overlap=0))
    kb = make_kb(ingest_options=small)
    report = kb.ingest([corpus])
    assert len(report.updated) == 3 and not report.unchanged and report.chunks_removed > 0
    returns = corpus / "policies" / "returns.md"
    assert len(chunk_texts(kb, returns)) == len(split_documents(load_file(returns), small.split)) > 2
    assert kb.stats().chunks == len(all_ids(kb)) == report.chunks_written
    again = kb.ingest([corpus])
    assert len(again.unchanged) == 3 and again.chunks_written == again.chunks_removed == 0


def test_chunks_written_before_versions_existed_are_replaced_cleanly(make_kb, corpus):
    kb = make_kb()
    kb.ingest([corpus])
    stored = kb.collection.get(include=["embeddings", "documents", "metadatas"])
    legacy = [{k: v for k, v in m.items() if k != "version"} for m in stored["metadatas"]]
    legacy_ids = [chunk_id(m["source"], m["file_hash"], m["chunk_index"]) for m in legacy]
    kb.collection.delete(ids=stored["ids"])
    kb.collection.add(ids=legacy_ids, embeddings=stored["embeddings"], documents=stored["documents"], metadatas=legacy)
    report = kb.ingest([corpus])
    assert len(report.updated) == 3 and report.chunks_removed == len(legacy_ids)
    assert all_ids(kb) == set(stored["ids"]) and not all_ids(kb) & set(legacy_ids)


def test_prune_removes_documents_whose_files_disappeared(make_kb, corpus):
    kb = make_kb()
    kb.ingest([corpus])
    (corpus / "shipping.txt").unlink()
    assert kb.ingest([corpus]).removed == []  # without --prune the document stays
    assert kb.stats().documents == 3
    report = kb.ingest([corpus], prune=True)
    assert report.removed == [str(corpus / "shipping.txt")]
    assert kb.stats().documents == 2 and chunk_texts(kb, corpus / "shipping.txt") == []


def test_prune_leaves_documents_outside_the_given_paths_alone(make_kb, corpus, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("Gift cards never expire.")
    kb = make_kb()
    kb.ingest([corpus, other])
    other.unlink()
    report = kb.ingest([corpus], prune=True)
    assert report.removed == [] and kb.stats().documents == 4


def test_corrupt_files_are_skipped_with_a_warning_and_the_rest_is_ingested(make_kb, corpus, caplog):
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n% truncated before any object")
    (corpus / "broken.docx").write_bytes(b"this is not a word document")
    kb = make_kb()
    with caplog.at_level(logging.WARNING, logger="knowledge.ingest"):
        report = kb.ingest([corpus])
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"broken.pdf", "broken.docx"}
    assert "not a readable PDF" in reasons["broken.pdf"] and "not a readable DOCX" in reasons["broken.docx"]
    warned = [r.getMessage() for r in caplog.records]
    assert any(str(corpus / "broken.pdf") in m and "not a readable PDF" in m for m in warned)
    assert len(report.added) == 3 and kb.stats().documents == 3


def test_named_paths_that_are_missing_or_unsupported_are_reported(make_kb, corpus):
    report = make_kb().ingest([corpus / "nope.md", corpus / "photo.png", corpus / "shipping.txt"])
    assert {(Path(s.path).name, s.reason) for s in report.skipped} == {
        ("nope.md", "no such file or folder"),
        ("photo.png", "unsupported file type '.png'"),
    }
    assert len(report.added) == 1


def test_empty_files_index_nothing_and_emptying_a_file_removes_its_chunks(make_kb, corpus):
    (corpus / "blank.md").write_text("  \n\n")
    kb = make_kb()
    report = kb.ingest([corpus])
    assert report.empty == [str(corpus / "blank.md")] and kb.stats().documents == 3
    (corpus / "shipping.txt").write_text("")
    report = kb.ingest([corpus])
    assert str(corpus / "shipping.txt") in report.empty and report.chunks_removed > 0
    assert kb.stats().documents == 2


def test_non_utf8_files_are_ingested_with_their_real_text(make_kb, tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(("Les sécateurs et râteaux sont garantis deux ans. " * 4).encode("cp1252"))
    kb = make_kb()
    assert kb.ingest([path]).added == [str(path)]
    assert "sécateurs" in chunk_texts(kb, path)[0]


def test_files_over_the_size_limit_are_skipped(data_home, corpus):
    kb = KnowledgeBase("docs", ingest_options=IngestOptions(max_file_bytes=100))
    report = kb.ingest([corpus])
    too_large = {Path(s.path).name for s in report.skipped if s.reason.startswith("too large")}
    assert too_large == {"returns.md", "faq.jsonl"} and report.added == [str(corpus / "shipping.txt")]


def test_an_interrupted_ingestion_is_consistent_and_a_rerun_completes_it(data_home, corpus):
    kb = KnowledgeBase("docs", ingest_options=IngestOptions(batch_size=2))
    total = expected_chunks(corpus / "faq.jsonl", corpus / "policies" / "returns.md", corpus / "shipping.txt")

    def interrupt_after_first_batch(stage: str, done: int, _total: int) -> None:
        if stage == "embedding" and done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        kb.ingest([corpus], progress=interrupt_after_first_batch)
    assert 0 < kb.stats().chunks < total
    assert kb.search("Norway delivery", k=1)  # the partial collection is usable

    report = kb.ingest([corpus])
    assert kb.stats().chunks == total and kb.stats().documents == 3
    hashes = Counter(m["content_hash"] for m in kb.collection.get(include=["metadatas"])["metadatas"])
    assert max(hashes.values()) == 1  # nothing duplicated
    assert report.chunks_written > 0 and kb.ingest([corpus]).chunks_written == 0


def test_an_interrupted_update_is_finished_and_cleaned_up_by_the_rerun(data_home, corpus):
    kb = KnowledgeBase("docs", ingest_options=IngestOptions(batch_size=1))
    kb.ingest([corpus])
    returns = corpus / "policies" / "returns.md"
    returns.write_text(RETURNS.replace("30 days", "45 days"))

    def interrupt(stage: str, done: int, _total: int) -> None:
        if stage == "embedding" and done >= 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        kb.ingest([corpus], progress=interrupt)
    report = kb.ingest([corpus])
    assert report.updated == [str(returns)]
    texts = chunk_texts(kb, returns)
    assert len(texts) == expected_chunks(returns) and not any("30 days" in t for t in texts)


def test_progress_callback_sees_both_stages(make_kb, corpus):
    seen: list[tuple[str, int, int]] = []
    make_kb().ingest([corpus], progress=lambda *event: seen.append(event))
    assert seen[0] == ("reading", 0, 3) and ("reading", 3, 3) in seen
    assert seen[-1][0] == "embedding" and seen[-1][1] == seen[-1][2] > 0


def test_delete_document_and_documents_listing(make_kb, corpus):
    kb = make_kb()
    kb.ingest([corpus])
    assert [Path(d.source).name for d in kb.documents()] == ["faq.jsonl", "returns.md", "shipping.txt"]
    removed = kb.delete_document(corpus / "shipping.txt")
    assert removed == expected_chunks(corpus / "shipping.txt") and kb.stats().documents == 2
    assert kb.delete_document(corpus / "shipping.txt") == 0
    assert all("Express delivery" not in hit.text for hit in kb.search("express delivery days", k=5))


def test_collections_are_listed_and_deleted(make_kb, corpus):
    make_kb("alpha").ingest([corpus / "shipping.txt"])
    make_kb("beta")
    assert list_collections() == ["alpha", "beta"]
    assert delete_collection("alpha") is True and delete_collection("alpha") is False
    assert list_collections() == ["beta"]
    with pytest.raises(KnowledgeError, match="no knowledge collection named 'alpha'"):
        KnowledgeBase("alpha", create=False)


@pytest.mark.parametrize("name", ["a", "has space", "-leading", "trailing.", "x" * 600])
def test_invalid_collection_names_are_refused(data_home, name):
    with pytest.raises(KnowledgeError, match="invalid collection name"):
        KnowledgeBase(name)
