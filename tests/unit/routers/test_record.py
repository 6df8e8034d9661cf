"""The route record's dict form: every field, plus the readable reason and the fallbacks tried."""

from __future__ import annotations

from dataclasses import fields

from routers.record import AttemptRecord, RouteRecord


def test_as_dict_carries_every_field_and_the_derived_ones():
    record = RouteRecord(task="coding")
    record.note("task", "task coding")
    record.attempts += [AttemptRecord("a", "d0", error="timed out"), AttemptRecord("b", "d1", ok=True)]
    record.model, record.deployment = "b", "d1"
    route = record.as_dict()
    assert set(route) == {f.name for f in fields(RouteRecord)} | {"reason", "fallbacks_tried"}
    assert route["attempts"][0] == {"model": "a", "deployment": "d0", "error": "timed out", "ok": False}
    assert route["fallbacks_tried"] == ["b/d1"]
    assert route["reason"] == "task coding; answered by b/d1; after a/d0 failed (timed out)"
    route["reasons"].append("changed")  # a copy: the record is not changed through it
    assert record.reasons == ["task coding"]
