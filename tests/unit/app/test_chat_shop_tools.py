"""The chat with the shop tools on: the answer states the order's status, and its details list the tool call."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

CHAT_PAGE = Path(__file__).resolve().parents[3] / "app" / "ui" / "pages" / "chat.py"
pytestmark = pytest.mark.slow


def test_an_answer_that_used_a_tool_shows_the_call_in_its_details(session_data_dir):
    from knowledge import ensure_sample_kb

    ensure_sample_kb()
    app = AppTest.from_file(str(CHAT_PAGE), default_timeout=180).run()
    assert app.toggle(key="shop_tools").disabled  # only with the sample knowledge base on
    app.toggle(key="use_kb").set_value(True).run()
    app.toggle(key="shop_tools").set_value(True).run()
    app.chat_input[0].set_value("Where is order 1042?").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    reply = app.session_state["history"][1]
    assert reply["content"].startswith("Order 1042 for Anna is delivered")
    [call] = reply["tool_calls"]
    assert call["name"] == "order_status" and call["args"] == {"order_id": "1042"}
    details = [m.value for m in app.expander[0].markdown]
    assert any(d.startswith("**Tool call:** `order_status(order_id='1042')`") and "Anna" in d for d in details)
