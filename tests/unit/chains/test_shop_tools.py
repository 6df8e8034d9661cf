"""The shop tools over a real store: status, returns against the policy pages, hand-off, bad arguments."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from chains.shop_tools import RETURN_WINDOW_DAYS, shop_tools
from knowledge.samples import SAMPLE_DIR
from store.shop_orders import ShopOrders

AS_OF = date(2025, 6, 2)


class Clock:
    """Today, movable by a test."""

    def __init__(self, today: date) -> None:
        self.today = today

    def __call__(self) -> date:
        return self.today


@pytest.fixture
def clock() -> Clock:
    return Clock(AS_OF)


@pytest.fixture
def shop(tmp_path, clock) -> ShopOrders:
    return ShopOrders(tmp_path / "shop.sqlite", clock=clock)


@pytest.fixture
def tools(shop):
    return {tool.name: tool for tool in shop_tools(shop)}


def test_the_return_window_is_the_one_both_policy_pages_state():
    english = (SAMPLE_DIR / "returns.md").read_text(encoding="utf-8")
    chinese = (SAMPLE_DIR / "returns-zh.md").read_text(encoding="utf-8")
    assert re.search(r"within \*\*(\d+) days of delivery\*\*", english).group(1) == str(RETURN_WINDOW_DAYS)
    assert re.search(r"签收后 \*\*(\d+) 天内\*\*", chinese).group(1) == str(RETURN_WINDOW_DAYS)


def test_order_status_describes_the_order_and_takes_any_spelling_of_its_number(tools):
    for spelling in ("1043", "#1043", "order 1043"):
        result = tools["order_status"].invoke({"order_id": spelling})
        assert result.startswith("Order 1043 for Ben is shipped: placed on 2025-05-29, shipped on 2025-05-30")
        assert "Tracking number: 3SYRD0043" in result


def test_an_unknown_order_is_a_result_that_says_what_to_check(tools):
    assert tools["order_status"].invoke({"order_id": "9999"}).startswith("There is no order 9999. Order numbers")
    assert tools["start_return"].invoke({"order_id": "abc", "reason": "x"}).startswith("There is no order abc.")


def test_a_return_inside_the_window_is_started_and_recorded(tools, shop):
    result = tools["start_return"].invoke({"order_id": "1042", "reason": "too small"})
    assert result.startswith("Return R-1042 started for order 1042") and "30-day return window" in result
    assert shop.return_for("1042").reason == "too small"
    assert (
        tools["start_return"]
        .invoke({"order_id": "1042", "reason": "again"})
        .startswith("Return refused: A return for order 1042 is already open")
    )


def test_the_window_ends_thirty_days_after_delivery_by_the_clock(tools, shop, clock):
    delivered = shop.order("1042").delivered
    clock.today = delivered + timedelta(days=RETURN_WINDOW_DAYS + 1)
    refused = tools["start_return"].invoke({"order_id": "1042", "reason": "late"})
    assert refused.startswith("Return refused: Order 1042 was delivered on 2025-05-28, 31 days ago.")
    assert shop.return_for("1042") is None
    clock.today = delivered + timedelta(days=RETURN_WINDOW_DAYS)
    assert tools["start_return"].invoke({"order_id": "1042", "reason": "last day"}).startswith("Return R-1042 started")


@pytest.mark.parametrize(
    ("order_id", "refusal"),
    [
        ("1031", "53 days ago"),
        ("1040", "holds only items the policy does not take back (seeds, bulbs and live plants)"),
        ("1044", "is placed and not delivered yet"),
        ("1036", "was already returned"),
    ],
)
def test_returns_the_policy_does_not_allow_are_refused_with_the_reason(tools, shop, order_id, refusal):
    result = tools["start_return"].invoke({"order_id": order_id, "reason": "please"})
    assert result.startswith("Return refused:") and refusal in result
    assert shop.return_for(order_id) is None


def test_items_the_policy_never_takes_back_are_left_out_of_a_return(tools, shop):
    result = tools["start_return"].invoke({"order_id": "1037", "reason": "leaks"})
    assert "Not included, the policy does not take them back: Garden hose, cut to 18 m." in result
    assert shop.return_for("1037").items == ("Wall-mounted hose reel",)


def test_a_hand_off_opens_a_ticket_the_store_shows(tools, shop):
    result = tools["hand_off_to_person"].invoke({"summary": "Anna wants to talk about order 1042"})
    assert result.startswith("Ticket T-0001 is open")
    assert [(t.summary, t.order_id) for t in shop.tickets()] == [("Anna wants to talk about order 1042", "1042")]
    assert "nothing was opened" in tools["hand_off_to_person"].invoke({"summary": "  "})
    assert len(shop.tickets()) == 1


def test_arguments_that_do_not_fit_the_schema_are_a_result_naming_them(tools):
    result = tools["start_return"].invoke({"order_id": 1042})
    assert result.startswith("The tool's arguments do not fit its schema") and "reason: Field required" in result
