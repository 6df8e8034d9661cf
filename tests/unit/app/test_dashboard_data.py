"""The Dashboard's data shaping: frames from log rows, percentiles, savings, significance tests."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from app.ui import dashboard_data as data
from models.availability import Availability
from models.registry import ModelEntry
from models.spec import ModelSpec
from store.request_log import CallRecord
from store.request_log_db import COLUMNS

T0 = 1_790_000_000.0


def row(
    model: str,
    latency_ms: float,
    *,
    ts: float = T0,
    status: int = 200,
    tokens=(100, 50),
    cost: float = 0.0,
    cache: str = "",
    error: str = "",
) -> dict:
    call = CallRecord(
        endpoint="chat",
        model=model,
        latency_s=latency_ms / 1000,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost_usd=cost,
        status=status,
        error_class=error,
        cache=cache,
        ts=ts,
    )
    return dict(zip(COLUMNS, call.row(), strict=True))


def entry(
    name: str, input_per_1k: float, output_per_1k: float, available: bool = True, output: str = "text"
) -> ModelEntry:
    spec = ModelSpec(
        name=name,
        provider="openai",
        cost={"input_per_1k": input_per_1k, "output_per_1k": output_per_1k},
        modalities={"output": [output]},
        deployments=[{"name": "d", "base_url": "http://127.0.0.1:1/v1"}],
    )
    return ModelEntry(spec, Availability(available, "" if available else "KEY is not set"), "catalog")


def test_percentiles_error_rates_and_buckets_per_model():
    rows = [row("a", ms, ts=T0 + i * 10) for i, ms in enumerate(range(10, 110, 10))]  # 10..100 ms
    rows += [row("b", 500, ts=T0 + 5, status=502, error="ProviderServerError"), row("b", 300, ts=T0 + 7)]
    frame = data.log_frame(rows)
    table = data.by_model(frame).set_index("model")
    assert table.loc["a", "requests"] == 10 and table.loc["a", "errors"] == 0
    assert table.loc["a", "p50_ms"] == pytest.approx(np.percentile(range(10, 110, 10), 50))  # 55
    assert table.loc["a", "p95_ms"] == pytest.approx(95.5)
    assert table.loc["b", "error_rate"] == pytest.approx(0.5)
    assert list(data.error_classes(frame)["error_class"]) == ["ProviderServerError"]
    series = data.over_time(frame)
    assert data.time_bucket(frame) == "1min"
    assert series.groupby("model")["requests"].sum().to_dict() == {"a": 10, "b": 2}


def test_missing_values_and_an_empty_log_are_handled():
    frame = data.log_frame([{**row("", 10), "model": None, "cost_usd": None, "input_tokens": None, "cache": None}])
    assert frame.loc[0, "model"] == data.NOT_ROUTED
    assert frame.loc[0, "cost_usd"] == 0.0 and frame.loc[0, "cache"] == "empty"
    empty = data.log_frame([])
    assert empty.empty and data.by_model(empty).empty and data.over_time(empty).empty
    assert data.error_classes(empty).empty and data.cache_summary(empty).hit_rate is None


def test_cache_hit_rate_counts_only_consulted_lookups():
    rows = [row("a", 1, cache=c) for c in ["hit", "semantic_hit", "miss", "miss", "bypass", ""]]
    summary = data.cache_summary(data.log_frame(rows))
    assert summary.counts == {"hit": 1, "semantic_hit": 1, "miss": 2, "bypass": 1, "empty": 1}
    assert summary.hit_rate == pytest.approx(2 / 4)


def test_savings_reprice_the_traffic_at_the_priciest_available_text_model():
    frame = data.log_frame([row("cheap", 1, tokens=(1000, 1000), cost=0.002), row("local", 1, tokens=(2000, 0))])
    entries = [
        entry("cheap", 0.001, 0.001),
        entry("pricey", 0.01, 0.03),
        entry("local", 0, 0),
        entry("priciest-but-offline", 1.0, 1.0, available=False),
        entry("painter", 5.0, 5.0, output="image"),
    ]
    savings = data.routing_savings(frame, entries)
    assert savings.baseline_model == "pricey" and savings.baseline_available
    assert savings.baseline_usd == pytest.approx(3 * 0.01 + 1 * 0.03)  # 3K input, 1K output tokens
    assert savings.saved_usd == pytest.approx(0.06 - 0.002)
    assert savings.saved_share == pytest.approx((0.06 - 0.002) / 0.06)


def test_savings_fall_back_to_the_catalog_when_no_available_model_has_a_price():
    frame = data.log_frame([row("local", 1, tokens=(1000, 0))])
    fallback = data.routing_savings(frame, [entry("local", 0, 0), entry("hosted", 0.5, 0.5, available=False)])
    assert fallback.baseline_model == "hosted" and not fallback.baseline_available
    assert fallback.saved_usd == pytest.approx(0.5)
    assert data.routing_savings(frame, [entry("local", 0, 0)]) is None


def test_two_proportion_z_test_matches_the_textbook_value():
    result = data.two_proportion_z_test(45, 100, 30, 100)
    pooled = 75 / 200
    z = 0.15 / math.sqrt(pooled * (1 - pooled) * 0.02)
    assert result.statistic == pytest.approx(z)  # 2.19
    assert result.p_value == pytest.approx(0.0285, abs=5e-4) and result.significant()
    assert not data.two_proportion_z_test(10, 20, 11, 20).significant()
    assert data.two_proportion_z_test(0, 0, 3, 5) is None  # no votes on one arm
    assert data.two_proportion_z_test(5, 5, 7, 7) is None  # no variation at all


def test_welch_t_test_separates_different_latencies_from_the_same_distribution():
    rng = random.Random(3)
    fast = [rng.gauss(0.2, 0.02) for _ in range(40)]
    slow = [rng.gauss(0.3, 0.05) for _ in range(30)]
    same = [rng.gauss(0.2, 0.02) for _ in range(40)]
    different = data.welch_t_test(slow, fast)
    expected_t = (np.mean(slow) - np.mean(fast)) / math.sqrt(np.var(slow, ddof=1) / 30 + np.var(fast, ddof=1) / 40)
    assert different.statistic == pytest.approx(expected_t) and different.p_value < 1e-6
    assert data.welch_t_test(same, fast).p_value > 0.01
    assert data.welch_t_test([0.1], fast) is None and data.welch_t_test([0.1, 0.1], [0.1, 0.1]) is None


def test_ab_frame_and_notes_compare_each_arm_with_the_first():
    summary = [
        {
            "arm": "a",
            "requests": 120,
            "errors": 0,
            "mean_latency": 0.2,
            "input_tokens": 1,
            "output_tokens": 1,
            "cost": 0.12,
            "thumbs_up": 45,
            "thumbs_down": 55,
        },
        {
            "arm": "b",
            "requests": 100,
            "errors": 1,
            "mean_latency": 0.3,
            "input_tokens": 1,
            "output_tokens": 1,
            "cost": 0.0,
            "thumbs_up": 30,
            "thumbs_down": 70,
        },
    ]
    arms = data.ab_frame(summary)
    assert list(arms["arm"]) == ["a", "b"]
    assert arms.loc[0, "mean_latency_ms"] == pytest.approx(200)
    assert arms.loc[0, "cost_per_request"] == pytest.approx(0.001)
    assert arms.loc[1, "thumbs_up_rate"] == pytest.approx(0.3)
    notes = data.significance_notes(arms, {"a": [0.2, 0.21, 0.19], "b": [0.3]})
    assert notes[0].startswith("b vs a: two-proportion z-test on thumbs-up rate")
    assert notes[0].endswith("— significant at α = 0.05.")
    assert notes[1] == "b vs a: latency: no test yet (needs two successful requests per arm)."
    assert data.significance_notes(arms.iloc[:1], {}) == ["Needs at least two arms with traffic to compare."]
    assert data.ab_frame([]).empty


def test_time_buckets_keep_charts_readable():
    def span(seconds: float) -> str:
        return data.time_bucket(data.log_frame([row("a", 1, ts=T0), row("a", 1, ts=T0 + seconds)]))

    assert span(30 * 60) == "1min" and span(2 * 3600) == "5min" and span(86_400) == "1h"
    assert span(30 * 86_400) == "1D" and span(3 * 365 * 86_400) == "7D"


def test_unrouted_failures_and_local_times():
    from datetime import datetime

    stamp = 1_764_700_000.0
    rows = [{column: None for column in COLUMNS} | {"ts": stamp, "model": "auto", "status": 400}]
    frame = data.log_frame(rows)
    assert frame.loc[0, "model"] == data.NOT_ROUTED  # not a model called "auto"
    assert frame.loc[0, "time"].to_pydatetime() == datetime.fromtimestamp(stamp)  # this machine's clock
