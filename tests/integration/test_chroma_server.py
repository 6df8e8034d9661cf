"""Server-mode Chroma: a real ``chroma run`` on loopback, reached through CHROMA_HOST/CHROMA_PORT.

Replicas share the server: what one ingests, another (opened before the ingest, with its lexical
index already built) finds on its next search."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from knowledge import KnowledgeBase, delete_collection, list_collections
from knowledge.store import chroma_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """``chroma run`` on a free loopback port, stopped after the module."""
    path, port = tmp_path_factory.mktemp("chroma-server"), free_port()
    executable = Path(sys.executable).parent / "chroma"
    log = (path / "server.log").open("wb")
    process = subprocess.Popen(
        [str(executable), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma server did not start: {(path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield port, path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def server_env(chroma_server, tmp_path, monkeypatch) -> Path:
    port, _ = chroma_server
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(port))
    monkeypatch.setenv("MODELYARD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_knowledge_base_round_trip_through_the_server(server_env, chroma_server, tmp_path):
    port, server_path = chroma_server
    settings = chroma_client().get_settings()
    assert settings.chroma_api_impl == "chromadb.api.fastapi.FastAPI"
    assert (settings.chroma_server_host, int(settings.chroma_server_http_port or 0)) == ("127.0.0.1", port)

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "care.md").write_text("# Tool care\n\n## Blades\n\nSharpen mower blades every spring.\n")
    (docs / "faq.jsonl").write_text('{"question": "运费是多少？", "answer": "标准配送运费 4.95 欧元。"}\n')

    kb = KnowledgeBase("server-docs")
    early = KnowledgeBase("server-docs", client=chroma_client())  # another replica, open before the ingest
    assert early.search("when to sharpen blades", k=1) == []
    report = kb.ingest([docs])
    assert len(report.added) == 2 and kb.ingest([docs]).chunks_written == 0

    # A second, independent client sees the same data: it lives in the server.
    other = KnowledgeBase("server-docs", client=chroma_client(), create=False)
    assert other.stats().documents == 2
    assert other.search("when to sharpen blades", k=1)[0].heading == "Tool care > Blades"
    assert "4.95" in other.search("运费多少", k=1)[0].text
    assert early.search("when to sharpen blades", k=1)[0].heading == "Tool care > Blades"  # its index caught up
    assert "4.95" in early.search("运费多少", k=1)[0].text  # the lexical (BM25) side too: Chinese leads with it
    assert "server-docs" in list_collections()
    assert not (server_env / "chroma").exists() or not any((server_env / "chroma").iterdir())
    assert any(server_path.iterdir())

    assert kb.delete_document(docs / "care.md") == 1
    assert other.stats().documents == 1
    assert delete_collection("server-docs") is True
    assert "server-docs" not in list_collections()
