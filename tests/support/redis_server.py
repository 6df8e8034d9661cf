"""The machine's Redis for tests: reachable or a failure naming the command that starts it.

Every test gets its own key prefix (:func:`fresh_prefix`) and removes its keys afterwards
(:func:`drop_prefix`), so parallel and repeated runs do not collide. Nothing here skips.
"""

from __future__ import annotations

import os
import uuid

import pytest
import redis

__all__ = ["START_REDIS", "drop_prefix", "fresh_prefix", "redis_url", "require_redis"]

START_REDIS = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)
"""How the machine's Redis is started when it is stopped (``scripts/ensure_services.sh`` does it)."""


def redis_url() -> str:
    """The Redis the tests use (``MODELYARD_TEST_REDIS_URL``, default the local one, DB 0)."""
    return os.environ.get("MODELYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis() -> redis.Redis:
    """A client of :func:`redis_url`, or a test failure saying how to start Redis."""
    client = redis.Redis.from_url(redis_url(), socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        pytest.fail(f"Redis at {redis_url()} is unreachable ({exc}); start it with: {START_REDIS}")
    return client


def fresh_prefix(label: str) -> str:
    """A key prefix no other test run uses."""
    return f"test-{label}-{uuid.uuid4().hex[:12]}"


def drop_prefix(client: redis.Redis, prefix: str) -> int:
    """Delete every key under ``prefix``; how many there were."""
    names = list(client.scan_iter(match=f"{prefix}:*", count=500))
    if names:
        client.delete(*names)
    return len(names)
