"""Router decision time with a large catalog (no model is called).

500 catalog models × 3 deployments; measures ``decide`` + ``plan`` per request for the
rules-only router (explicit, modality, context window, A/B, cost) and with the semantic task
classifier, plus the router's memory. Baseline: the same loop over an empty policy list
(the snapshot + planning alone), measured in the same run.

    .venv/bin/python bench/router_overhead.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.registry import Registry  # noqa: E402
from models.spec import ModelSpec  # noqa: E402
from routers.config import RoutingConfig  # noqa: E402
from routers.request import RouteRequest  # noqa: E402
from routers.router import RouterRunnable  # noqa: E402

TASKS = ["code", "math", "translation", "summarization", "knowledge_qa", "chit_chat", "customer_service"]
PROMPTS = [
    "Write a Python function that reverses a list",
    "What is 17 * 23?",
    "把这句话翻译成英文：今天天气很好",
    "Summarise this paragraph in one sentence: the meeting moved to Friday.",
    "Who wrote Hamlet?",
    "hi, how are you today?",
    "I want to return my order, it arrived broken",
]


def catalog(n: int) -> list[ModelSpec]:
    return [
        ModelSpec(
            name=f"model-{i:03d}",
            provider="openai",
            tasks=[TASKS[i % 7], TASKS[(i * 3) % 7]],
            quality=i % 100,
            context_window=4096 * (1 + i % 8),
            cost={"input_per_1k": 0.0001 * (1 + i % 50), "output_per_1k": 0.0002 * (1 + i % 50)},
            deployments=[{"name": f"d{j}", "base_url": f"http://127.0.0.1:9/{i}/{j}/v1"} for j in range(3)],
        )
        for i in range(n)
    ]


def measure(router: RouterRunnable, requests: int) -> list[float]:
    times = []
    for i in range(requests):
        request = RouteRequest.parse(
            {"messages": [("user", PROMPTS[i % len(PROMPTS)])], "max_cost": 0.01, "user": f"user-{i}"}
        )
        t0 = time.perf_counter()
        candidates, record = router.decide(request)
        router.plan(request, candidates, record)
        times.append(time.perf_counter() - t0)
    return times


def report(label: str, times: list[float], baseline: float | None = None) -> float:
    times = sorted(times)
    p50, p99 = statistics.median(times) * 1e6, times[int(len(times) * 0.99) - 1] * 1e6
    ratio = f"  ({p50 / baseline:.1f}x baseline)" if baseline else ""
    print(f"{label:34} p50 {p50:9.1f} µs   p99 {p99:9.1f} µs{ratio}")
    return p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tmp = Path(tempfile.mkdtemp())
    tracemalloc.start()
    registry = Registry(db_path=tmp / "r.sqlite", catalog_specs=catalog(args.models))
    experiments = [
        {
            "name": "exp",
            "default": True,
            "arms": [
                {"name": "a", "model": "model-001", "weight": 90},
                {"name": "b", "model": "model-002", "weight": 10},
            ],
        }
    ]
    rules = RoutingConfig(
        policies=["explicit", "modality", "context_window", "ab", "cost"],
        default_model="model-000",
        experiments=experiments,
    )
    baseline_router = RouterRunnable(registry, RoutingConfig(policies=[], default_model="model-000"))
    rules_router = RouterRunnable(registry, rules)
    measure(rules_router, 50)
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()  # it slows every allocation; measure time without it
    print(f"catalog: {args.models} models × 3 deployments, {args.requests} requests, cores: {os.cpu_count()}")
    base = report("baseline (snapshot + plan only)", measure(baseline_router, args.requests))
    report("rules-only decision", measure(rules_router, args.requests), base)
    print(f"router + catalog memory (traced): {before / 1e6:.1f} MB")
    try:
        from routers.task import TaskClassifier
    except ImportError:
        print("semantic classifier: routers.task not available")
        return
    classifier = TaskClassifier.from_config()
    semantic = RouterRunnable(
        registry, rules.model_copy(update={"policies": [*rules.policies[:3], "task", *rules.policies[3:]]}), classifier
    )
    measure(semantic, 20)
    report("with semantic task classifier", measure(semantic, min(args.requests, 500)), base)


if __name__ == "__main__":
    main()
