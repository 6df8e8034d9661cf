"""One gateway vs three replicas on Redis, on loopback, against the fast fake upstream.

Three configurations are measured in one run, each the shipped gateway (``python -m app.server``
on the shipped ``config/``, started the documented way with ``MODELYARD_MASTER_KEY``; the fake
upstream of :mod:`bench.gateway_overhead` registered through ``POST /api/models``; one consumer
key with rpm, tpm and a budget set, so every request is admitted, reserved and settled):

* **embedded** — one process, no ``REDIS_URL``: what ``make run`` / ``make serve`` start;
* **1 replica on Redis** — the same process with ``REDIS_URL``: limits, budget, health and the
  exact cache in Redis;
* **3 replicas on Redis** — three such processes on one data folder and one Redis prefix; the
  load generator spreads requests over them round-robin.

Printed per configuration: requests/s at concurrency 50, added latency p50/p99 against the
upstream called directly in the same rounds (concurrency 1 and 50), Redis round-trips per request
(``modelyard_redis_roundtrips_total`` of every replica, limits and cache), and CPU ms per request
— per replica and in total. Every request is distinct (exact-cache misses). No asserts.

The machine has 2 cores: three replicas, the upstream and the load generator share them, so three
replicas cannot be faster than one here; the per-request CPU says what a replica costs where
each has its own core.

    .venv/bin/python bench/replicas.py [--c1-requests 1000] [--c50-requests 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import gateway_overhead as base  # noqa: E402

ADMIN = {"authorization": "Bearer bench-admin"}
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Cluster:
    label: str
    replicas: list[base.Proc]
    prefix: str | None = None
    samples: dict[str, base.Samples] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    """Per phase: CPU seconds of each replica."""
    roundtrips: float = 0.0
    requests: int = 0


def start_replica(env: dict[str, str], data: Path, redis_prefix: str | None) -> base.Proc:
    port = base.free_port()
    replica_env = {**env, "MODELYARD_DATA_DIR": str(data), "MODELYARD_MASTER_KEY": "bench-admin"}
    replica_env.pop("MODELYARD_CONFIG_DIR", None)
    if redis_prefix is not None:
        replica_env |= {"REDIS_URL": REDIS_URL, "MODELYARD_REDIS_PREFIX": redis_prefix}
    args = ["-m", "app.server", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    popen = subprocess.Popen(
        [sys.executable, *args], env=replica_env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=None
    )
    proc = base.Proc(f"gateway :{port}", popen, f"http://127.0.0.1:{port}")
    base.wait_ready(proc, "/healthz")
    return proc


def start_cluster(label: str, env: dict[str, str], data: Path, up_v1: str, count: int, redis: bool) -> Cluster:
    import httpx

    data.mkdir()
    prefix = f"bench-{uuid.uuid4().hex[:8]}" if redis else None
    replicas = [start_replica(env, data, prefix) for _ in range(count)]
    first = replicas[0].url
    spec = {
        "name": base.MODEL,
        "provider": "openai",
        "tasks": ["chit_chat"],
        "cost": {"input_per_1k": 0.0005, "output_per_1k": 0.0015},
        "params": {"temperature": {"min": 0, "max": 2}, "max_tokens": {"type": "int", "min": 1, "max": 500}},
        "deployments": [{"name": "d0", "base_url": up_v1, "timeout": 10}],
    }
    httpx.post(first + "/api/models", json=spec, headers=ADMIN, timeout=30).raise_for_status()
    key = {"name": "bench", "allowed_models": [base.MODEL], "rpm": 10_000_000, "tpm": 10**10, "budget_usd": 1e9}
    created = httpx.post(first + "/api/keys", json=key, headers=ADMIN, timeout=30)
    created.raise_for_status()
    base.HEADERS["authorization"] = "Bearer " + created.json()["secret"]
    for replica in replicas:  # the model and the key reached every replica (keys are re-read every 0.5 s)
        deadline = time.monotonic() + 30
        while True:
            answer = httpx.post(
                replica.url + "/v1/chat/completions", content=base.body(base.MODEL, False), headers=base.HEADERS
            )
            if answer.status_code == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{replica.name} never served the bench key: {answer.text[:200]}")
            time.sleep(0.1)
    return Cluster(label, replicas, prefix)


def roundtrips(cluster: Cluster) -> float:
    import httpx

    total = 0.0
    for replica in cluster.replicas:
        text = httpx.get(replica.url + "/metrics", headers=ADMIN, timeout=10).text
        total += sum(float(v) for v in re.findall(r"^modelyard_redis_roundtrips_total\{[^}]*\} (\S+)$", text, re.M))
    return total


async def phase(cluster: Cluster, upstream_url: str, name: str, n: int, concurrency: int, rounds: int = 8) -> None:
    """Interleaved rounds: direct to the upstream, then spread over the replicas (order alternating)."""
    import aiohttp
    import psutil

    procs = [psutil.Process(r.popen.pid) for r in cluster.replicas]
    direct, through = base.Samples(), base.Samples()
    cpu = [0.0] * len(procs)
    urls = itertools.cycle([r.url + "/v1/chat/completions" for r in cluster.replicas])
    per_round = max(1, n // rounds)
    connector = aiohttp.TCPConnector(limit=concurrency * 2, limit_per_host=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def spread(count: int, out: base.Samples) -> None:
            left = count

            async def worker() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    await base.one(session, next(urls), base.body(base.MODEL, False), False, out)

            started = time.perf_counter()
            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), base.PHASE_TIMEOUT)
            out.wall += time.perf_counter() - started

        await spread(concurrency * 2, base.Samples())  # warm the pools
        for r in range(rounds):
            order = ["direct", "gateway"] if r % 2 == 0 else ["gateway", "direct"]
            for which in order:
                if which == "direct":
                    await base.run_round(session, upstream_url, per_round, concurrency, base.MODEL, False, direct)
                    continue
                before = [p.cpu_times() for p in procs]
                trips = roundtrips(cluster)
                await spread(per_round, through)
                cluster.roundtrips += roundtrips(cluster) - trips
                cluster.requests += per_round
                for i, (p, b) in enumerate(zip(procs, before, strict=True)):
                    after = p.cpu_times()
                    cpu[i] += (after.user - b.user) + (after.system - b.system)
    cluster.samples[f"{name} direct"], cluster.samples[name] = direct, through
    cluster.cpu[name] = cpu


def report(clusters: list[Cluster]) -> None:
    pct, ms = base.pct, base.ms
    print("\n" + "=" * 100)
    print("one gateway vs three replicas on Redis (shipped config/, fast fake upstream, loopback)")
    print("=" * 100)
    header = f"{'configuration':<24}{'phase':<6}{'req/s':>9}{'x embedded':>11}{'added p50':>11}{'added p99':>11}"
    print(header + f"{'errors':>8}{'CPU ms/req':>12}  per replica")
    embedded_rps = None
    for cluster in clusters:
        for name in ("c=1", "c=50"):
            through, direct = cluster.samples[name], cluster.samples[f"{name} direct"]
            rps = through.requests / through.wall if through.wall else float("nan")
            if cluster is clusters[0] and name == "c=50":
                embedded_rps = rps
            ratio = f"{rps / embedded_rps:10.2f}x" if name == "c=50" and embedded_rps else f"{'':>11}"
            added50 = pct(through.latencies, 0.5) - pct(direct.latencies, 0.5)
            added99 = pct(through.latencies, 0.99) - pct(direct.latencies, 0.99)
            cpu = cluster.cpu[name]
            per_request = sum(cpu) / max(1, through.requests) * 1000
            per_replica = " ".join(f"{c / max(1, through.requests) * len(cpu) * 1000:.2f}" for c in cpu)
            print(
                f"{cluster.label:<24}{name:<6}{rps:9.0f}{ratio}{ms(added50)}   {ms(added99)}"
                f"{through.errors:>8}{per_request:12.3f}  {per_replica}"
            )
        if cluster.prefix is not None:
            print(
                f"{'':<24}Redis round-trips per request (limits + cache): {cluster.roundtrips / cluster.requests:.2f}"
            )
    print(
        "\nCPU ms/req is every replica's CPU over the requests served; 'per replica' is each replica's CPU over\n"
        "the requests it served (a third of them with three). 2 cores are shared by the replicas, the upstream,\n"
        "Redis and this load generator: at c=50 the machine's CPU, not the replica count, bounds throughput."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--c1-requests", type=int, default=1_000, help="requests per configuration at concurrency 1")
    parser.add_argument("--c50-requests", type=int, default=4_000, help="requests per configuration at concurrency 50")
    args = parser.parse_args()
    import redis

    redis.Redis.from_url(REDIS_URL).ping()  # fails with the reason when Redis is not running
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-replicas-") as tmp:
        tmp_path = Path(tmp)
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "bench-unused"),
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("MODELYARD_MASTER_KEY", "REDIS_URL", "DATABASE_URL"):
            env.pop(name, None)
        up_port = base.free_port()
        upstream = base.spawn("upstream", ["--serve-upstream", "--port", str(up_port)], up_port, env)
        clusters: list[Cluster] = []
        try:
            base.wait_ready(upstream, "/v1/models")
            print(f"{os.cpu_count()} cores; python {sys.version.split()[0]}; Redis {REDIS_URL}")
            for label, count, redis_on in (
                ("embedded (1, no Redis)", 1, False),
                ("1 replica on Redis", 1, True),
                ("3 replicas on Redis", 3, True),
            ):
                cluster = start_cluster(
                    label, env, tmp_path / f"c{len(clusters)}", upstream.url + "/v1", count, redis_on
                )
                clusters.append(cluster)
                try:
                    asyncio.run(phase(cluster, upstream.url, "c=1", args.c1_requests, 1))
                    asyncio.run(phase(cluster, upstream.url, "c=50", args.c50_requests, 50))
                finally:
                    for replica in cluster.replicas:
                        base.stop(replica, graceful=True)
                    if cluster.prefix is not None:
                        client = redis.Redis.from_url(REDIS_URL)
                        names = list(client.scan_iter(match=f"{cluster.prefix}:*", count=500))
                        if names:
                            client.delete(*names)
            report(clusters)
            print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")
        finally:
            for cluster in clusters:
                for replica in cluster.replicas:
                    base.stop(replica)
            base.stop(upstream)


if __name__ == "__main__":
    main()
