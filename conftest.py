"""Doctests of the packages (``make test``: ``pytest --doctest-modules core models ... app``).

The docstring examples run offline with their runtime state in a temporary folder, as the test
suite does (``tests/conftest.py``). Streamlit scripts, notebooks, benchmarks and helper scripts are
not importable modules, so they are not collected.
"""

from __future__ import annotations

import os
import tempfile

import pytest
from _pytest.doctest import DoctestItem

# Set before any collected module imports transformers / huggingface_hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ.setdefault("MODELYARD_DATA_DIR", tempfile.mkdtemp(prefix="modelyard-doctest-data-"))
for key in ("OPENAI_API_KEY", "HF_TOKEN", "CHROMA_HOST", "CHROMA_PORT", "DATABASE_URL"):
    os.environ.pop(key, None)

# Streamlit runs these as scripts (``streamlit run``); importing one would render a page.
collect_ignore = ["app/ui/main.py"]
# Alembic runs its env.py inside a migration (store.migrations.migrate); importing it alone has no context.
collect_ignore.append("store/migrations/env.py")
collect_ignore_glob = ["app/ui/pages/*.py", "notebooks/*", "bench/*", "scripts/*"]


@pytest.fixture(autouse=True)
def _doctest_tmp_path(request: pytest.FixtureRequest) -> None:
    """Examples that write files name their folder ``tmp_path``, a fresh one per docstring."""
    if isinstance(request.node, DoctestItem):
        request.getfixturevalue("doctest_namespace")["tmp_path"] = request.getfixturevalue("tmp_path")
