"""The support bot's tools over the shop's orders: status, returns (checked against the policy), hand-off.

Each tool is a LangChain ``StructuredTool`` with pydantic arguments, so a tool-calling model sees a
JSON schema and a model without tool calling can be served by :mod:`chains.support`'s rules. A
tool never raises on a customer's input: an unknown order, a return outside the policy or
arguments that do not fit the schema come back as a sentence saying what is wrong and what to do.

The return policy is ``knowledge/samples/shop/returns.md`` (English) and ``returns-zh.md``: 30 days
from delivery, unused and complete, and some kinds of product never (seeds, bulbs and live plants,
products cut to measure, gift cards; garden chemicals only unopened). :data:`RETURN_WINDOW_DAYS`
states the number once; a unit test checks that both pages say the same.

Example:
    >>> shop = ShopOrders(tmp_path / "shop.sqlite", clock=lambda: date(2025, 6, 2))
    >>> tools = {tool.name: tool for tool in shop_tools(shop)}
    >>> tools["order_status"].invoke({"order_id": "9999"})
    'There is no order 9999. Order numbers have four digits (for example 1042) and are in the confirmation email.'
    >>> shop.close()
"""

from __future__ import annotations

import re
from datetime import date

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field, ValidationError

from store.shop_orders import Order, ShopOrders

__all__ = [
    "CONDITIONAL_CATEGORIES",
    "NON_RETURNABLE",
    "POLICY_TOPICS",
    "RETURN_WINDOW_DAYS",
    "HandOffArgs",
    "OrderArgs",
    "ReturnArgs",
    "describe_order",
    "return_refusal",
    "shop_tools",
]

RETURN_WINDOW_DAYS = 30
"""Days from delivery in which an item can be returned (``returns.md``: "within **30 days of delivery**")."""
NON_RETURNABLE = {
    "seeds": "seeds, bulbs and live plants",
    "live_plants": "seeds, bulbs and live plants",
    "cut_to_measure": "products cut to measure",
    "gift_card": "gift cards",
}
"""Item categories the policy never takes back, with the policy's words for them."""
CONDITIONAL_CATEGORIES = {"garden_chemicals": "only if unopened"}
"""Categories taken back under a condition the customer must meet."""

POLICY_TOPICS = {
    "order_status": ("delivery times and tracking your parcel", "配送时间与运费"),
    "start_return": ("return within 30 days of delivery: conditions", "退货期限与条件"),
    "hand_off_to_person": ("contact customer service", "联系客服"),
}
"""What to look up in the knowledge base beside a tool's result (English, Chinese): the policy it rests on."""

_ORDER_ID = re.compile(r"\d{3,8}")


class OrderArgs(BaseModel):
    """Arguments of ``order_status``."""

    order_id: str = Field(description="The order number, for example 1042.")


class ReturnArgs(BaseModel):
    """Arguments of ``start_return``."""

    order_id: str = Field(description="The order number, for example 1042.")
    reason: str = Field(description="Why the customer returns it, in their words.")


class HandOffArgs(BaseModel):
    """Arguments of ``hand_off_to_person``."""

    summary: str = Field(description="What the customer needs, for the colleague who takes over.")


def _order_number(value: str) -> str | None:
    """``"#1042"``, ``"order 1042"`` or ``1042`` → ``"1042"``; ``None`` when no order number is in it."""
    found = _ORDER_ID.search(str(value))
    return found.group() if found else None


def _unknown(order_id: str) -> str:
    return (
        f"There is no order {order_id}. Order numbers have four digits (for example 1042) "
        "and are in the confirmation email."
    )


def describe_order(order: Order) -> str:
    """One paragraph a customer can read: status with its dates, tracking, items and total."""
    steps = [f"placed on {order.placed.isoformat()}"]
    if order.shipped:
        steps.append(f"shipped on {order.shipped.isoformat()}" + (f" with {order.carrier}" if order.carrier else ""))
    if order.delivered:
        steps.append(f"delivered on {order.delivered.isoformat()}")
    tracking = f" Tracking number: {order.tracking}." if order.tracking and order.status == "shipped" else ""
    items = ", ".join(f"{item.quantity} × {item.name}" for item in order.items)
    status = "being returned" if order.status == "return_started" else order.status
    return (
        f"Order {order.id} for {order.customer} is {status}: {', '.join(steps)}.{tracking} "
        f"Items: {items}. Total {order.total:.2f} {order.currency}."
    )


def return_refusal(order: Order, today: date) -> str | None:
    """Why the policy does not allow a return of ``order`` today; ``None`` when it does."""
    if order.status == "return_started":
        return f"A return for order {order.id} is already open (return R-{order.id}); the label was sent by email."
    if order.status == "returned":
        return f"Order {order.id} was already returned and refunded."
    if order.delivered is None:
        return (
            f"Order {order.id} is {order.status} and not delivered yet, so it cannot be returned yet. "
            f"You can return it within {RETURN_WINDOW_DAYS} days of delivery."
        )
    last_day = order.delivered.toordinal() + RETURN_WINDOW_DAYS
    if today.toordinal() > last_day:
        return (
            f"Order {order.id} was delivered on {order.delivered.isoformat()}, "
            f"{today.toordinal() - order.delivered.toordinal()} days ago. Returns are possible within "
            f"{RETURN_WINDOW_DAYS} days of delivery, so this order can no longer be returned. "
            "If an item is faulty, the warranty may still cover it: ask for a person to help."
        )
    if all(item.category in NON_RETURNABLE for item in order.items):
        kinds = sorted({NON_RETURNABLE[item.category] for item in order.items})
        return f"Order {order.id} holds only items the policy does not take back ({'; '.join(kinds)})."
    return None


def _start_return(shop: ShopOrders, order_id: str, reason: str) -> str:
    number = _order_number(order_id)
    order = shop.order(number) if number else None
    if order is None:
        return _unknown(number or order_id)
    refusal = return_refusal(order, shop.today())
    if refusal is not None:
        return f"Return refused: {refusal}"
    kept = [item for item in order.items if item.category in NON_RETURNABLE]
    returned = [item for item in order.items if item.category not in NON_RETURNABLE]
    record = shop.start_return(order.id, reason, [item.name for item in returned])
    last_day = date.fromordinal(order.delivered.toordinal() + RETURN_WINDOW_DAYS) if order.delivered else None
    text = (
        f"Return {record.id} started for order {order.id}: {', '.join(item.name for item in returned)}. "
        f"It is within the {RETURN_WINDOW_DAYS}-day return window (until {last_day}). A prepaid return label is "
        "on its way by email; items must be unused, complete and in their original packaging."
    )
    if kept:
        text += " Not included, the policy does not take them back: " + ", ".join(item.name for item in kept) + "."
    conditional = [item for item in returned if item.category in CONDITIONAL_CATEGORIES]
    for item in conditional:
        text += f" {item.name}: {CONDITIONAL_CATEGORIES[item.category]}."
    return text


def _order_status(shop: ShopOrders, order_id: str) -> str:
    number = _order_number(order_id)
    order = shop.order(number) if number else None
    return describe_order(order) if order is not None else _unknown(number or order_id)


def _hand_off(shop: ShopOrders, summary: str) -> str:
    if not summary.strip():
        return "A hand-off needs a short summary of what the customer needs; nothing was opened."
    ticket = shop.open_ticket(summary.strip(), order_id=_order_number(summary))
    return (
        f"Ticket {ticket.id} is open: a person from our customer service will reply by email within one business day."
    )


def _invalid(error: ValidationError) -> str:
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in error.errors())
    return f"The tool's arguments do not fit its schema ({problems}); call it again with corrected arguments."


def shop_tools(shop: ShopOrders) -> list[BaseTool]:
    """``order_status``, ``start_return`` and ``hand_off_to_person`` over ``shop``."""
    return [
        StructuredTool.from_function(
            func=lambda order_id: _order_status(shop, order_id),
            name="order_status",
            description="Look up an order: its status, dates, tracking number, items and total.",
            args_schema=OrderArgs,
            handle_validation_error=_invalid,
        ),
        StructuredTool.from_function(
            func=lambda order_id, reason: _start_return(shop, order_id, reason),
            name="start_return",
            description="Start a return or refund for a delivered order, if the return policy allows it.",
            args_schema=ReturnArgs,
            handle_validation_error=_invalid,
        ),
        StructuredTool.from_function(
            func=lambda summary: _hand_off(shop, summary),
            name="hand_off_to_person",
            description="Hand the conversation to a human agent: opens a ticket a person answers.",
            args_schema=HandOffArgs,
            handle_validation_error=_invalid,
        ),
    ]
