"""Every notebook in ``notebooks/`` runs headlessly, offline, and computes something real.

Each notebook is executed in a fresh kernel (the ``python3`` kernel of this venv) with its own
temporary ``MODELYARD_DATA_DIR``; its last cell prints a JSON summary that is checked here.
The executed copy stays in memory: the file in the repository is never written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook, new_output

from core.settings import PROJECT_ROOT
from routers.evaluation import load_dev_set

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def stored_outputs(nb: nbformat.NotebookNode) -> list[int]:
    """Indexes of code cells that carry outputs, an execution count or run timestamps (strip them in git)."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and (cell.outputs or cell.execution_count is not None or "execution" in cell.metadata)
    ]


def run_notebook(path: Path, data_dir: Path) -> dict[str, Any]:
    """Execute ``path`` in memory; the JSON its last code cell prints."""
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "MODELYARD_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(PROJECT_ROOT)}})
    client.execute(env=env)
    last = [cell for cell in nb.cells if cell.cell_type == "code"][-1]
    printed = "".join(out.text for out in last.outputs if out.output_type == "stream" and out.name == "stdout")
    return json.loads(printed)


def check_compare_models(summary: dict[str, Any], data_dir: Path) -> None:
    models = summary["models"]
    assert {"smollm2-135m", "smollm2-135m-transformers"} <= set(models)
    for name, stats in models.items():
        assert stats["answered"] == summary["prompts"] >= 1, name
        assert stats["output_tokens"] > 0 and stats["mean_latency_s"] > 0, name
        assert stats["cost_usd"] == 0.0, name  # local engines are free
    # the same weights and chat template: both engines count the same prompt tokens
    assert models["smollm2-135m"]["input_tokens"] == models["smollm2-135m-transformers"]["input_tokens"] > 0
    assert summary["unavailable"]["gpt-4o-mini"] == "OPENAI_API_KEY is not set"
    assert list(data_dir.glob("models/*/model.safetensors"))  # converted into the temp dir, not the repo


def check_routing_eval(summary: dict[str, Any], data_dir: Path) -> None:
    rows = load_dev_set()
    assert summary["prompts"] == len(rows)
    assert 0.8 <= summary["accuracy"] <= 1.0
    assert set(summary["per_split"]) == {r.split for r in rows}
    strategies = summary["strategies"]
    best = next(s for name, s in strategies.items() if name.startswith("best"))
    generous, tight = strategies["task + cost ≤ $0.001"], strategies["task + cost ≤ $3e-05"]
    assert best["served"] == best["fit"] == 1.0
    assert generous["served"] == 1.0 and generous["$ per 1k requests"] < best["$ per 1k requests"]
    assert tight["served"] < generous["served"] and tight["$ per 1k requests"] <= generous["$ per 1k requests"]
    for stats in strategies.values():
        assert 0.0 <= stats["fit"] <= stats["served"] <= 1.0
    # the trained task head (routers/data/task_head.npz) caches nothing; the nearest-examples method it
    # replaced cached its example vectors under data_dir, which this check used to look for


def check_ab_analysis(summary: dict[str, Any], data_dir: Path) -> None:
    arms = summary["arms"]
    assert set(arms) == {"llamacpp", "transformers"} == set(summary["users_per_arm"])
    assert summary["users_in_two_arms"] == 0
    for name, stats in arms.items():
        assert stats["requests"] > stats["votes"] > 0, name
        assert 0.0 <= stats["satisfaction"] <= 1.0 and 0.0 <= stats["error_rate"] < 0.1, name
    assert 0.0 <= summary["p_value_satisfaction"] <= 1.0
    # medians 0.5 s vs 2.5 s over thousands of requests: Welch's test must see it
    assert arms["transformers"]["mean_latency_s"] > arms["llamacpp"]["mean_latency_s"]
    assert 0.0 <= summary["p_value_latency"] < 0.001
    assert list(data_dir.glob("ab-*/experiments.sqlite"))


def check_rag_eval(summary: dict[str, Any], data_dir: Path) -> None:
    import zaragoza_construction_faq

    assert summary["answers_indexed"] == len(zaragoza_construction_faq.load(lang="en"))
    methods = summary["methods"]
    assert {"dense", "bm25", "hybrid"} <= set(methods)
    for name, scores in methods.items():
        recalls = [scores[f"recall@{k}"] for k in range(1, 11)]
        assert all(0.0 <= r <= 1.0 for r in recalls), name
        assert recalls == sorted(recalls), name  # recall@k never falls as k grows
        assert recalls[0] <= scores["mrr@10"] <= recalls[-1], name
    assert methods["dense"]["recall@10"] >= 0.5 and methods["hybrid"]["recall@10"] >= 0.5
    assert list(data_dir.glob("retrieval-*/chroma/*"))


CHECKS: dict[str, Callable[[dict[str, Any], Path], None]] = {
    "01_compare_models.ipynb": check_compare_models,
    "02_routing_eval.ipynb": check_routing_eval,
    "03_ab_analysis.ipynb": check_ab_analysis,
    "04_rag_eval.ipynb": check_rag_eval,
}


def test_every_notebook_has_a_check():
    assert [p.name for p in NOTEBOOKS] == sorted(CHECKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert stored_outputs(nb) == [], f"strip {path.name} (see notebooks/README.md)"


def test_stored_outputs_finds_outputs_and_counts():
    cells = [new_code_cell("1 + 1"), new_code_cell("x = 1"), new_code_cell("print(2)"), new_code_cell("y = 2")]
    nb = new_notebook(cells=cells)
    nb.cells[0].execution_count = 1
    nb.cells[2].outputs = [new_output("stream", name="stdout", text="2\n")]
    nb.cells[3].metadata["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00Z"}
    assert stored_outputs(nb) == [0, 2, 3]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_offline(path, tmp_path):
    before = path.read_bytes()
    summary = run_notebook(path, tmp_path)
    CHECKS[path.name](summary, tmp_path)
    assert path.read_bytes() == before
