"""Which shop tool a question needs, by clear rules — for models that cannot call tools themselves.

In order: asking for a person (a human, an agent; 人工, 真人, 转人工…) → ``hand_off_to_person``;
return or refund words (退货, 退款…) with an order number → ``start_return``; an order number →
``order_status``; otherwise no tool (the bot answers from the knowledge base alone). An order
number is a run of four digits on its own (``1042``, ``#1042``, ``订单1042``).

Example:
    >>> pick_tool("Where is order 1042?")
    ToolPick(name='order_status', args={'order_id': '1042'})
    >>> pick_tool("我想退货，订单号 1042，尺寸不合适").name
    'start_return'
    >>> pick_tool("How long do I have to return an item?") is None
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ToolPick", "pick_tool"]

_HAND_OFF = re.compile(
    r"\b(?:person|human|agent|representative|operator|real people|someone real|staff member)\b"
    r"|人工|真人|转接客服|客服人员|找客服",
    re.IGNORECASE,
)
_RETURN = re.compile(
    r"\b(?:return(?:s|ing|ed)?|refund(?:s|ed|ing)?|send (?:it |them )?back|money back|exchange)\b"
    r"|退货|退款|退回|退换|换货|退掉",
    re.IGNORECASE,
)
_ORDER = re.compile(r"(?<!\d)(?<!\d[.,])(\d{4})(?!\d)(?![.,]\d)")
"""Four digits on their own: not part of a longer number, a price (1.042,50) or an amount (1,042)."""


@dataclass(frozen=True)
class ToolPick:
    """A tool to run and its arguments."""

    name: str
    args: dict[str, str]


def pick_tool(question: str) -> ToolPick | None:
    """The tool ``question`` asks for (see the module docstring), or ``None``."""
    order = _ORDER.search(question)
    if _HAND_OFF.search(question):
        return ToolPick("hand_off_to_person", {"summary": question.strip()})
    if order and _RETURN.search(question):
        return ToolPick("start_return", {"order_id": order.group(1), "reason": question.strip()})
    if order:
        return ToolPick("order_status", {"order_id": order.group(1)})
    return None
