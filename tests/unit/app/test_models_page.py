"""The Models page: catalog table, registration form (errors and success), offline, test prompt.

Each test has its own data folder, so registrations land in a fresh SQLite registry; the
registered models point at the honest fake OpenAI-compatible server on loopback.
"""

from __future__ import annotations

import time

import pytest

from app.ui.models_view import ModelForm
from app.ui.state import request_log
from models.registry import Registry
from tests.unit.app.conftest import page, table

REGISTER = "FormSubmitter:register-Register"


def fill_form(app, **values):
    for key, value in values.items():
        widget = (
            app.number_input(key=key)
            if key.endswith(("price", "ctx", "quality"))
            else (app.selectbox(key=key) if key == "reg_provider" else app.text_input(key=key))
        )
        widget.set_value(value)
    return app.button(key=REGISTER).click().run()


def test_catalog_table_shows_availability_reasons_and_deployment_state(own_data_dir):
    app = page("model_registry")
    models = table(app, "why not").set_index("model")
    assert models.loc["smollm2-135m", "available"]
    assert models.loc["smollm2-135m", "deployments"] == "local: no calls yet"
    assert not models.loc["gpt-4o-mini", "available"]
    assert models.loc["gpt-4o-mini", "why not"] == "OPENAI_API_KEY is not set"
    assert models.loc["local-vllm", "why not"].startswith("disabled in the catalog")
    assert models.loc["gpt-4o-mini", "$ / 1K out"] == pytest.approx(0.0006)
    deployments = table(app, "endpoint")
    assert {"gpu0", "gpu1"} <= set(deployments[deployments["model"] == "local-vllm"]["deployment"])
    assert any("No hosted models" in info.value and "OPENAI_API_KEY" in info.value for info in app.info)


def test_registration_errors_are_shown_per_field_and_nothing_is_registered(own_data_dir):
    app = fill_form(page("model_registry"), reg_name="bad name!", reg_provider="openai")
    assert "**Name**: use letters, digits and . _ : / - only" in app.error[0].value
    assert "bad name!" not in Registry().names()

    app = fill_form(app, reg_name="no-endpoint")  # whole-spec rules run once the fields are valid
    assert "**Base URL**: provider 'openai' needs at least one deployment with a base_url" in app.error[0].value
    assert "no-endpoint" not in Registry().names()

    app = fill_form(app, reg_name="my-local", reg_provider="llamacpp")
    assert "**Weights file**: provider 'llamacpp' needs a 'source'" in app.error[0].value
    assert "my-local" not in Registry().names()


def test_negative_numbers_get_a_message_under_each_field_and_stale_errors_go(own_data_dir, upstream):
    app = fill_form(
        page("model_registry"),
        reg_name="uitest-numbers",
        reg_base_url=upstream.base_url,
        reg_in_price=-1.0,
        reg_out_price=-0.5,
        reg_ctx=-4096,
        reg_quality=101,
    )
    under_fields = [m.value for m in app.markdown if m.value.startswith(":red[")]
    assert under_fields == [
        ":red[:material/error: Input price (USD / 1K tokens) must be 0.0 or more]",
        ":red[:material/error: Output price (USD / 1K tokens) must be 0.0 or more]",
        ":red[:material/error: Context window must be 1 or more]",
        ":red[:material/error: Quality must be 100 or less]",
    ]
    assert "**Context window**: must be 1 or more" in app.error[0].value  # and the summary above the form
    assert "uitest-numbers" not in Registry().names()

    app = fill_form(app, reg_in_price=0.1, reg_out_price=0.2, reg_ctx=8192, reg_quality=20)
    assert not app.error and not [m for m in app.markdown if m.value.startswith(":red[")]
    assert any("uitest-numbers** registered" in s.value for s in app.success)


def test_form_errors_name_nested_fields():
    spec, errors = ModelForm(
        name="",
        provider="openai",
        base_url="http://127.0.0.1:1/v1",
        weights_file="w.gguf",
        input_modalities=[],
        context_window=0,
    ).validate()
    assert spec is None
    assert {(e.field, e.message) for e in errors} >= {
        ("Name", "is required"),
        ("Context window", "must be 1 or more"),
    }


def test_a_registered_model_is_listed_taken_offline_brought_back_and_tested(own_data_dir, upstream):
    app = fill_form(
        page("model_registry"),
        reg_name="uitest-echo",
        reg_base_url=upstream.base_url,
        reg_deployment="fake",
        reg_in_price=0.5,
        reg_out_price=1.0,
    )
    assert not app.error and not app.exception
    assert "Model **uitest-echo** registered" in app.success[0].value
    spec = Registry().get("uitest-echo").spec  # persisted: a new Registry reads it from SQLite
    assert spec.deployments[0].base_url == upstream.base_url and spec.cost.output_per_1k == 1.0
    assert table(app, "why not").set_index("model").loc["uitest-echo", "available"]

    app.selectbox(key="offline_model").set_value("uitest-echo").run()
    app.selectbox(key="offline_deployment").set_value("fake").run()
    app.button(key="take_offline").click().run()
    assert "uitest-echo/fake is offline" in app.success[0].value
    entry = Registry().get("uitest-echo")
    assert not entry.availability.available and entry.availability.reason == "fake: taken offline"
    assert table(app, "why not").set_index("model").loc["uitest-echo", "deployments"] == "fake: offline"
    app.button(key="bring_online").click().run()
    assert Registry().get("uitest-echo").availability.available

    app.selectbox(key="test_model").set_value("uitest-echo").run()
    app.text_input(key="test_prompt").set_value("ping from the models page").run()
    app.button(key="run_test").click().run()
    assert not app.error
    assert any(m.value == "echo: ping from the models page" for m in app.markdown)
    metrics = {metric.label: metric.value for metric in app.metric}
    sent = upstream.requests[-1].body
    assert sent["model"] == "uitest-echo" and sent["messages"][-1]["content"] == "ping from the models page"
    assert sent.get("max_completion_tokens", sent.get("max_tokens")) == 64  # the form declares max_tokens
    tokens_in, tokens_out = int(metrics["Input tokens"]), int(metrics["Output tokens"])
    assert tokens_in > 0 and tokens_out == 6  # "echo: ping from the models page"
    assert metrics["Cost"] == f"${tokens_in / 1000 * 0.5 + tokens_out / 1000 * 1.0:.6f}"
    assert metrics["Latency"].endswith(" s")

    upstream.fail(status=500)
    app.button(key="run_test").click().run()
    assert "uitest-echo failed" in app.error[0].value and "500" in app.error[0].value

    log = request_log()  # both test prompts are on the Dashboard
    assert log.flush()
    rows = [r for r in log.rows(0, time.time()) if r["endpoint"] == "ui_test" and r["model"] == "uitest-echo"]
    assert [(r["status"], r["output_tokens"]) for r in rows] == [(200, 6), (502, 0)]


def test_registering_the_same_spec_again_is_reported_unchanged(own_data_dir, upstream):
    values = {"reg_name": "uitest-twice", "reg_base_url": upstream.base_url}
    app = fill_form(page("model_registry"), **values)
    assert "registered" in app.success[0].value
    app = fill_form(app, **values)
    assert "already registered, unchanged" in app.success[0].value


@pytest.mark.slow
def test_quick_test_against_the_local_model(own_data_dir):
    app = page("model_registry")
    assert app.selectbox(key="test_model").value == "smollm2-135m"
    app.text_input(key="test_prompt").set_value("Name a colour.").run()
    app.button(key="run_test").click().run()
    assert not app.error
    metrics = {metric.label: metric.value for metric in app.metric}
    assert 0 < int(metrics["Output tokens"]) <= 64 and int(metrics["Input tokens"]) > 0  # max_tokens=64 was sent
    assert metrics["Cost"] == "$0.000000"  # local models are free
    assert any(m.value.strip() for m in app.markdown)
