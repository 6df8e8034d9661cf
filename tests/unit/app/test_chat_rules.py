"""The chat's turn rules without Streamlit: answer style, history budget and trimming, placeholder
scrubbing of a stream, failure messages and refusal notes."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from app.ui.chat_rules import (
    LOCAL_HISTORY_TOKENS,
    WITHHELD,
    PlaceholderFilter,
    describe_refusal,
    failure_message,
    history_budget,
    trim_history,
)
from chains.rag import answer_style_for
from core.errors import Attempt, ProviderTimeout, RoutingError
from models.catalog import load_catalog

CATALOG = {spec.name: spec for spec in load_catalog()}


def test_answer_style_comes_from_the_catalog_field():
    tiny, hosted = CATALOG["smollm2-135m"], CATALOG["gpt-4o-mini"]
    assert (tiny.answer_style, hosted.answer_style) == ("extractive", "generative")
    assert answer_style_for(tiny, [tiny, hosted]) == "extractive"
    assert answer_style_for(None, [tiny]) == "extractive"  # the router can only pick tiny models
    assert answer_style_for(None, [tiny, hosted]) == "generative"
    assert answer_style_for(None, [tiny, CATALOG["dall-e-3"]]) == "extractive"  # image models write no text


def test_history_budget_fits_the_window_and_caps_local_models():
    hosted, tiny = CATALOG["gpt-4o-mini"], CATALOG["smollm2-135m"]
    assert history_budget(hosted, 1024) == (hosted.context_window - 1024) // 2
    assert history_budget(tiny, 256) == LOCAL_HISTORY_TOKENS < (tiny.context_window - 256) // 2
    assert history_budget(tiny.model_copy(update={"context_window": 512}), 256) == 128
    assert history_budget(None, 256) == LOCAL_HISTORY_TOKENS


def test_trim_history_keeps_the_latest_whole_turns_with_the_real_token_counter():
    turns = []
    for i in range(20):
        turns += [HumanMessage(f"question number {i} about returns"), AIMessage(f"answer number {i} " * 10)]
    kept = trim_history(turns, 100)
    assert kept and kept[-1] is turns[-1] and kept[0].type == "human"
    assert kept == turns[-len(kept) :] and len(kept) < len(turns)
    assert trim_history(turns, 0) == []
    assert trim_history(turns, 10**6) == turns


@pytest.mark.parametrize("split", [1, 2, 3, 5, 100])
def test_invented_placeholders_never_reach_the_user_however_the_stream_is_cut(split):
    answer = "Mail me at <EMAIL_1> or [Email1], call [PHONE 2]; see [1] and <b>bold</b>. Dear [Name], [x"
    scrub = PlaceholderFilter()
    shown = "".join(scrub.feed(answer[i : i + split]) for i in range(0, len(answer), split)) + scrub.finish()
    w = WITHHELD
    assert shown == f"Mail me at {w} or {w}, call {w}; see [1] and <b>bold</b>. Dear {w}, [x"
    assert scrub.removed == 4


def test_a_timeout_says_what_happened_and_what_to_try():
    direct = failure_message(ProviderTimeout("read timed out", provider="llamacpp"), 60)
    routed = failure_message(RoutingError("all failed", [Attempt("smollm2-135m", "local", "ProviderTimeout: x")]))
    for text in (direct, routed):
        assert "did not answer" in text and "timeout" in text and "max tokens" in text
    assert "within 60 s" in direct
    assert failure_message(RoutingError("no model", [])).startswith("No model could answer")


def test_a_refusal_names_the_best_match_and_its_score():
    note = describe_refusal(
        {"threshold": 0.35, "best": {"file": "returns.md", "heading": "Returns > Refunds", "score": 0.21}}
    )
    assert "returns.md — Returns > Refunds" in note and "0.21" in note and "threshold 0.35" in note
    assert "not called" in describe_refusal({"threshold": 0.35, "best": None})
