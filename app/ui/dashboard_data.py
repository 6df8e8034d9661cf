"""The Dashboard's numbers, without Streamlit: request-log rows shaped into pandas frames,
latency percentiles, error and cache-hit rates, the cost saved by routing, and A/B significance.

Notebooks and tests import this module directly.

Example:
    >>> frame = log_frame(RequestLog(path).rows(0, time.time()))   # doctest: +SKIP
    >>> by_model(frame)[["model", "requests", "p95_ms"]]            # doctest: +SKIP
    >>> routing_savings(frame, Registry().entries()).saved_usd      # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.registry import ModelEntry
from store.request_log_db import COLUMNS

__all__ = [
    "CACHE_RESULTS",
    "CacheSummary",
    "Savings",
    "TestResult",
    "ab_frame",
    "by_model",
    "cache_summary",
    "error_classes",
    "NOT_ROUTED",
    "local_times",
    "log_frame",
    "over_time",
    "routing_savings",
    "significance_notes",
    "time_bucket",
    "two_proportion_z_test",
    "welch_t_test",
]

CACHE_RESULTS = ("hit", "semantic_hit", "miss", "bypass", "empty")
"""Values of the log's ``cache`` column; ``empty`` = the cache was not consulted."""


NOT_ROUTED = "(no model chosen)"
"""The model shown for calls that failed before any model was chosen."""


def local_times(seconds: pd.Series) -> pd.Series:
    """Unix seconds → naive timestamps in this machine's time zone (what the charts' axes show)."""
    from datetime import datetime

    zone = datetime.now().astimezone().tzinfo
    return pd.to_datetime(seconds.astype(float), unit="s", utc=True).dt.tz_convert(zone).dt.tz_localize(None)


def log_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Request-log rows (``RequestLog.rows``) → a typed frame with ``time``, ``error`` and ``cache`` filled."""
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    frame["time"] = local_times(frame["ts"])
    for column in ("input_tokens", "output_tokens"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(0).astype(int)
    for column in ("latency_ms", "ttft_ms", "cost_usd"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["cost_usd"] = frame["cost_usd"].fillna(0.0)
    frame["status"] = pd.to_numeric(frame["status"], errors="coerce").fillna(200).astype(int)
    # a turn that failed before the router chose a model was logged as "auto" (or nothing)
    frame["model"] = frame["model"].fillna("").replace({"": NOT_ROUTED, "auto": NOT_ROUTED}).astype(str)
    frame["error"] = frame["status"] >= 400
    frame["cache"] = frame["cache"].fillna("").replace("", "empty").astype(str)
    return frame


BUCKETS = (("1min", 60), ("5min", 300), ("15min", 900), ("1h", 3600), ("6h", 21_600), ("1D", 86_400), ("7D", 604_800))
"""Chart resolutions, finest first."""


def time_bucket(frame: pd.DataFrame, max_points: int = 60) -> str:
    """The finest pandas frequency that keeps the frame's time span within ``max_points`` buckets."""
    if frame.empty:
        return BUCKETS[0][0]
    span = (frame["time"].max() - frame["time"].min()).total_seconds()
    return next((freq for freq, seconds in BUCKETS if span / seconds <= max_points), BUCKETS[-1][0])


def _p(q: float):
    def percentile(values: pd.Series) -> float:
        values = values.dropna()
        return float(np.percentile(values, q)) if len(values) else float("nan")

    percentile.__name__ = f"p{q:g}"
    return percentile


def over_time(frame: pd.DataFrame, freq: str | None = None) -> pd.DataFrame:
    """Per (time bucket, model): requests, errors, p50/p95 latency, tokens and cost."""
    if frame.empty:
        return pd.DataFrame(
            columns=[
                "time",
                "model",
                "requests",
                "errors",
                "p50_ms",
                "p95_ms",
                "input_tokens",
                "output_tokens",
                "cost_usd",
            ]
        )
    grouped = frame.groupby([pd.Grouper(key="time", freq=freq or time_bucket(frame)), "model"])
    out = grouped.agg(
        requests=("id", "count"),
        errors=("error", "sum"),
        p50_ms=("latency_ms", _p(50)),
        p95_ms=("latency_ms", _p(95)),
        input_tokens=("input_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
        cost_usd=("cost_usd", "sum"),
    )
    return out.reset_index().query("requests > 0").reset_index(drop=True)


def by_model(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model: requests, error rate, latency and TTFT percentiles, tokens and cost."""
    if frame.empty:
        return pd.DataFrame(
            columns=[
                "model",
                "requests",
                "errors",
                "error_rate",
                "p50_ms",
                "p95_ms",
                "ttft_p50_ms",
                "input_tokens",
                "output_tokens",
                "cost_usd",
            ]
        )
    out = frame.groupby("model").agg(
        requests=("id", "count"),
        errors=("error", "sum"),
        p50_ms=("latency_ms", _p(50)),
        p95_ms=("latency_ms", _p(95)),
        ttft_p50_ms=("ttft_ms", _p(50)),
        input_tokens=("input_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
        cost_usd=("cost_usd", "sum"),
    )
    out.insert(2, "error_rate", out["errors"] / out["requests"])
    return out.reset_index().sort_values("requests", ascending=False, ignore_index=True)


def error_classes(frame: pd.DataFrame) -> pd.DataFrame:
    """Failed requests per model, status and error class, most frequent first."""
    failed = frame[frame["error"]]
    if failed.empty:
        return pd.DataFrame(columns=["model", "status", "error_class", "requests"])
    out = failed.groupby(["model", "status", "error_class"]).size().rename("requests").reset_index()
    return out.sort_values("requests", ascending=False, ignore_index=True)


@dataclass(frozen=True)
class CacheSummary:
    """How the response cache was used. ``hit_rate`` is over consulted lookups (hit, semantic hit, miss)."""

    counts: dict[str, int]
    hits: int
    consulted: int

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.consulted if self.consulted else None


def cache_summary(frame: pd.DataFrame) -> CacheSummary:
    """Counts of each ``cache`` value and the hit rate."""
    counts = {result: int((frame["cache"] == result).sum()) for result in CACHE_RESULTS}
    hits = counts["hit"] + counts["semantic_hit"]
    return CacheSummary(counts, hits, hits + counts["miss"])


@dataclass(frozen=True)
class Savings:
    """Actual spend against the same tokens priced at the most expensive model."""

    baseline_model: str
    baseline_available: bool
    """False when no available model has a price and the baseline is an unavailable catalog model."""
    actual_usd: float
    baseline_usd: float

    @property
    def saved_usd(self) -> float:
        return self.baseline_usd - self.actual_usd

    @property
    def saved_share(self) -> float | None:
        return self.saved_usd / self.baseline_usd if self.baseline_usd else None


def routing_savings(frame: pd.DataFrame, entries: Sequence[ModelEntry]) -> Savings | None:
    """What the logged traffic would have cost on the priciest text model, against what it cost.

    Each row's tokens are repriced with every candidate's catalog price; the baseline is the
    candidate for which this traffic is most expensive. Candidates are the available text models,
    or — when none of them has a price (e.g. offline with only local models) — every text model in
    the catalog. ``None`` when no model has a price at all.
    """
    text_models = [e for e in entries if "text" in e.spec.modalities.output]
    tokens_in, tokens_out = int(frame["input_tokens"].sum()), int(frame["output_tokens"].sum())

    def priced(candidates: list[ModelEntry]) -> list[tuple[float, ModelEntry]]:
        costs = [(e.spec.cost.of(tokens_in, tokens_out), e) for e in candidates]
        return sorted([c for c in costs if c[0] > 0], key=lambda c: c[0], reverse=True)

    ranked = priced([e for e in text_models if e.availability.available])
    available = bool(ranked)
    ranked = ranked or priced(text_models)
    if not ranked:
        return None
    baseline_usd, baseline = ranked[0]
    return Savings(baseline.spec.name, available, float(frame["cost_usd"].sum()), baseline_usd)


def ab_frame(summary: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Per-arm statistics (``Experiments.summary``) with rates: success, thumbs-up share, cost per request."""
    columns = [
        "arm",
        "requests",
        "errors",
        "mean_latency_ms",
        "cost_usd",
        "cost_per_request",
        "thumbs_up",
        "thumbs_down",
        "thumbs_up_rate",
    ]
    if not summary:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(list(summary))
    frame["mean_latency_ms"] = frame["mean_latency"].astype(float) * 1000
    frame["cost_per_request"] = frame["cost"].astype(float) / frame["requests"].clip(lower=1)
    votes = frame["thumbs_up"] + frame["thumbs_down"]
    frame["thumbs_up_rate"] = (frame["thumbs_up"] / votes.where(votes > 0)).astype(float)
    return frame.rename(columns={"cost": "cost_usd"})[columns]


@dataclass(frozen=True)
class TestResult:
    """A two-sided test: statistic and p-value."""

    name: str
    statistic: float
    p_value: float

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value < alpha


def two_proportion_z_test(up_a: int, n_a: int, up_b: int, n_b: int) -> TestResult | None:
    """Do two arms' thumbs-up rates differ? ``None`` without votes on both sides or with no variation."""
    if n_a <= 0 or n_b <= 0:
        return None
    pooled = (up_a + up_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return None
    z = (up_a / n_a - up_b / n_b) / se
    return TestResult("two-proportion z-test on thumbs-up rate", z, math.erfc(abs(z) / math.sqrt(2)))


def welch_t_test(a: Sequence[float], b: Sequence[float]) -> TestResult | None:
    """Do two arms' mean latencies differ (unequal variances)? ``None`` with fewer than 2 samples a side."""
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = float(np.var(a, ddof=1)), float(np.var(b, ddof=1))
    if va == 0 and vb == 0:
        return None
    try:
        from scipy import stats
    except ImportError:  # scipy is optional: the normal approximation of the t distribution
        t = (float(np.mean(a)) - float(np.mean(b))) / math.sqrt(va / len(a) + vb / len(b))
        return TestResult("Welch's t-test on latency (normal approximation)", t, math.erfc(abs(t) / math.sqrt(2)))
    result = stats.ttest_ind(a, b, equal_var=False)
    return TestResult("Welch's t-test on latency", float(result.statistic), float(result.pvalue))


def significance_notes(arms: pd.DataFrame, latencies: dict[str, list[float]], alpha: float = 0.05) -> list[str]:
    """One sentence per test of each arm against the first (the control)."""
    if len(arms) < 2:
        return ["Needs at least two arms with traffic to compare."]
    control = arms.iloc[0]
    notes = []
    for _, arm in arms.iloc[1:].iterrows():
        pair = f"{arm['arm']} vs {control['arm']}"
        votes = two_proportion_z_test(
            int(arm["thumbs_up"]),
            int(arm["thumbs_up"] + arm["thumbs_down"]),
            int(control["thumbs_up"]),
            int(control["thumbs_up"] + control["thumbs_down"]),
        )
        speed = welch_t_test(latencies.get(str(arm["arm"]), []), latencies.get(str(control["arm"]), []))
        for result, missing in (
            (votes, "thumbs-up rate: no test yet (needs thumbs up/down on both arms)"),
            (speed, "latency: no test yet (needs two successful requests per arm)"),
        ):
            if result is None:
                notes.append(f"{pair}: {missing}.")
                continue
            verdict = "significant" if result.significant(alpha) else "not significant"
            notes.append(
                f"{pair}: {result.name}: statistic {result.statistic:+.2f}, p = {result.p_value:.3g} — "
                f"{verdict} at α = {alpha:g}."
            )
    return notes
