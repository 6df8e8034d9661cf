"""The sample shop's orders, and what the support bot records about them (``data/shop_orders.sqlite``).

Orders are read from a JSON file — by default the Yardstore sample that ships with the code
(:data:`SAMPLE_ORDERS`, found next to this module like ``knowledge/samples/``). The sample's dates
are written as of its ``as_of`` day; the store moves every date by the same number of days so that
``as_of`` is the day it loads them, so the sample stays current (order 1042 was always delivered
five days ago). A file without ``as_of`` is used as written.

Returns started and hand-off tickets are rows in SQLite (WAL, ``BEGIN IMMEDIATE`` for
check-then-write), safe to use from several threads and processes. An order with a return
started shows the status ``return_started``.

Example:
    >>> today = date(2025, 6, 2)
    >>> shop = ShopOrders(tmp_path / "shop.sqlite", clock=lambda: today)
    >>> shop.order("1042").status, shop.order("1042").delivered
    ('delivered', datetime.date(2025, 5, 28))
    >>> shop.open_ticket("Anna wants to talk to a person about order 1042", order_id="1042").id
    'T-0001'
    >>> shop.close()
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from store.sqlite import connect, write_transaction

__all__ = ["SAMPLE_ORDERS", "Order", "OrderItem", "ReturnRecord", "ShopOrders", "Ticket", "load_orders"]

SAMPLE_ORDERS = Path(__file__).resolve().parent / "samples" / "shop_orders.json"
"""The Yardstore sample orders (12 fictional orders, first names only)."""

RETURN_STARTED = "return_started"
"""The status an order shows once a return was started for it."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS shop_returns (
    id TEXT PRIMARY KEY, order_id TEXT NOT NULL UNIQUE, reason TEXT NOT NULL, items TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS shop_tickets (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, summary TEXT NOT NULL, order_id TEXT, created REAL NOT NULL);
"""


@dataclass(frozen=True)
class OrderItem:
    """One line of an order."""

    name: str
    quantity: int
    unit_price: float
    category: str
    """What kind of product it is (``tools``, ``seeds``, ``gift_card`` …): the return policy reads it."""


@dataclass(frozen=True)
class Order:
    """One order as the customer sees it.

    Example:
        >>> Order("1", "Ann", "placed", date(2025, 1, 1), (OrderItem("Rake", 2, 10.0, "tools"),)).total
        20.0
    """

    id: str
    customer: str
    """First name only."""
    status: str
    """``placed``, ``shipped``, ``delivered``, ``returned`` or ``return_started``."""
    placed: date
    items: tuple[OrderItem, ...]
    shipped: date | None = None
    delivered: date | None = None
    carrier: str | None = None
    tracking: str | None = None
    currency: str = "EUR"

    @property
    def total(self) -> float:
        return round(sum(item.quantity * item.unit_price for item in self.items), 2)


@dataclass(frozen=True)
class ReturnRecord:
    """A return started for an order (one per order)."""

    id: str
    order_id: str
    reason: str
    items: tuple[str, ...]
    """Names of the items being returned."""
    created: float


@dataclass(frozen=True)
class Ticket:
    """A hand-off to a person: what the customer needs, for the colleague who picks it up."""

    id: str
    summary: str
    order_id: str | None
    created: float


def _day(value: Any, shift: timedelta) -> date | None:
    return None if value is None else date.fromisoformat(str(value)) + shift


def load_orders(path: Path, today: date) -> dict[str, Order]:
    """The orders in ``path`` by id, dates moved so that the file's ``as_of`` (if any) is ``today``.

    Raises:
        ValueError: the file is not an orders file; the message names the file and the order.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the orders file {path}: {exc}") from exc
    shift = today - date.fromisoformat(raw["as_of"]) if raw.get("as_of") else timedelta(0)
    orders: dict[str, Order] = {}
    for index, entry in enumerate(raw.get("orders", [])):
        try:
            items = tuple(
                OrderItem(item["name"], int(item["quantity"]), float(item["unit_price"]), item["category"])
                for item in entry["items"]
            )
            order = Order(
                id=str(entry["id"]),
                customer=entry["customer"],
                status=entry["status"],
                placed=date.fromisoformat(entry["placed"]) + shift,
                items=items,
                shipped=_day(entry.get("shipped"), shift),
                delivered=_day(entry.get("delivered"), shift),
                carrier=entry.get("carrier"),
                tracking=entry.get("tracking"),
                currency=raw.get("currency", "EUR"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: order #{index} ({entry.get('id', '?')}) is invalid: {exc!r}") from exc
        orders[order.id] = order
    return orders


class ShopOrders:
    """The shop's orders (read-only) plus the returns and tickets the support bot records.

    Args:
        db_path: the SQLite file for returns and tickets (created if missing).
        orders_path: the orders JSON (default: the Yardstore sample).
        clock: today's date; the return window is measured with it (tests pass their own).

    Example:
        >>> shop = ShopOrders(tmp_path / "shop.sqlite", clock=lambda: date(2025, 6, 2))
        >>> record = shop.start_return("1042", "too small", ["Acacia garden bench"])
        >>> record.id, shop.order("1042").status
        ('R-1042', 'return_started')
        >>> shop.close()
    """

    def __init__(self, db_path: Path, orders_path: Path = SAMPLE_ORDERS, clock: Callable[[], date] = date.today):
        self.clock = clock
        self._orders = load_orders(orders_path, clock())
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.conn: sqlite3.Connection = connect(db_path)
        self.conn.executescript(_SCHEMA)
        self._lock = threading.RLock()
        """One connection, several threads (LangServe runs chains in a pool): one statement at a time."""

    def today(self) -> date:
        return self.clock()

    def order(self, order_id: str) -> Order | None:
        """The order, with ``return_started`` as its status once a return was recorded; ``None`` if unknown."""
        order = self._orders.get(order_id)
        if order is None or self.return_for(order_id) is None:
            return order
        return Order(**{**order.__dict__, "status": RETURN_STARTED})

    def return_for(self, order_id: str) -> ReturnRecord | None:
        with self._lock:
            row = self.conn.execute("SELECT * FROM shop_returns WHERE order_id = ?", (order_id,)).fetchone()
        return None if row is None else _return_from(row)

    def start_return(self, order_id: str, reason: str, items: list[str]) -> ReturnRecord:
        """Record a return for ``order_id`` (the caller checked the policy); an open one is returned as is.

        Raises:
            KeyError: no such order.
        """
        if order_id not in self._orders:
            raise KeyError(order_id)
        with self._lock, write_transaction(self.conn):
            self.conn.execute(
                "INSERT OR IGNORE INTO shop_returns (id, order_id, reason, items, created) VALUES (?, ?, ?, ?, ?)",
                (f"R-{order_id}", order_id, reason, json.dumps(items), time.time()),
            )
            row = self.conn.execute("SELECT * FROM shop_returns WHERE order_id = ?", (order_id,)).fetchone()
        return _return_from(row)

    def open_ticket(self, summary: str, order_id: str | None = None) -> Ticket:
        """Open a hand-off ticket (ids ``T-0001``, ``T-0002`` … in the order they were opened)."""
        with self._lock, write_transaction(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO shop_tickets (summary, order_id, created) VALUES (?, ?, ?)",
                (summary, order_id, time.time()),
            )
            row = self.conn.execute("SELECT * FROM shop_tickets WHERE seq = ?", (cursor.lastrowid,)).fetchone()
        return _ticket_from(row)

    def tickets(self) -> list[Ticket]:
        """Every ticket, oldest first."""
        with self._lock:
            return [_ticket_from(row) for row in self.conn.execute("SELECT * FROM shop_tickets ORDER BY seq")]

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def _return_from(row: sqlite3.Row) -> ReturnRecord:
    return ReturnRecord(row["id"], row["order_id"], row["reason"], tuple(json.loads(row["items"])), row["created"])


def _ticket_from(row: sqlite3.Row) -> Ticket:
    return Ticket(f"T-{row['seq']:04d}", row["summary"], row["order_id"], row["created"])
