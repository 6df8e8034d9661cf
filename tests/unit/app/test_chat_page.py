"""The chat page, run by Streamlit's AppTest with the real local model, router, moderation and KB."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

CHAT_PAGE = Path(__file__).resolve().parents[3] / "app" / "ui" / "pages" / "chat.py"
pytestmark = pytest.mark.slow


def start() -> AppTest:
    app = AppTest.from_file(str(CHAT_PAGE), default_timeout=180).run()
    assert not app.exception
    return app


def test_auto_is_the_default_and_answers_carry_route_cost_and_provenance():
    app = start()
    assert app.selectbox(key="model").value == "auto"
    assert "tiny" in app.sidebar.info[0].value
    app.chat_input[0].set_value("Hi there! How are you today?").run()
    assert not app.exception and not app.error
    history = app.session_state["history"]
    assert [h["role"] for h in history] == ["user", "assistant"]
    reply = history[1]
    assert reply["content"].strip()
    assert "smollm2-135m · local ·" in reply["caption"] and "tokens" in reply["caption"]
    assert "answered by smollm2-135m/local" in reply["route"]
    assert reply["label"] == "AI-generated · smollm2-135m"
    assert any("AI-generated" in c.value for c in app.caption)
    app.button[0].click().run()  # New chat
    assert app.session_state["history"] == []


def test_pii_is_masked_for_the_router_but_not_for_a_trusted_local_model():
    app = start()
    app.chat_input[0].set_value("My email is jane.doe@example.com, please remember it.").run()
    assert not app.exception and not app.error
    routed = app.session_state["history"][1]
    assert "EMAIL masked as <EMAIL_1>" in routed["flags"]  # the router may pick a hosted model
    assert "<EMAIL_1>" not in routed["content"]           # placeholders are restored for the user

    app.button[0].click().run()
    app.selectbox(key="model").set_value("smollm2-135m").run()  # local models are trusted: no masking
    app.chat_input[0].set_value("My email is jane.doe@example.com, please remember it.").run()
    assert not app.exception and not app.error
    local = app.session_state["history"][1]
    assert local["route"] == "" and not any("masked" in flag for flag in local["flags"])


def test_knowledge_base_answers_show_sources(session_data_dir):
    from knowledge import ensure_sample_kb

    ensure_sample_kb()
    app = start()
    app.toggle(key="use_kb").set_value(True).run()
    app.chat_input[0].set_value("How long does a refund take?").run()
    assert not app.exception and not app.error
    reply = app.session_state["history"][1]
    assert reply["sources"] and reply["sources"][0]["n"] == 1
    assert "answered by smollm2-135m/local" in reply["route"]  # the RAG answer keeps the route ...
    assert reply["label"] == "AI-generated · smollm2-135m"     # ... and its provenance
    assert any("return" in (s.get("file", "") + s.get("heading", "")).lower() or "refund" in s["snippet"].lower()
               for s in reply["sources"])
