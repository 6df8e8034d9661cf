"""``/api/usage`` over a big request log: the raw-rows query against hourly rollups, on SQLite and PostgreSQL.

For each database the bench fills a scratch request log — a SQLite file in a temporary folder, and a
scratch PostgreSQL database created and dropped here (:func:`tests.support.postgres.scratch_database`) —
with ``--rows`` calls spread evenly over the 30 days before now (20 keys × 5 models, 3 % errors, TTFT on
a third of them), written through :meth:`store.request_log_db.RequestLogDB.insert` in batches of 5,000,
so the rollups are built by the gateway's own write path. It then starts the real gateway app on that
store (``create_app`` with ``request_log_path`` or ``database_url``; uvicorn on loopback) and calls
``GET /api/usage`` as the admin does, for the last day, week and 30 days, in interleaved rounds:

* **raw** — the query before rollups (:meth:`RequestLogDB.usage_from_rows`: every row in the range),
  put in the route's place on this app only;
* **rollup** — the shipped :meth:`RequestLogDB.usage`: whole hours from ``request_rollups``, the two
  partial hours from the raw rows.

Printed per database and window: rows in the window, rollup rows in its whole hours (what the rollup
query reads instead), p50 and p99 of the HTTP call for each (with ``--repeats`` 30, p99 is close to the
slowest call), the raw/rollup ratio of the p50s, and whether both gave the same answer. One
``/api/usage`` runs the query twice (the key/model totals and the services' totals), as users get it.
Numbers are from this machine in this run; nothing is asserted.

Rollups pay when an hour holds many calls per (key, model): at 1,000,000 rows over 30 days that is
about 14 per pair and hour here (72,000 rollup rows in 30 days against a million raw rows); at 20,000
rows most rollup rows hold one call, so both queries read about as many rows and take as long.

The full run (filling took 40,000 rows/s on SQLite and 15,000 on PostgreSQL here, rollups included;
the raw 30-day calls dominate the rest):

    HF_HUB_OFFLINE=1 .venv/bin/python bench/usage_query.py --rows 1000000

A check that it works (what the shared 2-core machine allows):

    HF_HUB_OFFLINE=1 .venv/bin/python bench/usage_query.py --rows 20000 --repeats 10
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from models.spec import ModelSpec  # noqa: E402
from store.request_log_db import RequestLogDB, request_rollups  # noqa: E402
from store.request_usage import whole_hours  # noqa: E402
from tests.support.gateways import gateway_app  # noqa: E402
from tests.support.postgres import scratch_database  # noqa: E402
from tests.support.serving import serving  # noqa: E402

DAY = 86_400.0
WINDOWS = (("day", DAY), ("week", 7 * DAY), ("30 days", 30 * DAY))
ADMIN_KEY = "bench-admin"
BATCH = 5_000
KEYS = [f"key_{i:02d}" for i in range(20)]
MODELS = ["gpt-4o-mini", "claude-haiku", "llama-3-8b", "mistral-small", "qwen-7b"]


def call_rows(count: int, until: float, seed: int = 16) -> Iterator[list[tuple[Any, ...]]]:
    """``count`` logged calls spread evenly over the 30 days before ``until``, in batches of :data:`BATCH`."""
    rng = random.Random(seed)
    step = 30 * DAY / count
    batch: list[tuple[Any, ...]] = []
    for i in range(count):
        status = 502 if rng.random() < 0.03 else 200
        ttft = rng.uniform(50, 400) if rng.random() < 0.33 else None
        tokens_in, tokens_out = rng.randrange(20, 4000), rng.randrange(1, 800)
        batch.append(
            (
                f"r{i:08d}",
                until - 30 * DAY + (i + rng.random()) * step,
                "chat",
                rng.choice(MODELS),
                "d0",
                "cost",
                rng.uniform(80, 3000),
                ttft,
                tokens_in,
                tokens_out,
                (tokens_in * 0.15 + tokens_out * 0.6) / 1e6,
                status,
                "ProviderError" if status >= 400 else "",
                rng.choice(KEYS),
                "miss",
            )
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def fill(target: Path | str, rows: int, until: float) -> float:
    """Write the rows (and so their rollups) into ``target``; returns the seconds it took."""
    db = RequestLogDB(target)
    started = time.perf_counter()
    for batch in call_rows(rows, until):
        db.insert(batch)
    db.close()
    return time.perf_counter() - started


@contextmanager
def store_targets(only: str | None) -> Iterator[list[tuple[str, Path | str]]]:
    """The scratch request logs: a SQLite file, and a PostgreSQL database dropped at the end."""
    with tempfile.TemporaryDirectory(prefix="usage-bench-") as folder:
        targets: list[tuple[str, Path | str]] = []
        if only in (None, "sqlite"):
            targets.append(("sqlite", Path(folder) / "sqlite" / "requests.sqlite"))
        if only in (None, "postgresql"):
            with scratch_database() as url:
                yield [*targets, ("postgresql", url)]
                return
        yield targets


def gateway_on(name: str, target: Path | str, folder: Path) -> Any:
    """The gateway app with its request log on ``target`` (every store in it, for PostgreSQL)."""
    spec = ModelSpec(
        name="bench-model", provider="openai", deployments=[{"name": "d0", "base_url": "http://127.0.0.1:9/v1"}]
    )
    where: dict[str, Any] = {"database_url": target} if name == "postgresql" else {}
    app_folder = Path(target).parent if name == "sqlite" else folder / "pg"  # gateway_app's requests.sqlite
    return gateway_app(app_folder, [spec], master_key=ADMIN_KEY, log_retention_days=None, **where)


def measure(url: str, app: Any, until: float, repeats: int) -> list[dict[str, Any]]:
    """Per window: the two queries' call times, interleaved, and whether they answered alike."""
    db = app.state.gateway.log.db
    results = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=600) as client:
        for label, span in WINDOWS:
            params = {"since": until - span, "until": until}
            times: dict[str, list[float]] = {"raw": [], "rollup": []}
            answers: dict[str, list[dict[str, Any]]] = {}
            for _ in range(repeats):
                for mode in ("raw", "rollup"):
                    if mode == "raw":
                        db.usage = db.usage_from_rows  # the old query in the route's place, this app only
                    else:
                        vars(db).pop("usage", None)
                    started = time.perf_counter()
                    response = client.get("/api/usage", params=params)
                    times[mode].append(time.perf_counter() - started)
                    response.raise_for_status()
                    answers[mode] = response.json()["models"]
            vars(db).pop("usage", None)
            results.append(
                {
                    "window": label,
                    "rows": sum(row["requests"] for row in answers["rollup"]),
                    "rollups": rollup_rows(db, until - span, until),
                    "times": times,
                    "same": same_answer(answers["raw"], answers["rollup"]),
                }
            )
    return results


def rollup_rows(db: RequestLogDB, since: float, until: float) -> int:
    """How many rollup rows the window's whole hours hold (what the rollup query reads instead of raw rows)."""
    first, last = whole_hours(since, until)
    query = select(func.count()).where(request_rollups.c.hour.between(first, last))
    with db.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def same_answer(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Equal totals per (key, model); floats equal to 1e-9 (sums in another order round differently)."""
    if len(a) != len(b):
        return False
    by_group = {(row["key_id"], row["model"]): row for row in b}
    for row in a:
        other = by_group.get((row["key_id"], row["model"]))
        if other is None:
            return False
        for name, value in row.items():
            if isinstance(value, float):
                if not math.isclose(value, other[name], rel_tol=1e-9):
                    return False
            elif value != other[name]:
                return False
    return True


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)]


def report(name: str, rows: int, fill_seconds: float, results: list[dict[str, Any]]) -> None:
    rate = rows / fill_seconds
    print(f"\n{name}: {rows:,} rows written in {fill_seconds:.1f} s ({rate:,.0f} rows/s, rollups included)")
    header = (
        f"{'window':<9}{'rows':>10}{'rollups':>9}  {'raw p50':>9}{'raw p99':>9}  {'rollup p50':>11}{'rollup p99':>11}"
    )
    print(f"{header}  {'ratio p50':>9}  same")
    for result in results:
        raw, rollup = result["times"]["raw"], result["times"]["rollup"]
        raw50, rollup50 = statistics.median(raw), statistics.median(rollup)
        print(
            f"{result['window']:<9}{result['rows']:>10,}{result['rollups']:>9,}"
            f"  {raw50 * 1e3:>7.1f}ms{percentile(raw, 99) * 1e3:>7.1f}ms"
            f"  {rollup50 * 1e3:>9.1f}ms{percentile(rollup, 99) * 1e3:>9.1f}ms  {raw50 / rollup50:>8.1f}x  "
            f"{'yes' if result['same'] else 'NO'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="logged calls per database (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=30, help="calls per window and query (default 30)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one database only")
    args = parser.parse_args()
    until = time.time()
    print(f"/api/usage as the admin calls it, {args.repeats} calls per window and query, interleaved; until = now")
    with store_targets(args.only) as targets, tempfile.TemporaryDirectory(prefix="usage-bench-app-") as folder:
        for name, target in targets:
            fill_seconds = fill(target, args.rows, until)
            app = gateway_on(name, target, Path(folder))
            with serving(app) as url:
                results = measure(url, app, until, args.repeats)
            app.state.gateway.registry.close()  # its watcher would poll the scratch database after the drop
            del app
            report(name, args.rows, fill_seconds, results)


if __name__ == "__main__":
    main()
