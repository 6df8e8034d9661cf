"""The shop order store on real files: the shipped sample, dates kept current, returns and tickets in SQLite."""

from __future__ import annotations

import json
import threading
from datetime import date

import pytest

import store
from store.shop_orders import SAMPLE_ORDERS, ShopOrders

AS_OF = date(2025, 6, 2)


def test_the_sample_ships_with_the_package_and_holds_twelve_orders(tmp_path):
    assert SAMPLE_ORDERS.is_file() and SAMPLE_ORDERS.parent.parent.samefile(store.__path__[0])  # found from the package
    shop = ShopOrders(tmp_path / "shop.sqlite", clock=lambda: AS_OF)
    raw = json.loads(SAMPLE_ORDERS.read_text(encoding="utf-8"))
    assert len(raw["orders"]) == 12
    assert {shop.order(o["id"]).status for o in raw["orders"]} == {"placed", "shipped", "delivered", "returned"}
    order = shop.order("1042")
    assert (order.customer, order.delivered, order.total) == ("Anna", date(2025, 5, 28), 188.9)
    assert shop.order("9999") is None


def test_sample_dates_move_so_that_as_of_is_the_day_the_store_loads_them(tmp_path):
    shop = ShopOrders(tmp_path / "shop.sqlite", clock=lambda: date(2026, 1, 10))
    order = shop.order("1042")
    assert order.delivered == date(2026, 1, 5) and order.placed == date(2025, 12, 31)


def test_a_file_without_as_of_is_used_as_written(tmp_path):
    path = tmp_path / "orders.json"
    entry = {"id": "7", "customer": "Ida", "status": "placed", "placed": "2024-02-01", "items": []}
    path.write_text(json.dumps({"orders": [entry]}), encoding="utf-8")
    shop = ShopOrders(tmp_path / "shop.sqlite", orders_path=path, clock=lambda: AS_OF)
    assert shop.order("7").placed == date(2024, 2, 1)


def test_a_broken_orders_file_names_the_file_and_the_order(tmp_path):
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"orders": [{"id": "8", "customer": "Ida"}]}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"orders\.json: order #0 \(8\) is invalid"):
        ShopOrders(tmp_path / "shop.sqlite", orders_path=path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read the orders file"):
        ShopOrders(tmp_path / "shop.sqlite", orders_path=path)


def test_a_return_is_recorded_once_and_survives_a_reopen(tmp_path):
    shop = ShopOrders(tmp_path / "shop.sqlite", clock=lambda: AS_OF)
    first = shop.start_return("1042", "too small", ["Acacia garden bench"])
    again = shop.start_return("1042", "changed my mind", [])
    assert again == first and first.reason == "too small"
    assert ShopOrders(tmp_path / "shop.sqlite", clock=lambda: AS_OF).order("1042").status == "return_started"
    with pytest.raises(KeyError):
        shop.start_return("9999", "no such order", [])


def test_tickets_from_many_threads_get_distinct_ids_and_persist(tmp_path):
    shop = ShopOrders(tmp_path / "shop.sqlite", clock=lambda: AS_OF)
    threads = [threading.Thread(target=shop.open_ticket, args=(f"customer {i}",)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shop.open_ticket("about order 1043", order_id="1043")
    tickets = ShopOrders(tmp_path / "shop.sqlite", clock=lambda: AS_OF).tickets()
    assert len({t.id for t in tickets}) == 17 and tickets[-1].id == "T-0017" and tickets[-1].order_id == "1043"
