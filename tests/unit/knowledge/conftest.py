"""Fixtures for the knowledge tests: a private data folder, real Chroma, real embeddings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings

from knowledge import KnowledgeBase, ensure_sample_kb


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh MODELYARD_DATA_DIR for one test, with embedded (not server) Chroma."""
    home = tmp_path / "data"
    monkeypatch.setenv("MODELYARD_DATA_DIR", str(home))
    monkeypatch.delenv("CHROMA_HOST", raising=False)
    monkeypatch.delenv("CHROMA_PORT", raising=False)
    return home


@pytest.fixture
def make_kb(data_home: Path) -> Callable[..., KnowledgeBase]:
    """Build knowledge bases in the test's data folder (default client, shared embeddings)."""
    return lambda name="docs", **kwargs: KnowledgeBase(name, **kwargs)


@pytest.fixture(scope="module")
def shop_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The Yardstore sample, ingested once per test module into its own Chroma folder."""
    path = tmp_path_factory.mktemp("shop-chroma")
    client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    report = ensure_sample_kb(client=client)
    assert not report.skipped and report.chunks_written > 0
    return KnowledgeBase("shop", client=client, create=False)
