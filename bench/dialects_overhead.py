"""What the API dialects and tool-carrying requests cost, on the configuration a user gets.

The shipped gateway (``python -m app.server`` on the shipped ``config/``, the fake upstream of
:mod:`bench.gateway_overhead` registered as ``fake-chat`` through the admin API, a consumer key
with every limit set) answers the same question four ways, in interleaved rounds at concurrency 1:

* ``chat`` — ``POST /v1/chat/completions``, the baseline;
* ``chat + tools`` — the same with two function tools and ``tool_choice: auto`` (the capability
  filter, the fields' forwarding, a bigger body and cache key);
* ``messages`` — ``POST /v1/messages`` (Anthropic's dialect: translated to a chat request and back);
* ``responses`` — ``POST /v1/responses`` (OpenAI's Responses API: translated, and the answer stored
  per key for ``previous_response_id``);
* ``operategpt`` — ``POST /api/v1/chat/completions`` with OpenAI's ``{"input", "model_name"}``;
* ``service`` — ``POST /api/services/bench-say`` with a subscription key: a service (prompt
  template ``Say {word}`` on ``fake-chat``, auto-approved) published and subscribed to through the
  portal API by the bench's consumer key.

Printed: p50 / p99 latency per path, added p50 against ``chat`` from the same rounds, and the
gateway's CPU per request. Every request is distinct (exact-cache misses). No asserts.

    .venv/bin/python bench/dialects_overhead.py [--requests 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import gateway_overhead as base  # noqa: E402

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
        },
    }
    for name, description in (("order_status", "Where an order is"), ("start_return", "Start a return"))
]
_SERIAL = itertools.count()


SERVICE = {
    "name": "bench-say",
    "description": "Say a word.",
    "model": base.MODEL,
    "messages": [{"role": "user", "content": "Say {word}"}],
    "params": {"max_tokens": 16},
    "approval": "auto",
    "limits": {},
}


def request_for(path: str) -> tuple[str, bytes]:
    """The URL path and body of one distinct request in ``path``'s dialect."""
    question = f"hi #{next(_SERIAL)}"
    if path == "operategpt":
        return "/api/v1/chat/completions", json.dumps({"input": question, "model_name": base.MODEL}).encode()
    if path == "service":
        return "/api/services/bench-say", json.dumps({"variables": {"word": question}}).encode()
    if path == "messages":
        body = {"model": base.MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": question}]}
        return "/v1/messages", json.dumps(body).encode()
    if path == "responses":
        body = {"model": base.MODEL, "max_output_tokens": 16, "input": question}
        return "/v1/responses", json.dumps(body).encode()
    body = {"model": base.MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": question}]}
    if path == "chat + tools":
        body.update(tools=TOOLS, tool_choice="auto")
    return "/v1/chat/completions", json.dumps(body).encode()


async def run(url: str, pid: int, total: int, rounds: int = 10) -> dict[str, tuple[base.Samples, float]]:
    import aiohttp
    import psutil

    gw = psutil.Process(pid)
    paths = ["chat", "chat + tools", "messages", "responses", "operategpt", "service"]
    results = {path: (base.Samples(), [0.0]) for path in paths}
    headers = {**base.HEADERS, "x-api-key": base.HEADERS["authorization"].removeprefix("Bearer ")}
    subscriber = {**base.HEADERS, "authorization": "Bearer " + subscribe(url)}
    async with aiohttp.ClientSession() as session:

        async def one(path: str, out: base.Samples) -> None:
            route, data = request_for(path)
            t0 = time.perf_counter()
            sent = subscriber if path == "service" else headers
            async with session.post(url + route, data=data, headers=sent) as resp:
                await resp.read()
                if resp.status != 200 and out.first_error is None:
                    out.first_error = f"HTTP {resp.status}: {(await resp.read())[:200]!r}"
                out.errors += resp.status != 200
            out.latencies.append(time.perf_counter() - t0)
            out.requests += 1

        for path in paths:  # warm-up: pools, first-call caches
            for _ in range(50):
                await one(path, base.Samples())
        for r in range(rounds):
            order = paths if r % 2 == 0 else list(reversed(paths))
            for path in order:
                samples, cpu = results[path]
                before = gw.cpu_times()
                for _ in range(max(1, total // rounds)):
                    await one(path, samples)
                after = gw.cpu_times()
                cpu[0] += (after.user - before.user) + (after.system - before.system)
    return {path: (samples, cpu[0]) for path, (samples, cpu) in results.items()}


def subscribe(url: str) -> str:
    """Publish :data:`SERVICE` and subscribe to it as the bench's consumer key; the subscription key."""
    import httpx

    owner = {"authorization": base.HEADERS["authorization"]}
    httpx.post(url + "/api/services", json=SERVICE, headers=owner, timeout=30).raise_for_status()
    answer = httpx.post(url + "/api/services/bench-say/subscriptions", headers=owner, timeout=30)
    answer.raise_for_status()
    return str(answer.json()["secret"])


def report(results: dict[str, tuple[base.Samples, float]]) -> None:
    chat50 = base.pct(results["chat"][0].latencies, 0.5)
    print(f"\n{'path':14} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'vs chat p50':>12} {'CPU ms/req':>11} {'errors':>7}")
    for path, (samples, cpu) in results.items():
        p50, p99 = base.pct(samples.latencies, 0.5), base.pct(samples.latencies, 0.99)
        added = "baseline" if path == "chat" else f"{(p50 - chat50) * 1000:+.2f} ms"
        cpu_ms = cpu * 1000 / max(samples.requests, 1)
        print(
            f"{path:14} {samples.requests:6d} {p50 * 1000:8.2f} {p99 * 1000:8.2f} {added:>12} "
            f"{cpu_ms:11.3f} {samples.errors:7d}"
        )
        if samples.first_error:
            print(f"  first error: {samples.first_error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per path (default 1,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-") as tmp:
        tmp_path = Path(tmp)
        env = {**os.environ, "MODELYARD_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        env.pop("MODELYARD_MASTER_KEY", None)
        env["OPENAI_API_KEY"] = os.environ.get("OPENAI_API_KEY", "bench-unused")
        up_port = base.free_port()
        upstream = gateway = None
        try:
            upstream = base.spawn("upstream", ["--serve-upstream", "--port", str(up_port)], up_port, env)
            base.wait_ready(upstream, "/v1/models")
            gateway = base.start_shipped(env, tmp_path, upstream.url + "/v1")
            print(f"{os.cpu_count()} cores; shipped gateway pid {gateway.popen.pid}; {args.requests} requests per path")
            report(asyncio.run(run(gateway.url, gateway.popen.pid, args.requests)))
        finally:
            base.stop(gateway)
            base.stop(upstream)


if __name__ == "__main__":
    main()
