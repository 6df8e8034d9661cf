"""One attempt engine, two transports: the same fault script gives the same attempt records.

The script runs against real HTTP upstreams on loopback, once through the LangChain transport
(``ChatOpenAI`` via :class:`routers.chat_transport.ChatModelTransport`) and once through the raw
OpenAI-HTTP forwarder (:class:`models.adapters.openai_http.OpenAIHTTPTransport`): 503, a timeout,
a refused connection, 429 with Retry-After, the cooldown that follows, the half-open probe after
it, and a stream cut after its first chunk. Each step's attempt records (model, deployment, ok,
error class) must be what the engine's rules say — and identical for both transports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from core.errors import ProviderError
from models.adapters.openai_http import OpenAIHTTPTransport
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.health import HealthTracker
from routers.router import RouterRunnable
from tests.support.upstream import FakeUpstream, free_port

COOLDOWN = 10.0


class Clock:
    """A clock the test moves by hand (cooldowns end when the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def spec(name: str, url: str, timeout: float = 5.0) -> ModelSpec:
    return ModelSpec(
        name=name,
        provider="openai",
        tasks=["chit_chat"],
        params={"max_tokens": {"type": "int", "min": 1, "max": 100}},
        deployments=[{"name": "d0", "base_url": url, "timeout": timeout}],
    )


@pytest.fixture
def upstreams() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    main, backup = FakeUpstream(reply="from main").start(), FakeUpstream(reply="from backup").start()
    yield main, backup
    main.stop()
    backup.stop()


def build_router(tmp_path, main: FakeUpstream, backup: FakeUpstream, clock: Clock) -> RouterRunnable:
    specs = [
        spec("main", main.base_url, timeout=0.5),
        spec("backup", backup.base_url),
        spec("dead", f"http://127.0.0.1:{free_port()}/v1"),
    ]
    config = RoutingConfig.model_validate(
        {
            "policies": ["explicit", "modality", "context_window", "cost"],
            "default_model": "main",
            "health": {"failure_threshold": 3, "cooldown_seconds": COOLDOWN},
            "fallbacks": {"by_model": {"main": ["backup"], "dead": ["backup"]}, "default": []},
        }
    )
    registry = Registry(db_path=tmp_path / "registry.sqlite", catalog_specs=specs)
    return RouterRunnable(
        registry,
        config,
        experiments=Experiments(config.experiments, tmp_path / "ab.sqlite"),
        health=HealthTracker(config.health, clock=clock),
    )


def records(route_record: Any) -> list[tuple[str, str, bool, str]]:
    return [(a.model, a.deployment, a.ok, a.error.split(":")[0]) for a in route_record.attempts]


class LangChainDriver:
    def __init__(self, router: RouterRunnable):
        self.router = router

    async def call(self, model: str) -> list[tuple[str, str, bool, str]]:
        routed = self.router.route({"messages": [("user", "hello")], "model": model})
        await self.router.ainvoke_routed(routed)
        return records(routed.record)

    async def stream(self, model: str) -> tuple[int, BaseException | None, list[tuple[str, str, bool, str]]]:
        routed = self.router.route({"messages": [("user", "hello")], "model": model})
        got, error = 0, None
        try:
            async for chunk in self.router.astream_routed(routed):
                got += bool(chunk.text)
        except ProviderError as exc:
            error = exc
        return got, error, records(routed.record)


class ForwardDriver:
    def __init__(self, router: RouterRunnable):
        self.router, self.transport = router, OpenAIHTTPTransport()

    def _body(self) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": "hello"}]}

    async def call(self, model: str) -> list[tuple[str, str, bool, str]]:
        routed = self.router.route({"messages": [("user", "hello")], "model": model})
        try:
            await self.router.engine.ainvoke(routed, self.transport, self._body())
        finally:
            await self.transport.close()
        return records(routed.record)

    async def stream(self, model: str) -> tuple[int, BaseException | None, list[tuple[str, str, bool, str]]]:
        routed = self.router.route({"messages": [("user", "hello")], "model": model})
        got, error = 0, None
        try:
            async for chunk in self.router.engine.astream(routed, self.transport, self._body()):
                got += bool((chunk.get("choices") or [{}])[0].get("delta", {}).get("content"))
        except ProviderError as exc:
            error = exc
        finally:
            await self.transport.close()
        return got, error, records(routed.record)


async def run_script(driver: Any, main: FakeUpstream, backup: FakeUpstream, clock: Clock) -> list[Any]:
    """The fault script; returns what each step recorded."""
    seen: list[Any] = []
    main.fail(status=503, times=1)
    seen.append(await driver.call("main"))
    main.hang(seconds=3, times=1)
    seen.append(await driver.call("main"))
    seen.append(await driver.call("dead"))
    main.fail(status=429, times=1, retry_after=2)
    seen.append(await driver.call("main"))  # the third failure in a row: main cools down
    before = len(main.requests)
    seen.append(await driver.call("main"))  # main is skipped while it cools down
    seen.append(len(main.requests) - before)
    clock.now += COOLDOWN + 1
    seen.append(await driver.call("main"))  # the half-open probe succeeds and closes the circuit
    main.disconnect_stream(after_chunks=1, times=1)
    got, error, streamed = await driver.stream("main")
    seen.append((got >= 1, type(error).__name__, streamed))
    return seen


EXPECTED = [
    [("main", "d0", False, "ProviderServerError"), ("backup", "d0", True, "")],
    [("main", "d0", False, "ProviderTimeout"), ("backup", "d0", True, "")],
    [("dead", "d0", False, "ProviderConnectionError"), ("backup", "d0", True, "")],
    [("main", "d0", False, "ProviderRateLimited"), ("backup", "d0", True, "")],
    [("backup", "d0", True, "")],  # the planner already leaves the cooling deployment out
    0,
    [("main", "d0", True, "")],
    (True, "ProviderConnectionError", [("main", "d0", False, "ProviderConnectionError")]),
]


@pytest.mark.parametrize("driver_class", [LangChainDriver, ForwardDriver], ids=["langchain", "forward"])
def test_the_same_fault_script_gives_the_same_records(tmp_path, upstreams, driver_class):
    main, backup = upstreams
    clock = Clock()
    router = build_router(tmp_path, main, backup, clock)
    seen = asyncio.run(run_script(driver_class(router), main, backup, clock))
    assert seen == EXPECTED
    state = router.health.snapshot()[("main", "d0")]
    assert (state.in_flight, state.probing) == (0, False)  # every acquire was settled


def test_a_model_that_cannot_be_built_is_a_provider_failure_with_fallback(tmp_path, upstreams):
    main, backup = upstreams
    weights = tmp_path / "broken.gguf"
    weights.write_bytes(b"this is not a GGUF file")
    broken = ModelSpec(
        name="broken",
        provider="llamacpp",
        tasks=["chit_chat"],
        source={"file": str(weights)},
        deployments=[{"name": "local"}],
    )
    specs = [broken, spec("backup", backup.base_url)]
    config = RoutingConfig.model_validate(
        {"policies": ["explicit"], "default_model": "broken", "fallbacks": {"by_model": {"broken": ["backup"]}}}
    )
    registry = Registry(db_path=tmp_path / "registry.sqlite", catalog_specs=specs)
    router = RouterRunnable(registry, config, experiments=Experiments([], tmp_path / "ab.sqlite"))
    routed = router.route({"messages": [("user", "hi")], "model": "backup"})
    routed.attempts.insert(0, (registry.get("broken"), "local"))  # as if planned first
    answer = asyncio.run(router.ainvoke_routed(routed))
    assert answer.text == "from backup"
    first = routed.record.attempts[0]
    assert (first.model, first.ok) == ("broken", False)
    assert first.error.startswith("Provider") and "broken.gguf" in first.error, first.error
    assert router.health.snapshot()[("broken", "local")].total_failures == 1


@pytest.mark.parametrize("driver_class", [LangChainDriver, ForwardDriver], ids=["langchain", "forward"])
def test_a_stream_longer_than_the_deployment_timeout_is_not_cut(tmp_path, driver_class):
    # the deployment timeout (0.5 s) bounds the silence between pieces, not the whole answer (1.2 s here)
    with FakeUpstream(reply="one two three four five six") as main, FakeUpstream() as backup:
        main.set_latency(0.0, chunk_delay=0.2)
        router = build_router(tmp_path, main, backup, Clock())
        got, error, streamed = asyncio.run(driver_class(router).stream("main"))
    assert (got, error, streamed) == (6, None, [("main", "d0", True, "")])
