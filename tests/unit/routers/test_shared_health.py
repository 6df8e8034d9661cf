"""Deployment health shared by two replicas through the machine's real Redis (own prefix per test).

Two :class:`HealthTracker` s with a :class:`RedisHealthBoard` each on one prefix stand for two
gateway replicas; what one sees reaches the other over pub/sub, so the checks poll (bounded).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial

import pytest

from routers.health import HealthConfig, HealthTracker
from routers.health_redis import RedisHealthBoard
from tests.support.redis_server import drop_prefix, fresh_prefix, redis_url, require_redis
from tests.support.waiting import eventually

M, D = "gpt-x", "primary"


_eventually = partial(eventually, seconds=5.0, step=0.01)


@pytest.fixture
def replicas() -> Iterator[tuple[HealthTracker, HealthTracker]]:
    client = require_redis()
    prefix = fresh_prefix("health")
    config = HealthConfig(failure_threshold=3, cooldown_seconds=0.5)
    a, b = HealthTracker(config), HealthTracker(config)
    a.share(RedisHealthBoard(redis_url(), prefix=prefix))
    b.share(RedisHealthBoard(redis_url(), prefix=prefix))
    yield a, b
    a.close()
    b.close()
    drop_prefix(client, prefix)
    client.close()


def _fail(tracker: HealthTracker, times: int = 1) -> None:
    for _ in range(times):
        assert tracker.acquire(M, D)
        tracker.failure(M, D, "ProviderUnavailable: 503")


def test_a_cooldown_started_by_one_replica_is_skipped_by_the_other(replicas):
    a, b = replicas
    _fail(a, 3)
    assert a.cooling(M, D)
    assert _eventually(lambda: b.cooling(M, D)), "B never heard of A's cooldown"
    assert not b.acquire(M, D)


def test_consecutive_failures_are_counted_across_replicas_and_a_success_resets_them(replicas):
    a, b = replicas
    _fail(a, 2)
    assert _eventually(lambda: b.snapshot().get((M, D)) is not None and b.snapshot()[(M, D)].failures == 2)
    assert b.acquire(M, D)
    b.success(M, D, 0.1)  # the run of failures is broken: the shared count goes back to 0
    assert _eventually(lambda: a.snapshot()[(M, D)].failures == 0)
    _fail(b, 2)
    _fail(a, 1)  # 2 on B + 1 on A = 3 in a row
    assert _eventually(lambda: a.cooling(M, D) and b.cooling(M, D))


def test_one_half_open_probe_cluster_wide(replicas):
    a, b = replicas
    _fail(a, 3)
    assert _eventually(lambda: b.cooling(M, D))
    time.sleep(0.6)  # the cooldown (0.5 s) ends: half-open on both
    barrier, granted = threading.Barrier(4), []

    def take(tracker: HealthTracker) -> None:
        barrier.wait()
        granted.append(tracker.acquire(M, D))

    threads = [threading.Thread(target=take, args=(t,)) for t in (a, b, a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(granted) == [False, False, False, True]
    prober = a if a.snapshot()[(M, D)].probing else b
    other = b if prober is a else a
    assert _eventually(lambda: other.cooling(M, D))  # it hears of the probe and keeps skipping
    prober.success(M, D, 0.05)
    assert _eventually(lambda: not other.cooling(M, D))
    assert other.acquire(M, D)


def test_a_failed_probe_cools_the_deployment_down_for_everyone(replicas):
    a, b = replicas
    _fail(b, 3)
    time.sleep(0.6)
    assert _eventually(lambda: a.acquire(M, D))  # a's probe
    a.failure(M, D, "ProviderTimeout: 10 s")
    assert a.cooling(M, D)
    assert _eventually(lambda: b.cooling(M, D) and b.snapshot()[(M, D)].cooldown_until > time.monotonic() + 0.2)


def test_the_healthy_path_sends_nothing_to_redis(replicas):
    a, _ = replicas
    assert a.board is not None
    for _ in range(20):
        assert a.acquire(M, D)
        a.success(M, D, 0.01)
    time.sleep(0.1)
    assert a.board.reports == 0  # type: ignore[attr-defined]


def test_redis_unreachable_fails_open():
    from tests.support.upstream import free_port

    tracker = HealthTracker(HealthConfig(failure_threshold=1, cooldown_seconds=0.05))
    tracker.share(RedisHealthBoard(f"redis://127.0.0.1:{free_port()}/0", prefix="nowhere", timeout=0.2))
    try:
        _fail(tracker, 1)
        assert tracker.cooling(M, D)  # its own failures still cool the deployment down for it
        time.sleep(0.1)
        assert tracker.acquire(M, D)  # the probe claim cannot be sent: the call goes through
        tracker.success(M, D, 0.01)
        assert not tracker.cooling(M, D)
    finally:
        tracker.close()
