"""Suite-wide setup: offline, and every piece of runtime state in a temporary folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Set before any test module imports transformers / huggingface_hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
_SESSION_DATA = Path(tempfile.mkdtemp(prefix="modelyard-test-data-"))
os.environ["MODELYARD_DATA_DIR"] = str(_SESSION_DATA)
for key in ("OPENAI_API_KEY", "HF_TOKEN", "CHROMA_HOST", "CHROMA_PORT", "REDIS_URL", "DATABASE_URL"):
    os.environ.pop(key, None)

from tests.support.postgres import postgres_database, store_target  # noqa: E402, F401 - fixtures
from tests.support.upstream import FakeUpstream  # noqa: E402


@pytest.fixture(scope="session")
def session_data_dir() -> Path:
    """The suite's data folder (converted models are cached here for the whole run)."""
    return _SESSION_DATA


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    """A fresh fake OpenAI-compatible provider on a loopback port."""
    with FakeUpstream() as server:
        yield server


ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
