"""Helpers for the Streamlit page tests: page paths, a private data folder, every rendered text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[3] / "app" / "ui" / "pages"


def page(name: str, timeout: float = 180) -> AppTest:
    """Run ``app/ui/pages/<name>.py`` once and check it rendered without an exception."""
    app = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=timeout).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def rendered_text(app: AppTest) -> str:
    """Every element's protobuf (text, tables' Arrow bytes, chart specs) in the main area and sidebar."""

    def walk(node) -> Iterator[str]:
        proto = getattr(node, "proto", None)
        if proto is not None:
            yield str(proto)
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    return "\n".join([*walk(app.main), *walk(app.sidebar)])


def table(app: AppTest, column: str) -> pd.DataFrame:
    """The first table (``st.dataframe``) on the page that has ``column``."""
    for frame in app.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a '{column}' column; tables: {[list(f.value.columns) for f in app.dataframe]}")


@pytest.fixture
def own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh MODELYARD_DATA_DIR: the app's shared objects are keyed by it, so this test gets its own
    registry, request log, experiments and knowledge base."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("MODELYARD_DATA_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def _no_warmup_left_running() -> Iterator[None]:
    """Let a page's background warm-up finish before the next test parses a page: CPython 3.11.7's
    parser is not safe when two threads compile at once ("AST constructor recursion depth mismatch")."""
    import threading

    yield
    for thread in threading.enumerate():
        if thread.name == "modelyard-warmup":
            thread.join(timeout=120)
