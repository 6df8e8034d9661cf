"""``python -m knowledge``: a round trip through real subprocesses, plus in-process details."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.cli import main

ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str, stdin: str = "", data_home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODELYARD_DATA_DIR": str(data_home), "PYTHONPATH": str(ROOT)}
    env.pop("CHROMA_HOST", None)
    env.pop("CHROMA_PORT", None)
    return subprocess.run(
        [sys.executable, "-m", "knowledge", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=240,
    )


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "care.md").write_text("# Tool care\n\n## Blades\n\nSharpen mower blades every spring.\n")
    (folder / "faq.jsonl").write_text(
        json.dumps({"question": "能退货吗？", "answer": "30 天内可以退货。"}, ensure_ascii=False) + "\n"
    )
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    return folder


def test_ingest_search_list_delete_round_trip(data_home, docs, capsys):
    # ingest in-process (shares the loaded embedding model with the other tests) ...
    assert main(["ingest", str(docs), "--collection", "tools", "--quiet"]) == 0
    assert "2 added" in capsys.readouterr().out

    # ... and read it back from fresh processes through the real entry point.
    queries = '{"query": "when should I sharpen the blades"}\n\n{"query": "退货"}\n{"oops": 1}\n'
    searched = run_cli("search", "--collection", "tools", "--k", "2", stdin=queries, data_home=data_home)
    assert searched.returncode == 0, searched.stderr
    lines = [json.loads(line) for line in searched.stdout.splitlines()]
    assert len(lines) == 3
    top = lines[0]["results"][0]
    assert top["heading"] == "Tool care > Blades" and top["source"] == str(docs / "care.md")
    assert "Sharpen mower blades" in top["text"] and isinstance(top["score"], float)
    assert "30 天内可以退货" in lines[1]["results"][0]["text"]
    assert "error" in lines[2]

    listed = run_cli("list", data_home=data_home)
    assert listed.returncode == 0 and "tools\t2 documents\t2 chunks" in listed.stdout

    capsys.readouterr()
    assert main(["delete", "--collection", "tools"]) == 0
    assert main(["list"]) == 0
    assert "tools" not in capsys.readouterr().out.replace("deleted collection tools", "")


def test_ingest_warns_about_skipped_files_on_stderr(data_home, docs, capsys):
    assert main(["ingest", str(docs), "--collection", "tools", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "1 skipped" in captured.out


def test_search_reads_queries_from_a_file(data_home, docs, tmp_path, capsys):
    main(["ingest", str(docs / "care.md"), "--collection", "tools", "--quiet"])
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"query": "blades"}\n')
    capsys.readouterr()
    assert main(["search", "--collection", "tools", "--k", "1", "--input", str(queries)]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["results"][0]["heading"] == "Tool care > Blades"


def test_unknown_collection_is_an_error_with_exit_code_1(data_home, capsys):
    assert main(["search", "--collection", "missing", "--k", "1", "--input", os.devnull]) == 1
    assert "no knowledge collection named 'missing'" in capsys.readouterr().err
    assert main(["delete", "--collection", "missing"]) == 1


def test_delete_one_document(data_home, docs, capsys):
    main(["ingest", str(docs), "--collection", "tools", "--quiet"])
    assert main(["delete", "--collection", "tools", "--source", str(docs / "care.md")]) == 0
    assert "removed 1 chunks" in capsys.readouterr().out
