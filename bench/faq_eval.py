"""FAQ-style retrieval: the pipeline against the plain dense baseline and the previous method.

Used by ``bench/retrieval_eval.py``. For each corpus of :mod:`bench.faq_corpora` it measures, in
one run, recall@1 and recall@5 for the sections' own questions and for hand-written paraphrases:

* **baseline** — :class:`bench.dense_baseline.DenseBaseline` (MiniLM, heading-aware 800-character
  chunks, nothing else);
* **previous commit** — the ``knowledge`` package as of :data:`PREVIOUS_COMMIT`, extracted with
  ``git archive`` and run in a subprocess over the same files (ingest, then hybrid search);
* the current pipeline: ``dense`` and ``hybrid`` with section-heading vectors off and on (the
  default), ``bm25``, the hybrid with one fixed fusion weight (:data:`PREVIOUS_SHARE`, the method
  before query-adaptive fusion), the default hybrid, and it with MMR and with the RAG chain's
  relevance threshold (0.35), which cut or reorder results;
* a leave-one-source-out check of the one fitted choice, ``SearchOptions.heading_share``: the
  best of :data:`GRID` on the *other* source's fitting half, scored on this source's untouched half.

Queries are split in two halves by a hash of their section's question (:func:`fitting`); every
printed figure is on the **untouched** half, nothing is chosen on it.

A hit is counted for a section when its chapter file and the last part of its heading path are
the section's — what a reader of ``python -m knowledge search`` output sees.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

from bench.dense_baseline import DenseBaseline, markdown_sections
from bench.faq_corpora import FaqCorpus, Query
from knowledge.evaluation import latency_percentiles, recall_at_k

__all__ = ["PREVIOUS_COMMIT", "evaluate_corpus", "leave_one_source_out", "previous_method"]

ROOT = Path(__file__).resolve().parent.parent
PREVIOUS_COMMIT = "6e82769"
"""The last commit before issue 15's retrieval work (LangChain's header splitter, body vectors only)."""
RAG_MIN_RELEVANCE = 0.35
"""``chains.retrieval.DEFAULT_MIN_RELEVANCE``, repeated so the bench does not import the chains."""
PREVIOUS_SHARE = 0.75
"""The dense weight before query-adaptive fusion, for every alphabetic query (``primary_share``)."""
GRID = (0.75, 0.85, 0.9, 0.95, 1.0)
"""``SearchOptions.heading_share`` values tried on the fitting half by the leave-one-source-out check."""
Ranker = Callable[[str], list[tuple[str, str]]]

_WORKER = """
import json, os, sys, time
request = json.load(sys.stdin)
sys.path[:0] = [request["package_root"], request["root"]]
import chromadb
from chromadb.config import Settings
from knowledge import KnowledgeBase
client = chromadb.PersistentClient(path=request["chroma"], settings=Settings(anonymized_telemetry=False))
kb = KnowledgeBase(request["collection"], client=client)
kb.ingest([request["folder"]])
key = lambda hit: [hit.metadata.get("file", ""), hit.heading.split(" > ")[-1]]
rankings = [[key(hit) for hit in kb.search(query, 10)] for query in request["queries"]]
timings = []
for query in request["queries"][:200]:
    started = time.perf_counter()
    kb.search(query, 5)
    timings.append(time.perf_counter() - started)
metadatas = kb.collection.get(include=["metadatas"])["metadatas"]
chunks = [[m.get("file", ""), str(m.get("heading", "")).split(" > ")[-1]] for m in metadatas]
print(json.dumps({"rankings": rankings, "timings": timings, "chunks": chunks}))
"""


def scores(rank: Ranker, exact: list[Query], reworded: list[Query]) -> dict[str, float]:
    """Recall@1 and @5 for the questions and for the paraphrases."""
    found_exact = [rank(query.text) for query in exact]
    found_reworded = [rank(query.text) for query in reworded]
    return _figures(found_exact, found_reworded, exact, reworded)


def _figures(found_exact: list, found_reworded: list, exact: list[Query], reworded: list[Query]) -> dict[str, float]:
    relevant_exact, relevant_reworded = [q.relevant for q in exact], [q.relevant for q in reworded]
    return {
        "recall@1": recall_at_k(found_exact, relevant_exact, 1),
        "recall@5": recall_at_k(found_exact, relevant_exact, 5),
        "para recall@1": recall_at_k(found_reworded, relevant_reworded, 1),
        "para recall@5": recall_at_k(found_reworded, relevant_reworded, 5),
    }


def row(label: str, figures: dict[str, float]) -> str:
    """One printed table row."""
    return f"  {label:<24}" + "".join(f"{value:>15.3f}" for value in figures.values())


def header() -> str:
    """The table header matching :func:`row`."""
    return f"  {'method':<24}" + "".join(
        f"{name:>15}" for name in ("recall@1", "recall@5", "para recall@1", "para recall@5")
    )


def kb_ranker(kb, mode: str = "hybrid", **options) -> Ranker:  # type: ignore[no-untyped-def]
    """A ranker over a knowledge base: ``(file, own heading)`` of the top 10 hits."""

    def rank(query: str) -> list[tuple[str, str]]:
        hits = kb.search(query, 10, mode=mode, **options)
        return [(str(hit.metadata.get("file", "")), hit.heading.split(" > ")[-1]) for hit in hits]

    return rank


def previous_method(corpus: FaqCorpus, queries: list[Query], workdir: Path) -> dict:
    """Ingest and search ``corpus`` with the knowledge package of :data:`PREVIOUS_COMMIT` (a subprocess).

    Returns:
        ``{"rankings": [[file, heading], ...] per query, "timings": seconds, "chunks": [[file, heading], ...]}``.
    """
    package_root = workdir / "previous"
    if not (package_root / "knowledge").exists():
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", PREVIOUS_COMMIT, "knowledge"], check=True, capture_output=True
        ).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(package_root, filter="data")
    request = {
        "package_root": str(package_root),
        "root": str(ROOT),
        "chroma": str(workdir / "chroma-previous"),
        "collection": f"previous-{corpus.name}",
        "folder": str(corpus.folder),
        "queries": [query.text for query in queries],
    }
    environment = {**os.environ, "PYTHONPATH": f"{package_root}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-c", _WORKER], input=json.dumps(request), text=True, capture_output=True, env=environment
    )
    if done.returncode:
        raise RuntimeError(f"previous method failed on {corpus.name}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def mislabelled(chunks: list, corpus: FaqCorpus) -> int:
    """Chunks whose own heading is none of their file's headings (e.g. a ``# comment`` taken for one).

    The file's headings come from the baseline's own Markdown parse, not from ``knowledge.splitting``.
    """
    headings = {("", "")}
    for path in sorted(corpus.folder.glob("*.md")):
        headings.update((path.name, heading) for heading, _ in markdown_sections(path.read_text(encoding="utf-8")))
    return sum(1 for file, heading in chunks if (file, heading) not in headings)


def fitting(query: Query) -> bool:
    """Whether ``query`` is in the fitting half (a hash of its section's question; paraphrases follow it).

    The other half is untouched: the printed rows and the leave-one-source-out figures are measured
    on it, the grid is chosen on the fitting half only.
    """
    question = min(question for _, question in query.relevant)
    return hashlib.sha1(question.encode("utf-8")).digest()[0] % 2 == 0


def split(queries: list[Query]) -> tuple[list[Query], list[Query]]:
    """``(fitting, untouched)`` halves of ``queries`` (see :func:`fitting`)."""
    return [q for q in queries if fitting(q)], [q for q in queries if not fitting(q)]


def evaluate_corpus(corpus: FaqCorpus, paraphrases: dict, client, embeddings, workdir: Path) -> dict:  # type: ignore[no-untyped-def]
    """Print and return every method's figures on one corpus's untouched half (see the module docstring)."""
    from knowledge import KnowledgeBase, SearchOptions

    all_exact, all_reworded = corpus.queries(paraphrases)
    (fit_exact, exact), (fit_reworded, reworded) = split(all_exact), split(all_reworded)
    kb = KnowledgeBase(corpus.name, client=client, embeddings=embeddings)
    kb.ingest([corpus.folder])

    def variant(**options):  # type: ignore[no-untyped-def]
        return KnowledgeBase(
            corpus.name, client=client, embeddings=embeddings, create=False, search_options=SearchOptions(**options)
        )

    previous = previous_method(corpus, exact + reworded, workdir)
    found = [[tuple(hit) for hit in ranking] for ranking in previous["rankings"]]
    baseline = DenseBaseline(corpus.folder, embeddings)
    results: dict[str, Any] = {
        "baseline": scores(lambda q: baseline.search(q, 10), exact, reworded),
        "previous commit": _figures(found[: len(exact)], found[len(exact) :], exact, reworded),
        "dense, body only": scores(kb_ranker(variant(heading_vectors=False), "dense"), exact, reworded),
        "dense": scores(kb_ranker(kb, "dense"), exact, reworded),
        "bm25": scores(kb_ranker(kb, "lexical"), exact, reworded),
        "hybrid, body only": scores(kb_ranker(variant(heading_vectors=False)), exact, reworded),
        f"hybrid, fixed {PREVIOUS_SHARE}": scores(kb_ranker(variant(heading_share=PREVIOUS_SHARE)), exact, reworded),
        "hybrid": scores(kb_ranker(kb), exact, reworded),
        "hybrid + mmr": scores(kb_ranker(kb, mmr=True), exact, reworded),
        f"hybrid, min_rel {RAG_MIN_RELEVANCE}": scores(kb_ranker(kb, min_relevance=RAG_MIN_RELEVANCE), exact, reworded),
    }
    chunks = [(m["file"], str(m.get("heading", "")).split(" > ")[-1]) for m in kb.collection.get()["metadatas"]]
    print(
        f"\n{corpus.name} ({corpus.licence}): {len(corpus.sections)} sections in "
        f"{len({s.file for s in corpus.sections})} chapter files; untouched half: {len(exact)} questions, "
        f"{len(reworded)} paraphrases (fitting half: {len(fit_exact)}, {len(fit_reworded)})"
    )
    print(
        f"  chunks: previous {len(previous['chunks'])} ({mislabelled(previous['chunks'], corpus)} labelled with a "
        f"heading that is no heading of the file), now {len(chunks)} ({mislabelled(chunks, corpus)}); "
        f"baseline {len(baseline)}"
    )
    print(header())
    for label, figures in results.items():
        print(row(label, figures))
    timings = []
    for query in [q.text for q in all_exact][:200]:
        started = time.perf_counter()
        kb.search(query, 5)
        timings.append(time.perf_counter() - started)
    now, before = latency_percentiles(timings)["p50"], latency_percentiles(previous["timings"])["p50"]
    print(f"  hybrid query p50, k=5: previous commit {before:.1f} ms, now {now:.1f} ms (shared machine: noisy)")
    results["grid"] = {}
    for share in GRID:
        rank = kb_ranker(variant(heading_share=share))
        results["grid"][share] = {
            "fitting": scores(rank, fit_exact, fit_reworded),
            "untouched": scores(rank, exact, reworded),
        }
    return results


def objective(figures: dict[str, float]) -> float:
    """What the grid choice maximises: the mean of question recall@5 and paraphrase recall@1."""
    return (figures["recall@5"] + figures["para recall@1"]) / 2


def leave_one_source_out(results: dict[str, dict]) -> None:
    """Print, per source, the ``heading_share`` chosen on the *other* sources' fitting halves, scored on
    this source's untouched half, and the share chosen on every fitting half (the shipped default)."""
    print("\nLeave-one-source-out (heading_share chosen on the other sources' fitting halves; untouched half):")
    print(header())
    for held_out, figures in results.items():
        others = [name for name in results if name != held_out]
        chosen = max(GRID, key=lambda share: sum(objective(results[name]["grid"][share]["fitting"]) for name in others))
        print(row(f"{held_out[:14]} share={chosen}", figures["grid"][chosen]["untouched"]))
    pooled = max(GRID, key=lambda share: sum(objective(f["grid"][share]["fitting"]) for f in results.values()))
    print(f"  chosen on both fitting halves: heading_share={pooled}")
