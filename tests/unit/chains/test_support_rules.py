"""Which tool a question needs when the model cannot call tools."""

from __future__ import annotations

import pytest

from chains.support_rules import ToolPick, pick_tool


@pytest.mark.parametrize(
    ("question", "tool", "order_id"),
    [
        ("Where is order 1042?", "order_status", "1042"),
        ("has #1043 shipped", "order_status", "1043"),
        ("订单1042到哪里了？", "order_status", "1042"),
        ("I want to return order 1031, it is broken", "start_return", "1031"),
        ("Can I get a refund for 1042?", "start_return", "1042"),
        ("我想退货，订单号 1041", "start_return", "1041"),
        ("1042 退款", "start_return", "1042"),
    ],
)
def test_an_order_number_picks_status_or_with_return_words_a_return(question, tool, order_id):
    pick = pick_tool(question)
    assert pick is not None and pick.name == tool and pick.args["order_id"] == order_id
    if tool == "start_return":
        assert pick.args["reason"] == question


@pytest.mark.parametrize(
    "question", ["Can I talk to a person?", "I want a human agent about order 1042", "我要转人工", "请帮我找真人客服"]
)
def test_asking_for_a_person_hands_off_with_the_question_as_summary(question):
    assert pick_tool(question) == ToolPick("hand_off_to_person", {"summary": question})


@pytest.mark.parametrize(
    "question",
    ["How long do I have to return an item?", "Which items cannot be returned?", "It cost 1,042.50", "call 0201042777"],
)
def test_no_order_number_and_no_person_means_no_tool(question):
    assert pick_tool(question) is None
