"""The Redis limit store's Lua scripts against the machine's real Redis (own prefix per test).

Times are passed explicitly (``now``), so windows and leases are checked without waiting; two
stores on one prefix stand for two gateway replicas.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.server.gateway.keys import ApiKey
from app.server.gateway.limits import Denial, Reservation
from app.server.gateway.limits_redis import RedisLimits
from core.errors import SharedStateUnavailable
from store.api_keys_db import StoredKey
from tests.support.redis_server import drop_prefix, fresh_prefix, redis_url, require_redis
from tests.support.upstream import free_port


def _key(**limits: float | int) -> ApiKey:
    return ApiKey(StoredKey("key_t", "t", "ab", "my-AbCdE", (), **limits))  # type: ignore[arg-type]


@pytest.fixture
def prefix() -> Iterator[str]:
    client = require_redis()
    name = fresh_prefix("limits")
    yield name
    drop_prefix(client, name)
    client.close()


@pytest.fixture
def replicas(prefix: str) -> Iterator[tuple[RedisLimits, RedisLimits]]:
    a, b = RedisLimits(redis_url(), prefix=prefix), RedisLimits(redis_url(), prefix=prefix)
    yield a, b
    a.close()
    b.close()


def test_the_requests_window_is_shared_and_rolls(replicas):
    a, b = replicas
    key = _key(rpm=2)
    assert a.admit(key, now=1000.0) is None
    assert b.admit(key, now=1010.0) is None
    denied = a.admit(key, now=1030.0)
    assert isinstance(denied, Denial) and denied.code == "rate_limit_exceeded"
    assert denied.retry_after == pytest.approx(30.0)  # until the first request is 60 s old
    assert b.admit(key, now=1061.0) is None  # the first one aged out
    assert a.usage([key], now=1061.0)[0].requests_last_minute == 2


def test_tokens_charged_on_one_replica_close_the_window_on_the_other(replicas):
    a, b = replicas
    key = _key(tpm=100)
    a.settle(None, key, 100, 0.0, now=1000.0)
    a.flush()
    denied = b.admit(key, now=1001.0)
    assert isinstance(denied, Denial) and denied.retry_after == pytest.approx(59.0)
    assert "100 in the last 60 s" in denied.message
    assert isinstance(b.reserve(key, 10, 0.0, now=1001.0), Denial)
    assert isinstance(b.reserve(key, 10, 0.0, now=1060.5), Reservation)


def test_budget_holds_overshoot_by_at_most_one_reservation_and_settle_to_the_real_cost(replicas):
    a, b = replicas
    key = _key(budget_usd=1.0)
    first = a.reserve(key, 10, 0.6, now=1000.0)
    second = b.reserve(key, 10, 0.6, now=1000.0)  # spent 0 + held 0.6 < 1: admitted
    assert isinstance(first, Reservation) and isinstance(second, Reservation)
    third = a.reserve(key, 10, 0.6, now=1000.0)
    assert isinstance(third, Denial) and third.code == "budget_exceeded" and "$1.2 held" in third.message
    a.settle(first, key, 10, 0.1, now=1001.0)  # cheaper than estimated: the hold is released
    b.settle(second, key, 0, 0.0, now=1001.0)  # failed: released, nothing charged
    a.flush()
    b.flush()
    assert a.usage([key], now=1001.0)[0].spent_usd == pytest.approx(0.1)
    assert isinstance(b.reserve(key, 10, 0.6, now=1002.0), Reservation)


def test_spend_reaching_the_budget_refuses_admission_everywhere(replicas):
    a, b = replicas
    key = _key(budget_usd=0.5)
    held = a.reserve(key, 10, 0.1, now=1000.0)
    assert isinstance(held, Reservation)
    a.settle(held, key, 10, 0.7, now=1000.0)  # dearer than estimated
    a.flush()
    denied = b.admit(key, now=1001.0)
    assert isinstance(denied, Denial) and denied.code == "budget_exceeded" and "$0.7 of its $0.5" in denied.message


def test_the_persisted_spend_seeds_a_new_account(replicas):
    a, _ = replicas
    key = _key(budget_usd=1.0)
    key.spent_usd = 1.0  # written to SQLite before Redis saw this key
    assert isinstance(a.admit(key, now=1000.0), Denial)


def test_a_hold_whose_replica_never_settles_ends_with_its_lease(prefix):
    dying = RedisLimits(redis_url(), prefix=prefix, lease_seconds=10.0)
    other = RedisLimits(redis_url(), prefix=prefix)
    try:
        key = _key(budget_usd=1.0)
        assert isinstance(dying.reserve(key, 10, 1.0, now=1000.0), Reservation)
        assert isinstance(other.reserve(key, 10, 0.5, now=1005.0), Denial)
        assert isinstance(other.reserve(key, 10, 0.5, now=1011.0), Reservation)
    finally:
        dying.close()
        other.close()


def test_a_settlement_rides_on_the_next_admission(replicas):
    a, _ = replicas
    a.settle_delay = 60.0  # the settling thread would wait that long: only an admission sends it
    key = _key(rpm=10, tpm=1000)
    assert a.admit(key, now=1000.0) is None
    held = a.reserve(key, 50, 0.0, now=1000.0)
    assert isinstance(held, Reservation)
    a.settle(held, key, 40, 0.0, now=1000.5)
    before = a.roundtrips
    assert a.admit(key, now=1001.0) is None
    assert a.roundtrips == before + 1
    assert a.usage([key], now=1001.0)[0].tokens_last_minute == 40


def test_an_unreachable_redis_fails_closed_naming_it():
    limits = RedisLimits(f"redis://:pw@127.0.0.1:{free_port()}/0", prefix="unused", timeout=0.5)
    try:
        with pytest.raises(SharedStateUnavailable) as raised:
            limits.admit(_key(rpm=1))
        message = str(raised.value)
        assert "Redis at redis://:***@127.0.0.1:" in message and "pw" not in message
        limits.settle(None, _key(budget_usd=1.0), 1, 0.1)  # queued, never raises
    finally:
        limits.close()  # what is queued waits for a Redis that never comes: logged, not raised


def test_requests_await_the_asyncio_client_and_share_one_window(replicas):
    """The gateway's path (``aadmit``/``areserve``): 60 concurrent admissions of a 5 rpm key on two
    replicas admit exactly 5, and a settlement queued by the sync side rides on the next async admission."""
    import asyncio

    a, b = replicas
    key = _key(rpm=5, budget_usd=1.0)

    async def burst() -> list[Denial | None]:
        return await asyncio.gather(*((a if i % 2 else b).aadmit(key) for i in range(60)))

    verdicts = asyncio.run(burst())
    assert sum(v is None for v in verdicts) == 5
    assert {v.code for v in verdicts if v is not None} == {"rate_limit_exceeded"}

    async def reserve_and_settle() -> list[Reservation | Denial]:
        held = await a.areserve(key, 10, 0.7)
        assert isinstance(held, Reservation)
        a.settle(held, key, 10, 0.7)  # queued, sent with the next admission of this replica
        before = a.roundtrips
        second = await a.areserve(key, 10, 0.7)  # spent 0.7 + held 0 < 1.0: admitted
        assert a.roundtrips == before + 1  # the settlement rode along
        return [second, await b.areserve(key, 10, 0.7)]  # spent 0.7 + held 0.7 >= 1.0

    second, third = asyncio.run(reserve_and_settle())
    assert isinstance(second, Reservation)
    assert isinstance(third, Denial) and third.code == "budget_exceeded"


def test_admission_and_hold_in_one_round_trip(replicas):
    """``areserve(admit=True)``, the chat lifecycle's: the request is counted and its estimate held in
    one script; refused by the requests window, it holds nothing."""
    import asyncio

    a, b = replicas
    key = _key(rpm=2, budget_usd=10.0)

    async def run() -> list[Reservation | Denial]:
        before = a.roundtrips
        first = await a.areserve(key, 10, 0.1, admit=True)
        assert a.roundtrips == before + 1
        return [first, await b.areserve(key, 10, 0.1, admit=True), await a.areserve(key, 10, 0.1, admit=True)]

    first, second, third = asyncio.run(run())
    assert isinstance(first, Reservation) and isinstance(second, Reservation)
    assert isinstance(third, Denial) and third.code == "rate_limit_exceeded"  # the third request in the minute
    usage = a.usage([key])[0]
    assert usage.requests_last_minute == 2
    a.settle(first, key, 0, 0.0)
    a.settle(second, key, 0, 0.0)
    a.flush()
    client = require_redis()
    held = client.hget(a.keys_of(key.id)[3], "held_usd")
    client.close()
    assert float(held or 0) == pytest.approx(0.0)  # the refused one left no hold behind


def test_scripts_redis_forgot_are_loaded_again(replicas):
    """After ``SCRIPT FLUSH`` (a Redis restart or failover forgets scripts) both paths load them again."""
    import asyncio

    a, _ = replicas
    key = _key(rpm=100, budget_usd=10.0)
    client = require_redis()
    client.script_flush()
    assert asyncio.run(a.aadmit(key)) is None  # the asyncio client's single-call path
    client.script_flush()
    assert isinstance(asyncio.run(a.areserve(key, 10, 0.1, admit=True)), Reservation)
    client.script_flush()
    assert a.admit(key) is None  # the synchronous pipeline
    client.close()
