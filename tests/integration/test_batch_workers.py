"""Batches on Redis, run by worker processes: a worker killed with ``kill -9`` mid-batch loses nothing.

A gateway replica (``python -m app.server`` with ``REDIS_URL`` and this run's own prefix) takes the
batch; two ``python -m app.worker`` processes on the same data folder and Redis run its lines against
a slow fake upstream. One worker is killed outright while lines are in flight; the other takes over its
jobs once their lease (``MODELYARD_JOB_LEASE_SECONDS``, 2 s here) lapses, and the batch completes with
every line in the output file exactly once, each answer matching its own request.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.redis_server import drop_prefix, fresh_prefix, redis_url, require_redis
from tests.support.replicas import ROOT, gateway_replica
from tests.support.upstream import FakeUpstream
from tests.support.workers import batch_worker

MASTER = "batch-workers-admin"
ADMIN = {"Authorization": f"Bearer {MASTER}"}
LINES = 24


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeUpstream, str, dict[str, str], Path]]:
    client = require_redis()
    prefix = fresh_prefix("batches")
    env = {"REDIS_URL": redis_url(), "MODELYARD_REDIS_PREFIX": prefix, "MODELYARD_JOB_LEASE_SECONDS": "2"}
    data_dir = tmp_path / "data"
    try:
        with FakeUpstream() as upstream, gateway_replica(data_dir, MASTER, **env) as url:
            spec = {
                "name": "slow",
                "provider": "openai",
                "tasks": ["chit_chat"],
                "deployments": [{"name": "d0", "base_url": upstream.base_url, "model_id": "fake-gpt", "timeout": 30}],
            }
            assert httpx.post(f"{url}/api/models", json=spec, headers=ADMIN).status_code == 201
            yield upstream, url, env, data_dir
    finally:
        drop_prefix(client, prefix)
        client.close()


def _show(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(no worker output)"


def test_a_worker_killed_mid_batch_loses_no_line_and_the_other_finishes_it(cluster, tmp_path):
    upstream, url, env, data_dir = cluster
    secret = httpx.post(f"{url}/api/keys", headers=ADMIN, json={"name": "batcher"}).json()["secret"]
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0, timeout=30)
    lines = [
        {
            "custom_id": f"k{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "slow", "messages": [{"role": "user", "content": f"line {i}"}]},
        }
        for i in range(LINES)
    ]
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    file_id = client.files.create(file=("k.jsonl", io.BytesIO(content)), purpose="batch").id
    upstream.set_latency(0.4)  # lines are in flight on both workers when one dies
    log_a, log_b = tmp_path / "worker-a.log", tmp_path / "worker-b.log"
    with batch_worker(data_dir, log_a, **env) as doomed, batch_worker(data_dir, log_b, **env) as survivor:
        batch = client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h")
        deadline = time.monotonic() + 60
        while client.batches.retrieve(batch.id).request_counts.completed < 4:
            assert doomed.poll() is None and survivor.poll() is None, _show(log_a) + _show(log_b)
            assert time.monotonic() < deadline, "no lines finished in 60 s:\n" + _show(log_a) + _show(log_b)
            time.sleep(0.05)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
        killed = time.monotonic()
        killed_at = client.batches.retrieve(batch.id).request_counts.completed
        while (current := client.batches.retrieve(batch.id)).status not in ("completed", "failed"):
            assert survivor.poll() is None, _show(log_b)
            assert time.monotonic() < deadline + 60, f"still {current.status}: {current.request_counts}\n" + _show(
                log_b
            )
            time.sleep(0.1)
        finished_after = time.monotonic() - killed
    upstream.set_latency(0.0)
    assert current.status == "completed", current
    assert (current.request_counts.total, current.request_counts.completed, current.request_counts.failed) == (
        LINES,
        LINES,
        0,
    )
    output = [json.loads(line) for line in client.files.content(current.output_file_id).text.splitlines()]
    assert sorted(line["custom_id"] for line in output) == sorted(f"k{i}" for i in range(LINES))  # each once
    for line in output:
        answer = line["response"]["body"]["choices"][0]["message"]["content"]
        assert answer == f"echo: line {line['custom_id'].removeprefix('k')}"
    asked = [r.body["messages"][-1]["content"] for r in upstream.requests if r.path.endswith("/chat/completions")]
    rerun = len(asked) - LINES  # lines the killed worker had in flight, asked again by the survivor
    print(
        f"\nkilled after {killed_at}/{LINES} lines; the survivor finished the batch {finished_after:.1f} s later "
        f"(lease 2 s); {rerun} upstream call(s) the killed worker had in flight were made again"
    )
    assert set(asked) == {f"line {i}" for i in range(LINES)} and rerun <= 2  # at most its 2 threads' calls


def test_a_worker_stops_cleanly_on_sigterm_and_refuses_to_start_without_redis(tmp_path):
    client = require_redis()
    prefix = fresh_prefix("worker-stop")
    log = tmp_path / "worker.log"
    env = {"REDIS_URL": redis_url(), "MODELYARD_REDIS_PREFIX": prefix}
    try:
        with batch_worker(tmp_path / "data", log, **env) as worker:
            deadline = time.monotonic() + 60
            while "serving jobs" not in (log.read_text(errors="replace") if log.exists() else ""):
                assert worker.poll() is None and time.monotonic() < deadline, _show(log)
                time.sleep(0.1)
            worker.send_signal(signal.SIGTERM)  # what Kubernetes sends before it kills a pod
            assert worker.wait(timeout=30) == 0, _show(log)
    finally:
        drop_prefix(client, prefix)
        client.close()
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    refused = subprocess.run(
        [sys.executable, "-m", "app.worker"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2 and "set REDIS_URL" in refused.stderr
