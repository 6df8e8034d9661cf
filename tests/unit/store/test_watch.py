"""Other processes' changes reach a replica's memory with no request asking (store/watch.py).

Two instances on one store stand for two replicas. The second one is never called between the
first one's write and the check — only memory is read (``active_count``, ``_generation``, the status
cache) — so what is seen came from its background watcher, not from a read on a request's path.
On both SQLite and PostgreSQL (``store_target``).
"""

from __future__ import annotations

import time
from functools import partial

from app.server.gateway.keys import KeyRing
from models.registry import Registry
from routers.config import ExperimentConfig
from routers.experiments import Experiments
from tests.support.waiting import eventually

_eventually = partial(eventually, seconds=2.0, step=0.02)


def test_a_revocation_reaches_an_idle_key_ring(store_target):
    a, b = KeyRing(store_target), KeyRing(store_target)
    try:
        created = a.create("team")
        assert _eventually(lambda: b.active_count() == 1)  # memory only
        a.revoke(created.key.id)
        assert _eventually(lambda: b.active_count() == 0)
        assert b.authenticate(created.secret) is None
    finally:
        a.close()
        b.close()


def test_a_registration_reaches_an_idle_registry(store_target):
    a, b = Registry(catalog_specs=[], db_path=store_target), Registry(catalog_specs=[], db_path=store_target)
    try:
        before = b.generation()
        a.register({"name": "m", "provider": "openai", "deployments": [{"name": "d0", "base_url": "http://x/v1"}]})
        assert _eventually(lambda: b._generation != before)  # memory only: the watcher read the counter
        assert [entry.spec.name for entry in b.entries()] == ["m"]
    finally:
        a.close()
        b.close()


def test_a_paused_experiment_reaches_an_idle_replica(store_target):
    config = ExperimentConfig.model_validate(
        {"name": "exp", "arms": [{"name": "x", "model": "m", "weight": 1}, {"name": "y", "model": "n", "weight": 1}]}
    )
    a, b = Experiments([config], store_target), Experiments([config], store_target)
    assert b.status("exp") == "active"
    a.pause("exp")
    assert _eventually(lambda: b._status["exp"][0] == "paused")  # memory only
    assert b.status("exp") == "paused"


def test_a_key_issued_by_another_process_works_at_once(store_target):
    """The Services page issues a key and the caller pastes it straight away: an unknown secret makes
    the ring read the change counter then and there (its watcher here would only look in a minute)."""
    from app.server.gateway.keys import MISS_RECHECK_SECONDS

    issuer, gateway = KeyRing(store_target), KeyRing(store_target, refresh_seconds=60)
    try:
        time.sleep(MISS_RECHECK_SECONDS * 1.5)  # the gateway's last look is older than the recheck spacing
        created = issuer.create("team-b")
        found = gateway.authenticate(created.secret)
        assert found is not None and found.id == created.key.id
        assert gateway.authenticate("my-not-a-key") is None
    finally:
        issuer.close()
        gateway.close()


def test_a_model_registered_by_another_process_is_found_at_once(store_target):
    """An unknown name makes the registry read the change counter then and there (:meth:`Registry.recheck`)."""
    from models.registry import MISS_RECHECK_SECONDS

    a, b = Registry(catalog_specs=[], db_path=store_target), Registry(catalog_specs=[], db_path=store_target)
    try:
        assert b.entries() == []
        time.sleep(MISS_RECHECK_SECONDS * 1.5)
        before = b._generation
        a.register({"name": "m", "provider": "openai", "deployments": [{"name": "d0", "base_url": "http://x/v1"}]})
        watcher_was_first = b._generation != before  # its 0.5 s tick fell just here: nothing left to find
        assert b.recheck() is not watcher_was_first
        assert [entry.spec.name for entry in b.entries()] == ["m"]
        assert b.recheck() is False  # just read: no second read for the next unknown name
    finally:
        a.close()
        b.close()
