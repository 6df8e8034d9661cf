"""The chat page, run by Streamlit's AppTest: a message goes in, a real local-model reply comes out."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

CHAT_PAGE = Path(__file__).resolve().parents[3] / "app" / "ui" / "pages" / "chat.py"
pytestmark = pytest.mark.slow


def test_chat_page_sends_a_message_and_shows_a_real_reply_with_its_stats():
    app = AppTest.from_file(str(CHAT_PAGE), default_timeout=120).run()
    assert not app.exception
    assert app.selectbox(key="model").value == "smollm2-135m"
    assert "tiny" in app.sidebar.info[0].value
    app.chat_input[0].set_value("What is the capital of France?").run()
    assert not app.exception and not app.error
    history = app.session_state["history"]
    assert [h["role"] for h in history] == ["user", "assistant"]
    assert history[1]["content"].strip()
    assert "smollm2-135m · local ·" in history[1]["caption"] and "tokens" in history[1]["caption"]
    assert any("smollm2-135m" in c.value for c in app.caption)
    app.button[0].click().run()  # New chat
    assert app.session_state["history"] == []
