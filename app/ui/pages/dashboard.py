"""Dashboard: charts from the request log (gateway and chat) — requests, latency percentiles,
cost and tokens per model over time, error and cache-hit rates, the cost routing saved — and
the A/B experiments side by side with a significance note."""

from __future__ import annotations

import os
import time

import altair as alt
import pandas as pd
import streamlit as st

from app.ui import dashboard_data as data
from app.ui.state import experiments, registry, request_log

RANGES = {"Last hour": 3600, "Last 24 hours": 86_400, "Last 7 days": 7 * 86_400, "All time": None}

st.title("Dashboard")


def line(frame: pd.DataFrame, y: str, title: str, **encode) -> alt.Chart:
    return (
        alt.Chart(frame, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X("time:T", title=None),
            y=alt.Y(f"{y}:Q", title=title),
            color="model:N",
            tooltip=["time:T", "model:N", f"{y}:Q"],
            **encode,
        )
    )


def bars(frame: pd.DataFrame, x: str, y: str, title: str, color: str = "model:N") -> alt.Chart:
    return (
        alt.Chart(frame, title=title)
        .mark_bar()
        .encode(x=alt.X(x, title=None), y=alt.Y(y, title=title), color=color, tooltip=list(frame.columns))
    )


def show_traffic(frame: pd.DataFrame) -> None:
    table = data.by_model(frame)
    saving = data.routing_savings(frame, registry().entries())
    cols = st.columns(5)
    cols[0].metric("Requests", len(frame))
    cols[1].metric("Error rate", f"{frame['error'].mean():.1%}")
    cols[2].metric("p95 latency", f"{frame['latency_ms'].quantile(0.95):.0f} ms")
    cols[3].metric("Cost", f"${frame['cost_usd'].sum():.4f}")
    if saving is None:
        cols[4].metric("Saved by routing", "–", help="No model in the catalog has a price.")
    else:
        # A share only against a model one could have used; against an unavailable one it says nothing.
        share = (
            f"-{saving.saved_share:.0%} cost" if saving.saved_share is not None and saving.baseline_available else None
        )
        cols[4].metric(
            "Saved by routing",
            f"${saving.saved_usd:.4f}",
            share,
            delta_color="inverse",
            help=f"Actual cost against the same tokens at {saving.baseline_model}'s prices "
            f"(${saving.baseline_usd:.4f}), the most expensive "
            f"{'available' if saving.baseline_available else 'catalog model (not available here, so no share)'}.",
        )

    series = data.over_time(frame)
    latency = series.melt(
        id_vars=["time", "model"], value_vars=["p50_ms", "p95_ms"], var_name="percentile", value_name="latency_ms"
    )
    left, right = st.columns(2)
    left.altair_chart(bars(series, "time:T", "requests:Q", "Requests"), width="stretch")
    right.altair_chart(
        line(
            latency,
            "latency_ms",
            "Latency (ms), p50 solid / p95 dashed",
            strokeDash=alt.StrokeDash("percentile:N", legend=None),
        ),
        width="stretch",
    )
    left.altair_chart(line(series, "cost_usd", "Cost (USD)"), width="stretch")
    tokens = table.melt(
        id_vars=["model"], value_vars=["input_tokens", "output_tokens"], var_name="kind", value_name="tokens"
    )
    right.altair_chart(bars(tokens, "model:N", "tokens:Q", "Tokens", color="kind:N"), width="stretch")
    left.altair_chart(bars(table, "model:N", "error_rate:Q", "Error rate"), width="stretch")
    cache = data.cache_summary(frame)
    counts = pd.DataFrame({"result": list(cache.counts), "requests": list(cache.counts.values())})
    right.altair_chart(bars(counts, "result:N", "requests:Q", "Response cache", color="result:N"), width="stretch")
    right.caption(
        "Cache hit rate: "
        + (
            f"{cache.hit_rate:.1%} of {cache.consulted} consulted lookups"
            if cache.hit_rate is not None
            else "no lookups yet (the gateway's cache)"
        )
    )
    st.subheader("Per model")
    st.dataframe(
        table,
        hide_index=True,
        key="by_model",
        column_config={
            "error_rate": st.column_config.NumberColumn(format="percent"),
            "cost_usd": st.column_config.NumberColumn(format="$%.6f"),
            **{ms: st.column_config.NumberColumn(format="%.0f ms") for ms in ("p50_ms", "p95_ms", "ttft_p50_ms")},
        },
    )
    st.caption(f"Times are local ({time.strftime('%Z')}).")
    errors = data.error_classes(frame)
    if not errors.empty:
        st.subheader("Errors")
        st.dataframe(errors, hide_index=True, key="errors")


def show_experiments() -> None:
    st.header("A/B experiments")
    configs = experiments().configs
    if not configs:
        st.info("No experiments are configured: add one under `experiments:` in `config/routing.yaml`.")
        return
    name = st.selectbox("Experiment", list(configs), key="ab_experiment")
    status = experiments().status(name)
    arms = ", ".join(f"{a.name} → {a.model} ({a.weight:g})" for a in configs[name].arms)
    st.markdown(f"**Status:** {status} · **arms:** {arms}")
    start, pause, end = st.columns(3)
    if start.button("Start" if status != "active" else "Running", key="ab_start", disabled=status == "active"):
        experiments().resume(name)
        st.rerun()
    if pause.button("Pause", key="ab_pause", disabled=status != "active"):
        experiments().pause(name)
        st.rerun()
    if end.button("End", key="ab_end", disabled=status == "ended"):
        experiments().end(name)
        st.rerun()
    table = data.ab_frame(experiments().summary(name))
    if table.empty:
        st.info("No traffic yet: start the experiment, then pick it in the Chat page's sidebar (model `auto`).")
        return
    st.dataframe(
        table,
        hide_index=True,
        key="ab_table",
        column_config={
            "thumbs_up_rate": st.column_config.NumberColumn(format="percent"),
            "cost_per_request": st.column_config.NumberColumn(format="$%.6f"),
        },
    )
    left, right = st.columns(2)
    left.altair_chart(bars(table, "arm:N", "mean_latency_ms:Q", "Mean latency (ms)", color="arm:N"), width="stretch")
    right.altair_chart(
        bars(table.fillna({"thumbs_up_rate": 0}), "arm:N", "thumbs_up_rate:Q", "Thumbs-up rate", color="arm:N"),
        width="stretch",
    )
    for note in data.significance_notes(table, experiments().latencies(name)):
        st.markdown(f"- {note}")


window = st.radio("Range", list(RANGES), index=3, horizontal=True, key="range")
now = time.time()
log = request_log()
log.flush()
span = RANGES[window]
since = now - span if span else 0.0
max_rows = int(os.environ.get("MODELYARD_DASHBOARD_ROWS", "200000"))
rows = log.rows(since, now, limit=max_rows)  # a million-row log would take seconds and gigabytes to chart
if len(rows) == max_rows and (logged := sum(int(row["requests"]) for row in log.usage(since, now))) > max_rows:
    st.caption(
        f"Every figure below is over the latest {max_rows:,} of the {logged:,} calls in this range "
        "(MODELYARD_DASHBOARD_ROWS); the range's totals per key and model are in /api/usage."
    )
frame = data.log_frame(rows)
endpoints = sorted(frame["endpoint"].unique())
if endpoints:
    picked = st.multiselect("Endpoints", endpoints, default=endpoints, key="endpoints")
    frame = frame[frame["endpoint"].isin(picked)]
if frame.empty:
    st.info(
        "No requests logged in this range. Chat on the Chat page, or call the gateway (`make serve`): every "
        "call shows up here."
    )
else:
    show_traffic(frame)
show_experiments()
