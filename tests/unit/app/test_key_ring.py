"""The in-memory key ring on a real SQLite file and PostgreSQL: rolling windows, admission, charging,
persistence, and what two rings on one store see of each other.

Times are passed explicitly (``now=``), so the windows are tested without sleeping or clocks.
"""

from __future__ import annotations

import time

import pytest

from app.server.gateway.keys import KeyRing, RollingWindow, hash_secret, usd


@pytest.fixture
def ring(store_target):
    keys = KeyRing(store_target, flush_seconds=0.01)
    yield keys
    keys.close()


def test_rolling_window_frees_as_entries_age_out():
    window = RollingWindow(limit=3, seconds=60)
    window.add(0.0, 1)
    window.add(10.0, 1)
    assert window.retry_after(20.0) is None
    window.add(20.0, 1)
    assert window.retry_after(30.0) == pytest.approx(30.0)  # until the entry at 0 s is 60 s old
    assert window.used(60.0) == 2 and window.retry_after(60.0) is None


def test_rolling_window_waits_for_an_overshoot_to_age_out():
    window = RollingWindow(limit=100, seconds=60)
    window.add(0.0, 30)
    window.add(5.0, 150)  # a call's tokens are charged after the fact, past the limit
    assert window.used(6.0) == 180
    assert window.retry_after(6.0) == pytest.approx(59.0)  # both entries must go: 180 - 30 is still >= 100
    assert window.retry_after(65.0) is None and window.used(65.0) == 0
    window.add(70.0, 0)
    assert window.used(70.0) == 0


def test_secrets_are_looked_up_by_hash_only(ring):
    created = ring.create("team-a", ["m1", "m1", "m2"])
    assert created.secret.startswith("my-") and created.key.allowed_models == ("m1", "m2")
    assert created.key.stored.secret_sha256 == hash_secret(created.secret)
    assert ring.authenticate(created.secret) is created.key
    assert ring.authenticate(created.secret + "x") is None and ring.authenticate("") is None
    assert "secret" not in " ".join(ring.view(created.key)) and created.secret not in str(ring.views())


def test_admission_order_budget_then_requests_then_tokens(ring):
    key = ring.create("limited", rpm=2, tpm=50, budget_usd=0.01).key
    assert ring.admit(key, now=0.0) is None
    ring.charge(key, tokens=60, cost_usd=0.0, now=1.0)
    tokens = ring.admit(key, now=2.0)
    assert tokens.code == "rate_limit_exceeded" and "50 tokens per minute (used 60" in tokens.message
    assert tokens.retry_after == pytest.approx(59.0)
    assert ring.admit(key, now=61.5) is None  # the tokens and the first request aged out
    assert ring.admit(key, now=62.0) is None
    requests = ring.admit(key, now=63.0)
    assert requests.retry_after == pytest.approx(58.5) and requests.message.endswith("per minute; retry in 59 s")
    ring.charge(key, tokens=1, cost_usd=0.02, now=63.0)
    budget = ring.admit(key, now=500.0)
    assert budget.code == "budget_exceeded" and budget.retry_after is None
    assert "spent $0.02 of its $0.01 budget" in budget.message


def test_unlimited_keys_are_always_admitted(ring):
    key = ring.create("free").key
    assert all(ring.admit(key, now=float(i)) is None for i in range(1000))
    assert ring.views()[0]["requests_last_minute"] is None


def test_spend_and_revocation_survive_a_new_ring(store_target):
    path = store_target
    first = KeyRing(path, flush_seconds=0.01)
    paying = first.create("paying", budget_usd=1.0)
    gone = first.create("gone")
    first.charge(paying.key, tokens=10, cost_usd=0.25)
    first.charge(paying.key, tokens=10, cost_usd=0.5)
    assert first.revoke(gone.key.id).stored.revoked_at is not None
    assert first.authenticate(gone.secret) is None and first.revoke("key_unknown") is None
    first.close()
    second = KeyRing(path)
    assert second.authenticate(paying.secret).spent_usd == pytest.approx(0.75)
    assert second.authenticate(gone.secret) is None and second.get(gone.key.id).stored.revoked_at is not None
    assert second.configured and second.active_count() == 1
    second.close()


def test_usd_formatting():
    assert [usd(0.00001), usd(2.5), usd(100.0), usd(0.0)] == ["$0.00001", "$2.5", "$100", "$0"]


def _within(seconds: float, check) -> bool:
    """Poll ``check`` until it holds, for at most ``seconds`` (a bound, never a sleep the test relies on)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_two_rings_on_one_store_see_new_keys_revocations_and_spend_within_a_second(store_target):
    # two replicas' key rings (each its own engine) on one store; refresh_seconds is the default 0.5
    a, b = KeyRing(store_target, flush_seconds=0.01), KeyRing(store_target, flush_seconds=0.01)
    created = a.create("team-a", budget_usd=1.0)
    assert _within(1.0, lambda: b.authenticate(created.secret) is not None)  # issued on A
    a.charge(created.key, 0, 0.25)
    assert _within(1.0, lambda: b.get(created.key.id).spent_usd == pytest.approx(0.25))  # A's flushed spend
    b.revoke(created.key.id)
    assert _within(1.0, lambda: a.authenticate(created.secret) is None)  # revoked on B
    assert not a.get(created.key.id).stored.active
    a.close()
    b.close()


def test_a_rings_own_spend_flush_is_not_a_change_to_re_read_but_another_writers_is(store_target):
    ring = KeyRing(store_target, flush_seconds=60)  # flushed by hand below
    created = ring.create("team-a")
    ring.refresh()
    ring.charge(created.key, 0, 0.5)
    ring.flush()
    assert ring._version == ring.db.data_version()  # its own write: the counter it saw is current
    other = KeyRing(store_target, flush_seconds=60)
    other.revoke(created.key.id)
    assert ring._version != ring.db.data_version()
    ring.refresh()  # another writer's change is read
    assert ring.authenticate(created.secret) is None and ring.get(created.key.id).spent_usd == 0.5
    ring.close()
    other.close()
