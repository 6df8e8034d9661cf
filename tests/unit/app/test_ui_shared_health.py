"""The Streamlit app's router decides with the gateway replicas' health when ``REDIS_URL`` is set:
a cooldown reported to Redis (here by a tracker standing for a gateway) is skipped by the app."""

from __future__ import annotations

import time

from app.ui import state
from routers.health import HealthConfig, HealthTracker
from routers.health_redis import RedisHealthBoard
from tests.support.redis_server import drop_prefix, fresh_prefix, redis_url, require_redis


def test_the_app_shares_deployment_health_through_redis(monkeypatch, tmp_path):
    client = require_redis()
    prefix = fresh_prefix("ui-health")
    monkeypatch.setenv("REDIS_URL", redis_url())
    monkeypatch.setenv("MODELYARD_REDIS_PREFIX", prefix)
    monkeypatch.setenv("MODELYARD_DATA_DIR", str(tmp_path))
    gateway = HealthTracker(HealthConfig(failure_threshold=1, cooldown_seconds=30))
    gateway.share(RedisHealthBoard(redis_url(), prefix=prefix))
    state._shared.clear()
    shared = state._shared(str(tmp_path), "config")
    try:
        assert shared.health.board is not None
        assert gateway.acquire("m", "d0")
        gateway.failure("m", "d0", "ProviderServerError: 503")
        deadline = time.monotonic() + 5
        while not shared.health.cooling("m", "d0") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert shared.health.cooling("m", "d0")
    finally:
        shared.health.close()
        gateway.close()
        state._shared.clear()
        drop_prefix(client, prefix)
        client.close()
