"""What the gateway adds on top of a fast upstream, in the configuration a user gets.

A lean OpenAI-compatible fake upstream (raw ASGI on uvicorn, constant answers) runs in its own
process on 127.0.0.1; this process is the load generator (aiohttp, pooled connections). Two
gateways are measured against it, one after the other, in the same run:

* **shipped** — ``python -m app.server --host 127.0.0.1 --port P`` with the shipped ``config/``
  (every routing policy including the task classifier, health, moderation, the knowledge routes,
  the exact response cache on), started the documented way with ``MODELYARD_MASTER_KEY`` set; the
  fake upstream is registered through the admin API (``POST /api/models``) as model
  ``fake-chat`` and a consumer key with every limit set is created through ``POST /api/keys``;
* **reduced** — ``create_app`` over a one-model catalog and a routing config without the
  ``task`` policy (the configuration earlier figures were taken on), kept as the second row.

The same ``/v1/chat/completions`` requests go directly to the upstream and through the gateway
in interleaved rounds, so both paths see the same machine state. Measured per gateway:

* added latency p50/p99 (gateway minus direct) at concurrency 1 and 50 with ``model`` named;
  ``model="auto"`` with prompts the keyword rules decide ("Translate … into French") and, on the
  shipped config, prompts that need the semantic task classifier (the MiniLM head, run in a
  worker thread);
* streaming time-to-first-token added (``stream: true``; first event carrying content);
* requests/s direct vs through the gateway at concurrency 50, and their ratio;
* gateway CPU ms per request (psutil ``cpu_times`` of the gateway process around its rounds);
* the gateway's own ``x-modelyard-overhead-ms`` header (p50), beside the measured added latency;
* gateway RSS right after start, after warm-up and after ``--requests`` more requests.

Every request is distinct (the exact cache is consulted and misses). The load generator, the
upstream and the gateway share the machine's cores, so on a 2-core box the concurrency-50
figures are bounded by the CPU of all three. No asserts: the targets from the issue and the
peers' figures it reports (measured there, not in this run) are printed next to the measurements.

    .venv/bin/python bench/gateway_overhead.py [--requests 20000] [--only shipped|reduced] [--profile]

``--profile`` (or ``--profile-only``) also runs a fresh reduced gateway under cProfile for
``--profile-requests`` requests at concurrency 1 and prints where its time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "fake-chat"
PROMPT = [{"role": "user", "content": "hi"}]
PROMPTS = {
    "plain": "hi #{n}",
    "rule": "Translate 'good morning #{n}' into French",  # decided by a keyword rule, no embedding
    "semantic": "Which river flows through the old town of number {n}?",  # needs the MiniLM task head
}
"""The prompt of each request kind; ``{n}`` makes every request distinct (exact-cache misses)."""
REPLY_WORDS = ["Hello", " there", "!"]
TARGETS = {"p50_c1": 1.0, "p99_c1": 3.0, "ttft": 1.0, "cpu": 1.5, "rss": 5.0}
REQUEST_TIMEOUT = 30.0
PHASE_TIMEOUT = 150.0  # no single phase may run longer than this
HEADERS = {"content-type": "application/json"}
"""Sent on every request; the gateway's consumer key is added once it has started (the fast
upstream ignores it), so the key check and its rate limits are inside the measured path."""


def use_consumer_key(data: Path) -> None:
    HEADERS["authorization"] = "Bearer " + (data / "consumer-key").read_text().strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- the fast upstream (its own process) -------------------------------------------------------
def _upstream_app():
    usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    created = int(time.time())

    def body_for(model: str) -> bytes:
        return json.dumps(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": created,
                "model": model,
                "usage": usage,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(REPLY_WORDS)},
                        "finish_reason": "stop",
                    }
                ],
            }
        ).encode()

    def events_for(model: str, include_usage: bool) -> list[bytes]:
        def event(choices, **extra) -> bytes:
            payload = {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
                **extra,
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        events = [event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
        events += [event([{"index": 0, "delta": {"content": w}, "finish_reason": None}]) for w in REPLY_WORDS]
        events.append(event([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        if include_usage:
            events.append(event([], usage=usage))
        events.append(b"data: [DONE]\n\n")
        return events

    cache: dict[tuple, object] = {}
    models = json.dumps({"object": "list", "data": [{"id": "fake-gpt", "object": "model"}]}).encode()

    async def app(scope, receive, send):
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while (await receive())["type"] != "lifespan.shutdown":
                    await send({"type": "lifespan.startup.complete"})
                await send({"type": "lifespan.shutdown.complete"})
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        if scope["path"].endswith("/models"):
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": models})
            return
        try:
            body = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            body = {}
        model = str(body.get("model", "fake-gpt"))
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            key = ("s", model, include_usage)
            if key not in cache:
                cache[key] = events_for(model, include_usage)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
                }
            )
            for event in cache[key]:
                await send({"type": "http.response.body", "body": event, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        key = ("j", model)
        if key not in cache:
            cache[key] = body_for(model)
        payload = cache[key]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


def serve_upstream(port: int) -> None:
    import uvicorn

    uvicorn.run(_upstream_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


# ---- the gateway (its own process) -------------------------------------------------------------
def build_gateway(upstream_url: str, data: Path):
    from app.server import create_app
    from models.registry import Registry
    from models.spec import ModelSpec
    from routers.config import RoutingConfig
    from routers.experiments import Experiments
    from routers.router import RouterRunnable

    spec = ModelSpec(
        name=MODEL,
        provider="openai",
        tasks=["chit_chat"],
        cost={"input_per_1k": 0.0005, "output_per_1k": 0.0015},
        params={"temperature": {"min": 0, "max": 2}, "max_tokens": {"type": "int", "min": 1, "max": 500}},
        deployments=[{"name": "d0", "base_url": upstream_url, "timeout": 10}],
    )
    registry = Registry(db_path=data / "registry.sqlite", catalog_specs=[spec])
    config = RoutingConfig.model_validate(
        {
            "policies": ["explicit", "modality", "context_window", "ab", "cost"],
            "default_model": MODEL,
        }
    )
    router = RouterRunnable(registry, config, experiments=Experiments(config.experiments, data / "ab.sqlite"))
    keys_path = data / "keys.sqlite"
    if not (data / "consumer-key").exists():  # a consumer key with every limit set, so checks are measured
        from app.server.gateway.keys import KeyRing

        ring = KeyRing(keys_path)
        created = ring.create("bench", allowed_models=[MODEL], rpm=10_000_000, tpm=10_000_000_000, budget_usd=1e9)
        ring.close()
        (data / "consumer-key").write_text(created.secret)
    from app.server.gateway.cache import CacheSettings

    cache = CacheSettings(enabled=os.environ.get("BENCH_GATEWAY_CACHE") != "off")
    return create_app(
        registry,
        router,
        knowledge=False,
        request_log_path=data / "requests.sqlite",
        keys_path=keys_path,
        master_key="bench-admin",
        cache=cache,
    )


def serve_gateway(
    port: int, upstream_url: str, data: Path, profile_out: str | None, profiler: str = "cprofile"
) -> None:
    import uvicorn

    app = build_gateway(upstream_url, data)
    # log_level warning: uvicorn's per-request access log line is off, as it would be under load
    config = dict(host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2)
    if not profile_out:
        uvicorn.run(app, **config)
        return
    Profiler = None
    if profiler == "pyinstrument":
        try:
            from pyinstrument import Profiler
        except ImportError:
            pass
    if Profiler is not None:
        profiler = Profiler(interval=0.0002, async_mode="disabled")
        profiler.start()
        try:
            uvicorn.run(app, **config)
        finally:
            profiler.stop()
            Path(profile_out).write_text(profiler.output_text(unicode=True, color=False, show_all=False))
            Path(profile_out + ".self").write_text(_pyinstrument_self_times(profiler))
    else:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        try:
            uvicorn.run(app, **config)
        finally:
            prof.disable()
            prof.dump_stats(profile_out + ".prof")
            with open(profile_out, "w") as out:
                stats = pstats.Stats(prof, stream=out)
                stats.sort_stats("tottime").print_stats(30)
                stats.sort_stats("cumulative").print_stats(40)


def _pyinstrument_self_times(profiler) -> str:
    """Self time per function (summed over the call tree), idle event-loop waits excluded."""
    session = profiler.last_session
    root = session.root_frame()
    totals: dict[str, float] = {}

    def walk(frame):
        key = f"{frame.function}  {frame.file_path_short}:{frame.line_no}"
        totals[key] = totals.get(key, 0.0) + frame.total_self_time
        for child in frame.children:
            walk(child)

    if root is not None:
        walk(root)
    busy = {k: v for k, v in totals.items() if "select" not in k.split()[0] and "[await]" not in k}
    total = sum(busy.values()) or 1.0
    lines = [f"busy (non-idle) sampled time: {total:.3f} s"]
    for key, value in sorted(busy.items(), key=lambda kv: -kv[1])[:25]:
        lines.append(f"{value:8.3f} s {100 * value / total:5.1f}%  {key}")
    return "\n".join(lines) + "\n"


# ---- subprocess management ---------------------------------------------------------------------
@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    url: str


def spawn(name: str, args: list[str], port: int, env: dict[str, str]) -> Proc:
    popen = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        env=env,
        cwd=str(ROOT),
        stdout=subprocess.DEVNULL,
        stderr=None,
    )
    return Proc(name, popen, f"http://127.0.0.1:{port}")


def wait_ready(proc: Proc, path: str, timeout: float = 90.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}")
        try:
            if httpx.get(proc.url + path, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not start within {timeout:.0f} s")


def stop(proc: Proc | None, graceful: bool = False) -> None:
    if proc is None or proc.popen.poll() is not None:
        return
    proc.popen.send_signal(signal.SIGINT if graceful else signal.SIGTERM)
    try:
        proc.popen.wait(timeout=20 if graceful else 5)
    except subprocess.TimeoutExpired:
        proc.popen.kill()
        proc.popen.wait(timeout=5)


# ---- the load generator ------------------------------------------------------------------------
@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    errors: int = 0
    requests: int = 0
    wall: float = 0.0
    first_error: str | None = None
    cache_hits: int = 0
    overheads: list[float] = field(default_factory=list)
    """The gateway's own x-modelyard-overhead-ms answers, in seconds."""


_SERIAL = itertools.count()


def body(model: str, stream: bool, kind: str = "plain") -> bytes:
    # every request distinct: the gateway's exact response cache (on by default) is consulted and
    # misses, so the measured path is lookup + routing + forwarding + storing, never a cache replay
    prompt = [{"role": "user", "content": PROMPTS[kind].format(n=next(_SERIAL))}]
    payload = {"model": model, "messages": prompt, "max_tokens": 16, "temperature": 0}
    if stream:
        payload["stream"] = True
    return json.dumps(payload).encode()


async def one(session, url: str, data: bytes, stream: bool, out: Samples) -> None:
    t0 = time.perf_counter()
    try:
        async with session.post(url, data=data, headers=HEADERS) as resp:
            out.cache_hits += resp.headers.get("x-modelyard-cache", "").endswith("hit")
            overhead = resp.headers.get("x-modelyard-overhead-ms")
            if overhead is not None:
                out.overheads.append(float(overhead) / 1000)
            if not stream:
                await resp.read()
            else:
                first = None
                async for line in resp.content:
                    if first is None and line.startswith(b"data: {"):
                        event = json.loads(line[6:])
                        choices = event.get("choices") or []
                        if choices and (choices[0].get("delta") or {}).get("content"):
                            first = time.perf_counter() - t0
                if first is not None:
                    out.ttfts.append(first)
            ok = resp.status == 200
            if not ok and out.first_error is None:
                out.first_error = f"HTTP {resp.status}: {(await resp.read())[:300]!r}"
    except Exception as exc:  # noqa: BLE001 - counted, the benchmark goes on
        ok = False
        if out.first_error is None:
            out.first_error = repr(exc)[:300]
    out.latencies.append(time.perf_counter() - t0)
    out.requests += 1
    out.errors += not ok


async def run_round(
    session, base: str, n: int, concurrency: int, model: str, stream: bool, out: Samples, kind: str = "plain"
) -> None:
    url = base + "/v1/chat/completions"
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await one(session, url, body(model, stream, kind), stream, out)

    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), PHASE_TIMEOUT)
    out.wall += time.perf_counter() - t0


@dataclass
class Row:
    label: str
    direct: Samples
    gateway: Samples
    cpu_seconds: float = 0.0


async def interleaved(
    label: str,
    direct_url: str,
    gateway_url: str,
    gw_pid: int,
    total: int,
    concurrency: int,
    model: str = MODEL,
    stream: bool = False,
    rounds: int = 10,
    kind: str = "plain",
) -> Row:
    import aiohttp
    import psutil

    gw = psutil.Process(gw_pid)
    row = Row(label, Samples(), Samples())
    per_round = max(1, total // rounds)
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # warm both paths' connection pools before measuring
        await run_round(session, direct_url, concurrency * 2, concurrency, model, stream, Samples(), kind)
        await run_round(session, gateway_url, concurrency * 2, concurrency, model, stream, Samples(), kind)
        for r in range(rounds):
            order = [("direct", direct_url), ("gateway", gateway_url)]
            if r % 2:
                order.reverse()
            for which, url in order:
                if which == "gateway":
                    before = gw.cpu_times()
                    await run_round(session, url, per_round, concurrency, model, stream, row.gateway, kind)
                    after = gw.cpu_times()
                    row.cpu_seconds += (after.user - before.user) + (after.system - before.system)
                else:
                    await run_round(session, url, per_round, concurrency, model, stream, row.direct, kind)
    return row


async def soak(gateway_url: str, n: int, concurrency: int = 50, kind: str = "plain") -> Samples:
    import aiohttp

    out = Samples()
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as s:
        done = 0
        while done < n:  # chunks, so that a stuck gateway cannot hold the run past PHASE_TIMEOUT each
            chunk = min(5000, n - done)
            await run_round(
                s, gateway_url, chunk, concurrency, "auto" if kind == "semantic" else MODEL, False, out, kind
            )
            done += chunk
    return out


# ---- reporting ---------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f}"


PEERS = """Peers, as measured in the issue on one 2-core machine (not in this run; machines here are noisy):
  Node.js gateway          +3.8 ms p50 added, 4.0 ms CPU/req, +29.9 ms TTFT, 360 req/s at c=50, RSS 82 -> 187 MB
  widely used Python gw   +26.3 ms p50 added, 27.2 ms CPU/req, +30.3 ms TTFT,  38 req/s at c=50, RSS 310 -> 413 MB
  this gateway before (shipped config): +25.9 ms p50, 52.7 ms CPU/req, +30.7 ms TTFT, 34 req/s at c=50, RSS 745 MB"""


def report(title: str, rows: list[Row], rss: tuple[float, float, float, int], soak_samples: Samples) -> None:
    print()
    print(f"=== {title} ===")
    print("Added latency (gateway - direct), ms; both paths measured in interleaved rounds")
    print(
        f"{'scenario':34} {'n':>6} {'direct p50':>10} {'gw p50':>9} {'added p50':>9} "
        f"{'direct p99':>10} {'gw p99':>9} {'added p99':>9} {'hdr p50':>8} {'errors':>7}"
    )
    for row in rows:
        d, g = row.direct, row.gateway
        if row.label.startswith("stream"):
            dv, gv, what = d.ttfts, g.ttfts, "TTFT"
        else:
            dv, gv, what = d.latencies, g.latencies, "latency"
        d50, g50, d99, g99 = pct(dv, 0.5), pct(gv, 0.5), pct(dv, 0.99), pct(gv, 0.99)
        print(
            f"{row.label + ' ' + what:34} {g.requests:6d} {ms(d50):>10} {ms(g50):>9} {ms(g50 - d50):>9} "
            f"{ms(d99):>10} {ms(g99):>9} {ms(g99 - d99):>9} {ms(pct(g.overheads, 0.5)):>8} {d.errors + g.errors:7d}"
        )
    for row in rows:
        for which, samples in (("direct", row.direct), ("gateway", row.gateway)):
            if samples.first_error:
                print(f"  first error, {row.label} {which}: {samples.first_error}")
    print("Gateway CPU per request (user+sys of the gateway process during its rounds), ms")
    for row in rows:
        print(f"  {row.label:32} {row.cpu_seconds * 1000 / max(row.gateway.requests, 1):8.3f}")
    for row in rows:
        if row.label.startswith("c=50"):
            d, g = row.direct, row.gateway
            d_rps, g_rps = d.requests / d.wall, g.requests / g.wall
            print(
                f"Throughput at c=50: direct {d_rps:6.0f} req/s, gateway {g_rps:6.0f} req/s, "
                f"{100 * g_rps / d_rps:5.1f}% of direct"
            )
    at_start, before, after, n = rss
    print(
        f"Gateway RSS: {at_start:.1f} MB right after start, {before:.1f} MB after warm-up, {after:.1f} MB after "
        f"the rounds + {n} soak requests ({100 * (after - before) / before:+.1f}% since warm-up); soak "
        f"{soak_samples.requests / max(soak_samples.wall, 1e-9):.0f} req/s, {soak_samples.errors} errors"
    )
    hits = sum(row.gateway.cache_hits for row in rows) + soak_samples.cache_hits
    print(f"Response-cache hits during the run: {hits} (every request is distinct, so 0 = all misses)")


def print_targets() -> None:
    print()
    print("Targets (issue 11), named model and rule-decided auto: added <= 1 ms p50 and <= 3 ms p99 at c=1;")
    print("stream TTFT added <= 1 ms; <= 1.5 ms gateway CPU per request; at c=50 >= 25% of direct req/s;")
    print("semantic auto <= 5 ms p50 added; RSS after start <= 250 MB without torch, flat within 5% over 20,000.")
    print(PEERS)


# ---- the two gateways --------------------------------------------------------------------------
def start_shipped(env: dict[str, str], tmp_path: Path, up_v1: str) -> Proc:
    """``python -m app.server`` on the shipped config/, the fake upstream registered as a user would."""
    import httpx

    port = free_port()
    data = tmp_path / "shipped"
    data.mkdir()
    shipped_env = {**env, "MODELYARD_DATA_DIR": str(data), "MODELYARD_MASTER_KEY": "bench-admin"}
    shipped_env.pop("MODELYARD_CONFIG_DIR", None)
    args = ["-m", "app.server", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    popen = subprocess.Popen(
        [sys.executable, *args], env=shipped_env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=None
    )
    proc = Proc("shipped gateway", popen, f"http://127.0.0.1:{port}")
    wait_ready(proc, "/healthz")
    admin = {"authorization": "Bearer bench-admin"}
    spec = {
        "name": MODEL,
        "provider": "openai",
        "tasks": ["chit_chat", "translation", "knowledge_qa"],
        "cost": {"input_per_1k": 0.0005, "output_per_1k": 0.0015},
        "params": {"temperature": {"min": 0, "max": 2}, "max_tokens": {"type": "int", "min": 1, "max": 500}},
        "deployments": [{"name": "d0", "base_url": up_v1, "timeout": 10}],
    }
    httpx.post(proc.url + "/api/models", json=spec, headers=admin, timeout=30).raise_for_status()
    key = {"name": "bench", "allowed_models": [MODEL], "rpm": 10_000_000, "tpm": 10_000_000_000, "budget_usd": 1e9}
    created = httpx.post(proc.url + "/api/keys", json=key, headers=admin, timeout=30)
    created.raise_for_status()
    HEADERS["authorization"] = "Bearer " + created.json()["secret"]
    return proc


def start_reduced(env: dict[str, str], tmp_path: Path, up_v1: str) -> Proc:
    port = free_port()
    data = tmp_path / "reduced"
    data.mkdir()
    args = ["--serve-gateway", "--port", str(port), "--upstream-url", up_v1, "--data", str(data)]
    proc = spawn("reduced gateway", args, port, env)
    wait_ready(proc, "/healthz")
    use_consumer_key(data)
    return proc


async def measure(args, upstream_url: str, gateway: Proc, semantic: bool) -> tuple[list[Row], tuple, Samples]:
    import psutil

    pid = gateway.popen.pid
    at_start = psutil.Process(pid).memory_info().rss / 2**20
    await soak(gateway.url, 500)  # warm-up: imports, pools, first-call caches
    if semantic:  # the first semantic prompt loads MiniLM (once, in a worker thread)
        await soak(gateway.url, 20, concurrency=1, kind="semantic")
    before = psutil.Process(pid).memory_info().rss / 2**20
    plan = [
        ("c=1 model", args.c1_requests, 1, MODEL, False, "plain"),
        ("c=1 auto (rule)", args.auto_requests, 1, "auto", False, "rule"),
        ("c=50 model", args.c50_requests, 50, MODEL, False, "plain"),
        ("stream c=1 model", args.stream_requests, 1, MODEL, True, "plain"),
    ]
    if semantic:
        plan.insert(2, ("c=1 auto (semantic)", args.auto_requests, 1, "auto", False, "semantic"))
    rows = []
    for label, n, c, model, stream, kind in plan:
        print(f"  {gateway.name}: {label} ({n} requests per path)...", flush=True)
        rows.append(await interleaved(label, upstream_url, gateway.url, pid, n, c, model, stream, kind=kind))
    print(f"  {gateway.name}: memory soak, {args.requests} requests at c=50...", flush=True)
    soaked = await soak(gateway.url, args.requests)
    after = psutil.Process(pid).memory_info().rss / 2**20
    return rows, (at_start, before, after, args.requests), soaked


# ---- main --------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="memory-soak requests (default 20,000)")
    parser.add_argument("--c1-requests", type=int, default=2_000, help="requests per path at concurrency 1")
    parser.add_argument("--c50-requests", type=int, default=5_000, help="requests per path at concurrency 50")
    parser.add_argument("--stream-requests", type=int, default=1_000, help="streamed requests per path")
    parser.add_argument("--auto-requests", type=int, default=1_000, help="model=auto requests per path (c=1)")
    parser.add_argument("--only", choices=["shipped", "reduced"], help="measure one gateway (default: both)")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="reduced gateway: response cache off (default: on, as shipped; every request misses)",
    )
    parser.add_argument("--profile", action="store_true", help="then profile a fresh gateway (cProfile by default)")
    parser.add_argument("--profile-requests", type=int, default=500)
    parser.add_argument("--profile-only", action="store_true", help="skip the measurements, only profile")
    parser.add_argument(
        "--profiler",
        choices=["cprofile", "pyinstrument"],
        default="cprofile",
        help="cprofile (default); pyinstrument timed requests out in this setup",
    )
    # internal: the child processes
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-gateway", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--upstream-url", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve_upstream:
        serve_upstream(args.port)
        return
    if args.serve_gateway:
        serve_gateway(args.port, args.upstream_url, Path(args.data), args.profile_out, args.profiler)
        return

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-") as tmp:
        tmp_path = Path(tmp)
        env = {
            **os.environ,
            "MODELYARD_DATA_DIR": str(tmp_path),
            "HF_HUB_OFFLINE": "1",
            "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "bench-unused"),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("MODELYARD_MASTER_KEY", None)
        env["BENCH_GATEWAY_CACHE"] = "off" if args.no_cache else "on"
        up_port = free_port()
        upstream = gateway = None
        try:
            upstream = spawn("upstream", ["--serve-upstream", "--port", str(up_port)], up_port, env)
            wait_ready(upstream, "/v1/models")
            up_v1 = upstream.url + "/v1"
            if args.profile_only:
                profile(args, env, tmp_path, up_v1)
                return
            print(f"upstream pid {upstream.popen.pid}; {os.cpu_count()} cores; python {sys.version.split()[0]}")
            results = []
            for name, start, semantic in (
                ("shipped config (python -m app.server)", start_shipped, True),
                ("reduced config (no task policy)", start_reduced, False),
            ):
                if args.only and not name.startswith(args.only):
                    continue
                gateway = start(env, tmp_path, up_v1)
                results.append((name, *asyncio.run(measure(args, upstream.url, gateway, semantic))))
                stop(gateway, graceful=True)
                gateway = None
            for name, rows, rss, soaked in results:
                report(name, rows, rss, soaked)
            print_targets()
            print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")
            if args.profile:
                profile(args, env, tmp_path, up_v1)
        finally:
            stop(gateway)
            stop(upstream)


def profile(args, env: dict[str, str], tmp_path: Path, up_v1: str) -> None:
    port = free_port()
    out = tmp_path / "profile.txt"
    data = tmp_path / "profiled"
    data.mkdir()
    proc = spawn(
        "profiled gateway",
        [
            "--serve-gateway",
            "--port",
            str(port),
            "--upstream-url",
            up_v1,
            "--data",
            str(data),
            "--profile-out",
            str(out),
            "--profiler",
            args.profiler,
        ],
        port,
        env,
    )
    try:
        wait_ready(proc, "/healthz")
        use_consumer_key(data)

        async def drive():
            warm = await soak(proc.url, 200, concurrency=1)  # warm-up (also profiled; small next to the rest)
            measured = await soak(proc.url, args.profile_requests, concurrency=1)
            return warm, measured

        warm, measured = asyncio.run(drive())
        for samples in (warm, measured):
            if samples.errors:
                print(f"profiled run: {samples.errors} errors, first: {samples.first_error}")
        stop(proc, graceful=True)
    finally:
        stop(proc)
    print(f"\nProfile of the gateway process ({args.profile_requests} + 200 warm-up requests at c=1):")
    if (tmp_path / "profile.txt.self").exists():
        print((tmp_path / "profile.txt.self").read_text())
    if out.exists():
        print(out.read_text()[:20000])
    if Path(str(out) + ".prof").exists() and os.environ.get("BENCH_KEEP_PROFILE"):
        import shutil

        shutil.copy(str(out) + ".prof", os.environ["BENCH_KEEP_PROFILE"])
    else:
        print("(no profile written)")


if __name__ == "__main__":
    main()
