"""A/B outcomes are written off the request's path: a locked experiments file does not stall it."""

from __future__ import annotations

import sqlite3

from routers.config import ExperimentConfig
from routers.experiments import Experiments


def test_recording_an_outcome_does_not_wait_for_a_locked_database(tmp_path):
    config = ExperimentConfig.model_validate(
        {"name": "exp", "arms": [{"name": "a", "model": "m", "weight": 1}, {"name": "b", "model": "n", "weight": 1}]}
    )
    experiments = Experiments([config], tmp_path / "ab.sqlite")
    blocker = sqlite3.connect(str(tmp_path / "ab.sqlite"), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the file, as a busy dashboard might
    try:
        # a synchronous INSERT would wait 10 s for the lock here and then raise "database is locked"
        experiments.record("req-1", "exp", "a", 0.25, 10, 5, 0.001)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert experiments.feedback("req-1", thumbs_up=True)  # written once the lock is gone, then found
    (arm_a,) = [row for row in experiments.summary("exp") if row["arm"] == "a"]
    assert arm_a["requests"] == 1 and arm_a["thumbs_up"] == 1


def test_the_routing_config_sets_how_long_outcomes_are_kept(tmp_path):
    from models.registry import Registry
    from routers.config import RoutingConfig, load_routing_config
    from routers.router import RouterRunnable

    assert load_routing_config().experiment_retention_days == 90  # the shipped config/routing.yaml says so
    config = RoutingConfig.model_validate({"experiment_retention_days": 7})
    router = RouterRunnable(Registry(db_path=tmp_path / "r.sqlite", catalog_specs=[]), config)
    assert router.experiments.retention_days == 7
