"""The RouterRunnable over real HTTP: fallbacks, health under faults, streaming, A/B, route records."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from core.errors import ProviderConnectionError, RoutingError
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from tests.support.upstream import FakeUpstream

THRESHOLD = 3


def spec(
    name: str, urls: list[str], *, price: float = 0.0, quality: int = 1, window: int = 4096, tasks=("chit_chat",)
) -> ModelSpec:
    return ModelSpec(
        name=name,
        provider="openai",
        tasks=list(tasks),
        quality=quality,
        context_window=window,
        cost={"input_per_1k": price, "output_per_1k": price},
        params={"max_tokens": {"type": "int", "min": 1, "max": 1000}},
        deployments=[{"name": f"d{i}", "base_url": url, "timeout": 5} for i, url in enumerate(urls)],
    )


@pytest.fixture
def upstreams() -> Iterator[list[FakeUpstream]]:
    servers = [FakeUpstream(reply=f"from upstream {i}").start() for i in range(3)]
    yield servers
    for server in servers:
        server.stop()


def make_router(tmp_path, specs: list[ModelSpec], **config) -> RouterRunnable:
    settings = {
        "policies": ["explicit", "modality", "context_window", "ab", "cost"],
        "default_model": specs[0].name,
        "health": {"failure_threshold": THRESHOLD, "cooldown_seconds": 60},
        **config,
    }
    registry = Registry(db_path=tmp_path / "registry.sqlite", catalog_specs=specs)
    config = RoutingConfig.model_validate(settings)
    return RouterRunnable(registry, config, experiments=Experiments(config.experiments, tmp_path / "ab.sqlite"))


def test_route_record_on_every_answer(tmp_path, upstreams):
    router = make_router(
        tmp_path,
        [spec("main", [upstreams[0].base_url, upstreams[1].base_url]), spec("backup", [upstreams[2].base_url])],
    )
    reply = router.invoke("hello")
    route = reply.response_metadata["route"]
    assert route["model"] == "main" and route["deployment"] == "d0"
    assert route["candidates"] == ["main", "backup"] and route["fallbacks_tried"] == []
    assert route["policies"] == [] and "answered by main/d0" in route["reason"]
    assert router.invoke("again").response_metadata["route"]["deployment"] == "d1"  # round robin


def test_one_deployment_killed_mid_load_callers_see_no_errors(tmp_path, upstreams):
    live, doomed = upstreams[0], upstreams[1]
    router = make_router(tmp_path, [spec("main", [doomed.base_url, live.base_url])])
    dead_attempts = 0
    for i in range(1000):
        if i == 300:
            doomed.stop()
        route = router.invoke(f"request {i}").response_metadata["route"]
        assert route["model"] == "main"
        if i >= 300:
            dead_attempts += sum(1 for a in route["attempts"] if a["deployment"] == "d0")
    assert 0 < dead_attempts <= THRESHOLD  # then d0 cools down for the rest of the run (60 s)
    assert len(live.requests) >= 1000 - 150 - THRESHOLD
    health = router.health.snapshot()[("main", "d0")]
    assert health.cooldown_until > 0 and "ProviderConnectionError" in health.last_error


def test_everything_dead_is_one_routing_error_listing_every_attempt(tmp_path, upstreams):
    for server in upstreams:
        server.fail(503)
    router = make_router(
        tmp_path,
        [spec("main", [upstreams[0].base_url, upstreams[1].base_url]), spec("backup", [upstreams[2].base_url])],
    )
    with pytest.raises(RoutingError) as info:
        router.invoke("anyone?")
    attempts = [(a.model, a.deployment) for a in info.value.attempts]
    assert attempts == [("main", "d0"), ("main", "d1"), ("backup", "d0")]
    assert all("ProviderServerError" in a.error for a in info.value.attempts)
    assert "every option failed" in str(info.value)


def test_fallback_model_answers_when_the_chosen_one_fails(tmp_path, upstreams):
    upstreams[0].fail(500)
    router = make_router(
        tmp_path,
        [spec("main", [upstreams[0].base_url]), spec("backup", [upstreams[2].base_url])],
        fallbacks={"by_model": {"main": ["backup"]}},
    )
    reply = router.invoke("hi")
    route = reply.response_metadata["route"]
    assert reply.content == "from upstream 2" and route["model"] == "backup"
    assert route["fallbacks_tried"] == ["backup/d0"]
    assert "main/d0 failed (ProviderServerError" in route["reason"]


def test_streaming_falls_back_before_the_first_chunk_and_surfaces_errors_after(tmp_path, upstreams):
    router = make_router(tmp_path, [spec("main", [upstreams[0].base_url]), spec("backup", [upstreams[2].base_url])])
    upstreams[0].fail(502, times=1)
    chunks = list(router.stream("stream please"))
    assert "".join(c.text for c in chunks) == "from upstream 2"
    assert chunks[-1].response_metadata["route"]["model"] == "backup"

    upstreams[0].disconnect_stream(after_chunks=1, times=1)
    upstreams[0].reply = "one two three four"
    received = []
    with pytest.raises(ProviderConnectionError):
        for chunk in router.stream("cut me"):
            received.append(chunk.text)
    assert "".join(received) == "one" and upstreams[2].requests[-1].body["messages"][0]["content"] != "cut me"


def test_async_invoke_and_stream(tmp_path, upstreams):
    router = make_router(tmp_path, [spec("main", [upstreams[0].base_url])])

    async def run():
        reply = await router.ainvoke({"messages": [("user", "a")], "model": "main"})
        chunks = [c async for c in router.astream("b")]
        return reply, chunks

    reply, chunks = asyncio.run(run())
    assert reply.response_metadata["route"]["reasons"] == ["model main requested"]
    assert "".join(c.text for c in chunks) == "from upstream 0" and "route" in chunks[-1].response_metadata


def test_context_window_fallback_is_decided_before_any_call(tmp_path, upstreams):
    router = make_router(
        tmp_path,
        [spec("small", [upstreams[0].base_url], window=256), spec("large", [upstreams[1].base_url], window=100_000)],
    )
    route = router.invoke("lorem ipsum " * 600).response_metadata["route"]
    assert route["model"] == "large" and "exceeds the window of small" in route["reason"]
    assert upstreams[0].requests == []


def test_cost_policy_through_the_router_and_unaffordable_is_an_error(tmp_path, upstreams):
    router = make_router(
        tmp_path,
        [
            spec("pricy", [upstreams[0].base_url], price=0.01, quality=90),
            spec("cheap", [upstreams[1].base_url], price=0.0001, quality=10),
        ],
    )
    route = router.invoke({"messages": [("user", "hi")], "max_cost": 0.001}).response_metadata["route"]
    assert route["model"] == "cheap" and "cheapest under $0.001 → cheap" in route["reason"]
    with pytest.raises(RoutingError, match="no model fits max_cost"):
        router.invoke({"messages": [("user", "hi")], "max_cost": 1e-9})
    assert len(upstreams[0].requests) == 0


def test_ab_experiment_through_the_router_records_per_arm_statistics(tmp_path, upstreams):
    router = make_router(
        tmp_path,
        [spec("a-model", [upstreams[0].base_url]), spec("b-model", [upstreams[1].base_url])],
        experiments=[
            {
                "name": "exp",
                "arms": [
                    {"name": "A", "model": "a-model", "weight": 50},
                    {"name": "B", "model": "b-model", "weight": 50},
                ],
            }
        ],
    )
    routes = [
        router.invoke({"messages": [("user", "x")], "experiment": "exp", "user": f"u{i}"}).response_metadata["route"]
        for i in range(40)
    ]
    assert {r["arm"] for r in routes} == {"A", "B"}
    assert all(r["model"] == {"A": "a-model", "B": "b-model"}[r["arm"]] for r in routes)
    assert router.experiments.feedback(routes[0]["request_id"], thumbs_up=True)
    summary = {row["arm"]: row for row in router.experiments.summary("exp")}
    assert summary["A"]["requests"] + summary["B"]["requests"] == 40
    assert summary[routes[0]["arm"]]["thumbs_up"] == 1
    again = router.invoke({"messages": [("user", "x")], "experiment": "exp", "user": "u0"})
    assert again.response_metadata["route"]["arm"] == routes[0]["arm"]


def test_image_generation_is_routed_to_an_image_model_and_answered_with_an_image(tmp_path, upstreams):
    import base64

    painter = ModelSpec(
        name="painter",
        provider="openai",
        modalities={"input": ["text"], "output": ["image"]},
        params={"size": {"type": "str", "default": "256x256"}},
        deployments=[{"name": "d0", "base_url": upstreams[1].base_url}],
    )
    router = make_router(tmp_path, [spec("main", [upstreams[0].base_url]), painter])
    reply = router.invoke({"messages": [("user", "a lighthouse at dusk")], "image_generation": True})
    (block,) = reply.content
    assert block["type"] == "image" and block["mime_type"] == "image/png"
    assert base64.b64decode(block["base64"]).startswith(b"\x89PNG")
    assert reply.response_metadata["route"]["model"] == "painter"
    assert "image generation → 1 image-output model(s)" in reply.response_metadata["route"]["reason"]
    assert upstreams[1].requests[-1].body == {
        "model": "painter",
        "prompt": "a lighthouse at dusk",
        "size": "256x256",
        "n": 1,
    }
    assert router.invoke("plain text please").response_metadata["route"]["model"] == "main"
