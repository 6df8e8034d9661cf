"""The Dashboard page over a real request log and A/B database seeded in the test's data folder."""

from __future__ import annotations

import time

import pytest

from routers.config import load_routing_config
from routers.experiments import Experiments
from store.request_log import CallRecord, RequestLog
from tests.unit.app.conftest import page, table

EXPERIMENT = "llamacpp-vs-transformers"


@pytest.fixture
def data_dir(own_data_dir, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return own_data_dir


def seed_log(folder, now: float) -> None:
    log = RequestLog(folder / "requests.sqlite")
    calls = [
        CallRecord(
            endpoint="chat",
            model="gpt-4o-mini",
            deployment="openai",
            latency_s=0.8,
            ttft_s=0.2,
            input_tokens=1000,
            output_tokens=500,
            cost_usd=0.00045,
            cache="miss",
            ts=now - 600,
        ),
        CallRecord(
            endpoint="chat",
            model="gpt-4o-mini",
            deployment="openai",
            latency_s=0.01,
            input_tokens=1000,
            output_tokens=500,
            cost_usd=0.0,
            cache="hit",
            ts=now - 500,
        ),
        CallRecord(
            endpoint="chat",
            model="gpt-4o-mini",
            deployment="openai",
            latency_s=1.2,
            status=502,
            error_class="ProviderServerError",
            cache="miss",
            ts=now - 400,
        ),
        CallRecord(
            endpoint="ui_chat",
            model="smollm2-135m",
            deployment="local",
            latency_s=0.4,
            ttft_s=0.05,
            input_tokens=200,
            output_tokens=100,
            ts=now - 300,
        ),
        CallRecord(
            endpoint="ui_chat",
            model="smollm2-135m",
            deployment="local",
            latency_s=0.6,
            ttft_s=0.05,
            input_tokens=300,
            output_tokens=100,
            ts=now - 3 * 3600,
        ),  # outside "last hour"
    ]
    for call in calls:
        log.write(call)
    assert log.flush()
    log.close()


def test_empty_log_and_experiments_say_what_to_do(data_dir):
    app = page("dashboard")
    infos = [info.value for info in app.info]
    assert any("No requests logged" in text and "Chat page" in text for text in infos)
    assert any("No traffic yet" in text for text in infos)
    assert not app.get("vega_lite_chart")


def test_seeded_requests_become_metrics_charts_and_tables(data_dir):
    seed_log(data_dir, time.time())
    app = page("dashboard")
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Requests"] == "5" and metrics["Error rate"] == "20.0%"
    assert metrics["Cost"] == "$0.0004"
    # Same tokens at the priciest catalog model (gpt-4o-mini; only local models are available offline):
    # 2,500 input and 1,200 output tokens → $0.000375 + $0.00072 = $0.001095; actual $0.00045.
    assert metrics["Saved by routing"] == "$0.0006"
    assert len(app.get("vega_lite_chart")) == 6
    per_model = table(app, "p95_ms").set_index("model")
    assert per_model.loc["gpt-4o-mini", "requests"] == 3 and per_model.loc["smollm2-135m", "requests"] == 2
    assert per_model.loc["gpt-4o-mini", "error_rate"] == pytest.approx(1 / 3)
    assert per_model.loc["smollm2-135m", "p50_ms"] == pytest.approx(500)
    assert list(table(app, "error_class")["error_class"]) == ["ProviderServerError"]
    assert any("33.3% of 3 consulted lookups" in caption.value for caption in app.caption)

    app.radio(key="range").set_value("Last hour").run()
    assert {m.label: m.value for m in app.metric}["Requests"] == "4"
    app.multiselect(key="endpoints").set_value(["ui_chat"]).run()
    assert {m.label: m.value for m in app.metric}["Requests"] == "1"
    app.multiselect(key="endpoints").set_value([]).run()
    assert any("No requests logged" in info.value for info in app.info)


def test_a_range_with_more_calls_than_the_page_charts_says_so(data_dir, monkeypatch):
    seed_log(data_dir, time.time())
    monkeypatch.setenv("MODELYARD_DASHBOARD_ROWS", "3")
    app = page("dashboard")
    assert {metric.label: metric.value for metric in app.metric}["Requests"] == "3"  # the latest three
    assert any("latest 3 of the 5 calls" in caption.value for caption in app.caption)
    assert table(app, "p95_ms").set_index("model").loc["smollm2-135m", "requests"] == 1  # the oldest two left out


def test_experiments_side_by_side_with_significance_and_controls(data_dir):
    experiments = Experiments(load_routing_config().experiments, data_dir / "experiments.sqlite")
    for i in range(40):
        arm, latency = ("llamacpp", 0.2 + i % 5 * 0.01) if i < 30 else ("transformers", 0.9 + i % 5 * 0.02)
        experiments.record(f"r{i}", EXPERIMENT, arm, latency, 10, 20, 0.0)
        experiments.feedback(f"r{i}", thumbs_up=(i % 3 != 0) if arm == "llamacpp" else (i % 2 == 0))
    app = page("dashboard")
    arms = table(app, "thumbs_up_rate").set_index("arm")
    assert arms.loc["llamacpp", "requests"] == 30 and arms.loc["transformers", "requests"] == 10
    assert arms.loc["llamacpp", "thumbs_up"] == 20 and arms.loc["transformers", "thumbs_up"] == 5
    notes = [m.value for m in app.markdown if m.value.startswith("- transformers vs llamacpp")]
    assert any("z-test on thumbs-up rate" in note and "not significant" in note for note in notes)
    assert any("Welch's t-test on latency" in note and "— significant" in note for note in notes)
    assert len(app.get("vega_lite_chart")) == 2  # the A/B bars (no request-log rows here)

    assert any("**Status:** paused" in m.value for m in app.markdown)
    app.button(key="ab_start").click().run()
    assert experiments.db.status(EXPERIMENT) == "active"
    assert any("**Status:** active" in m.value for m in app.markdown)
    app.button(key="ab_pause").click().run()
    assert experiments.db.status(EXPERIMENT) == "paused"
