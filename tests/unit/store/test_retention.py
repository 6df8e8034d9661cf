"""Retention of the A/B outcomes and the stored Responses-API answers (issue 13, finding 13): rows older
than the retention go, newer ones stay, as the request log does it — on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from sqlalchemy import select

from routers.config import ExperimentConfig
from routers.experiments import Experiments
from store.experiments_db import ExperimentsDB
from store.responses_db import ResponsesDB, responses

DAY = 86_400.0
EXPERIMENT = ExperimentConfig.model_validate(
    {"name": "exp", "arms": [{"name": "a", "model": "m", "weight": 1}, {"name": "b", "model": "n", "weight": 1}]}
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


# ---- A/B outcomes ---------------------------------------------------------------------------------
def test_old_ab_outcomes_and_their_feedback_go_new_ones_stay(store_target):
    path = store_target
    old = ExperimentsDB(path)
    old.add_event("req-old", "exp", "a", 0.3, 1, 1, 0.0, "", at=time.time() - 40 * DAY)
    old.add_event("req-recent", "exp", "b", 0.3, 1, 1, 0.0, "", at=time.time() - 10 * DAY)
    assert old.add_feedback("req-old", 1) and old.add_feedback("req-recent", -1)

    experiments = Experiments([EXPERIMENT], path, retention_days=30)
    experiments.record("req-new", "exp", "a", 0.2)
    experiments.flush()  # the writer prunes before its first write

    assert experiments.pruned == 1
    summary = {row["arm"]: row for row in experiments.summary("exp")}
    assert summary["a"]["requests"] == 1 and summary["b"]["requests"] == 1  # req-new and req-recent
    assert summary["a"]["thumbs_up"] == 0 and summary["b"]["thumbs_down"] == 1  # req-old's feedback went too
    assert not experiments.feedback("req-old", thumbs_up=True)  # no longer part of any experiment
    assert experiments.feedback("req-recent", thumbs_up=True)


def test_ab_outcomes_are_kept_without_a_retention(store_target):
    path = store_target
    ExperimentsDB(path).add_event("req-old", "exp", "a", 0.3, 1, 1, 0.0, "", at=time.time() - 400 * DAY)
    experiments = Experiments([EXPERIMENT], path, retention_days=None)
    experiments.record("req-new", "exp", "a", 0.2)
    experiments.flush()
    assert experiments.summary("exp")[0]["requests"] == 2


# ---- stored responses -----------------------------------------------------------------------------
def _stored_ids(db: ResponsesDB) -> list[str]:
    """Every row still in the table, past the retention or not (``get`` hides the old ones)."""
    with db.tables.read() as conn:
        return list(conn.execute(select(responses.c.id).order_by(responses.c.created)).scalars())


def _response(response_id: str) -> dict:
    return {"id": response_id, "object": "response", "output": []}


def test_stored_responses_past_the_retention_are_gone(store_target):
    clock = Clock()
    db = ResponsesDB(store_target, retention_days=30, prune_every_seconds=3600, clock=clock)
    db.put("key_a", _response("resp_old"), [])
    clock.now += 20 * DAY
    db.put("key_a", _response("resp_recent"), [])
    clock.now += 11 * DAY  # resp_old is 31 days old, resp_recent 11
    assert db.get("key_a", "resp_old") is None  # past the retention: never read, even before it is deleted
    assert db.get("key_a", "resp_recent") is not None
    db.put("key_b", _response("resp_new"), [])  # a write deletes what is past the retention
    assert db.pruned == 1
    assert _stored_ids(db) == ["resp_recent", "resp_new"]
    db.close()


def test_pruning_runs_at_most_every_prune_interval(store_target):
    clock = Clock()
    db = ResponsesDB(store_target, retention_days=1, prune_every_seconds=2 * DAY, clock=clock)

    db.put("k", _response("resp_1"), [])  # the first write prunes (nothing to delete yet)
    clock.now += 1.5 * DAY
    db.put("k", _response("resp_2"), [])  # not due: resp_1 is past the retention but still in the file
    assert _stored_ids(db) == ["resp_1", "resp_2"] and db.get("k", "resp_1") is None
    clock.now += 0.9 * DAY
    db.put("k", _response("resp_3"), [])  # due: resp_1 goes, resp_2 (0.9 days old) stays
    assert _stored_ids(db) == ["resp_2", "resp_3"] and db.pruned == 1
    db.close()


def test_stored_responses_are_kept_without_a_retention(store_target):
    clock = Clock()
    db = ResponsesDB(store_target, retention_days=None, clock=clock)
    db.put("k", _response("resp_old"), [])
    clock.now += 1000 * DAY
    db.put("k", _response("resp_new"), [])
    assert db.get("k", "resp_old") is not None and db.pruned == 0
    db.close()
