"""Each routing policy alone, then composed: the route record is asserted, not only the answer."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from core.errors import RoutingError
from models.availability import Availability
from models.registry import ModelEntry
from models.spec import ModelSpec
from routers.balance import Balancer
from routers.config import ArmConfig, CostConfig, ExperimentConfig
from routers.experiments import Experiments, assign_arm
from routers.health import HealthConfig, HealthTracker
from routers.policies.ab import ABPolicy
from routers.policies.context_window import ContextWindowPolicy
from routers.policies.cost import CostPolicy
from routers.policies.explicit import ExplicitPolicy
from routers.policies.modality import ModalityPolicy
from routers.record import RouteRecord
from routers.request import RouteRequest


def entry(
    name: str,
    *,
    price: float = 0.0,
    quality: int = 1,
    tasks=(),
    window: int = 4096,
    inputs=("text",),
    outputs=("text",),
    deployments=("a",),
    available: bool = True,
) -> ModelEntry:
    spec = ModelSpec(
        name=name,
        provider="openai",
        tasks=list(tasks),
        quality=quality,
        context_window=window,
        cost={"input_per_1k": price, "output_per_1k": price * 2},
        modalities={"input": list(inputs), "output": list(outputs)},
        deployments=[{"name": d, "base_url": f"http://127.0.0.1:9/{d}/v1"} for d in deployments],
    )
    return ModelEntry(spec, Availability(available, "" if available else "OPENAI_API_KEY is not set"), "catalog")


CHEAP, MID, PRICY = (
    entry("cheap", price=0.0001, quality=10),
    entry("mid", price=0.001, quality=50),
    entry("pricy", price=0.01, quality=90),
)
VISION = entry("vision", inputs=("text", "image"))
PAINTER = entry("painter", outputs=("image",))


def ask(text: str = "hello", **hints) -> RouteRequest:
    return RouteRequest.parse({"messages": [("user", text)], **hints})


def test_explicit_model_wins_or_lists_what_is_available():
    offline = entry("gpt-x", available=False)
    policy = ExplicitPolicy(lambda: [CHEAP, MID, offline])
    record = RouteRecord()
    assert policy.apply(ask(model="mid"), [CHEAP, MID], record) == [MID]
    assert record.reasons == ["model mid requested"]
    assert policy.apply(ask(model="auto"), [CHEAP, MID], RouteRecord()) == [CHEAP, MID]
    with pytest.raises(RoutingError, match=r"unknown model 'nope'; available: cheap, mid") as info:
        policy.apply(ask(model="nope"), [CHEAP, MID], RouteRecord())
    assert info.value.available == ["cheap", "mid"]
    with pytest.raises(RoutingError, match=r"'gpt-x' is unavailable \(OPENAI_API_KEY is not set\)"):
        policy.apply(ask(model="gpt-x"), [CHEAP, MID], RouteRecord())


def test_modality_sends_images_to_vision_models_and_generation_to_image_models():
    image_message = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            }
        ]
    }
    record = RouteRecord()
    assert ModalityPolicy().apply(RouteRequest.parse(image_message), [CHEAP, VISION, PAINTER], record) == [VISION]
    assert "image input → vision models (vision)" in record.reason
    assert ModalityPolicy().apply(ask(image_generation=True), [CHEAP, PAINTER], RouteRecord()) == [PAINTER]
    assert ModalityPolicy().apply(ask(), [CHEAP, PAINTER], RouteRecord()) == [CHEAP]
    with pytest.raises(RoutingError, match="modalities: {input: \\[text, image\\]}"):
        ModalityPolicy().apply(RouteRequest.parse(image_message), [CHEAP], RouteRecord())
    with pytest.raises(RoutingError, match="no available model generates images"):
        ModalityPolicy().apply(ask(image_generation=True), [CHEAP], RouteRecord())


@pytest.mark.parametrize(
    ("max_cost", "min_quality", "expected"),
    [
        (None, 0, ["cheap", "mid", "pricy"]),  # no budget: order untouched
        (1.0, 0, ["cheap", "mid", "pricy"]),  # everything fits: cheapest first
        (0.001, 0, ["cheap", "mid"]),  # pricy costs ~$0.0051 for 2+256 tokens
        (0.0001, 0, ["cheap"]),
        (1.0, 40, ["mid", "pricy"]),  # quality floor skips the cheapest
        (0.00001, 0, "no model fits max_cost $1e-05: the cheapest capable one, cheap"),
        (0.001, 95, "no model reaches the minimum quality 95"),
    ],
)
def test_cost_policy_table(max_cost, min_quality, expected):
    policy = CostPolicy(CostConfig(expected_output_tokens=256, min_quality={"code": min_quality}))
    record = RouteRecord(task="code")
    request = ask("hi", max_cost=max_cost)
    if isinstance(expected, str):
        with pytest.raises(RoutingError, match=expected.replace("$", r"\$")):
            policy.apply(request, [CHEAP, MID, PRICY], record)
        return
    kept = policy.apply(request, [CHEAP, MID, PRICY], record)
    assert [e.spec.name for e in kept] == expected
    if max_cost is not None:
        assert f"cheapest under ${max_cost:g}" in record.reason and f"→ {expected[0]}" in record.reason


def test_context_window_moves_long_prompts_to_larger_models():
    small, large = entry("small", window=512), entry("large", window=100_000)
    long_prompt = "word " * 4000
    record = RouteRecord()
    assert ContextWindowPolicy(256).apply(ask(long_prompt), [small, large], record) == [large]
    assert "exceeds the window of small → larger models" in record.reason
    assert ContextWindowPolicy(256).apply(ask("short"), [small, large], RouteRecord()) == [small, large]
    with pytest.raises(RoutingError, match="more than any available model's context window; the largest is small"):
        ContextWindowPolicy(256).apply(ask(long_prompt), [small], RouteRecord())


def test_ab_split_follows_weights_and_is_sticky(tmp_path):
    experiment = ExperimentConfig(
        name="exp",
        arms=[ArmConfig(name="control", model="cheap", weight=90), ArmConfig(name="treatment", model="mid", weight=10)],
    )
    counts = Counter(assign_arm(experiment, f"user-{i}").name for i in range(10_000))
    assert abs(counts["control"] / 10_000 - 0.9) <= 0.02
    rng = random.Random(7)
    anonymous = Counter(assign_arm(experiment, None, rng).name for _ in range(10_000))
    assert abs(anonymous["treatment"] / 10_000 - 0.1) <= 0.02
    assert len({assign_arm(experiment, "alice").name for _ in range(50)}) == 1

    experiments = Experiments([experiment], db_path=tmp_path / "ab.sqlite")
    policy = ABPolicy(experiments)
    record = RouteRecord()
    arm = assign_arm(experiment, "alice")
    kept = policy.apply(ask(experiment="exp", user="alice"), [CHEAP, MID], record)
    assert kept[0].spec.name == arm.model and record.arm == arm.name
    assert f"arm {arm.name} ({arm.model}, sticky for user)" in record.reason
    experiments.pause("exp")
    paused = RouteRecord()
    assert policy.apply(ask(experiment="exp", user="alice"), [CHEAP, MID], paused) == [CHEAP, MID]
    assert paused.arm is None and "experiment exp is paused" in paused.reason
    with pytest.raises(RoutingError, match="unknown experiment 'zzz'; configured: exp"):
        policy.apply(ask(experiment="zzz"), [CHEAP], RouteRecord())


def test_ab_statistics_and_feedback_are_recorded(tmp_path):
    experiment = ExperimentConfig(
        name="exp", arms=[ArmConfig(name="a", model="cheap", weight=1), ArmConfig(name="b", model="mid", weight=1)]
    )
    experiments = Experiments([experiment], db_path=tmp_path / "ab.sqlite")
    experiments.record("r1", "exp", "a", 0.2, 10, 5, 0.001)
    experiments.record("r2", "exp", "a", 0.4, 10, 5, 0.001, error="ProviderServerError")
    experiments.record("r3", "exp", "b", 0.1, 8, 4, 0.002)
    assert experiments.feedback("r1", thumbs_up=True) and experiments.feedback("r3", thumbs_up=False)
    assert not experiments.feedback("unknown", thumbs_up=True)
    summary = {row["arm"]: row for row in experiments.summary("exp")}
    assert summary["a"]["requests"] == 2 and summary["a"]["errors"] == 1 and summary["a"]["thumbs_up"] == 1
    assert summary["a"]["mean_latency"] == pytest.approx(0.3) and summary["a"]["output_tokens"] == 10
    assert summary["b"]["thumbs_down"] == 1 and summary["b"]["cost"] == pytest.approx(0.002)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_health_cools_down_after_threshold_honours_retry_after_and_probes_once():
    clock = Clock()
    health = HealthTracker(HealthConfig(failure_threshold=2, cooldown_seconds=10), clock=clock)
    for _ in range(2):
        assert health.acquire("m", "a")
        health.failure("m", "a", "ProviderServerError")
    assert health.cooling("m", "a") and not health.acquire("m", "a")
    clock.now += 10.5
    assert health.acquire("m", "a")  # half-open: one probe ...
    assert not health.acquire("m", "a")  # ... at a time
    health.failure("m", "a", "still down")  # a failed probe cools it down again at once
    assert health.cooling("m", "a")
    clock.now += 11
    assert health.acquire("m", "a")
    health.success("m", "a", 0.05)
    assert not health.cooling("m", "a") and health.acquire("m", "a")
    health.failure("m", "b", "429", retry_after=60) if health.acquire("m", "b") else None
    clock.now += 30
    assert health.cooling("m", "b")  # Retry-After (60 s) beats the 10 s cooldown
    assert health.acquire("m", "c")
    health.failure("m", "c", "bad request", counts=False)
    assert not health.cooling("m", "c") and health.snapshot()[("m", "c")].failures == 0


def test_balancer_strategies_and_cooldown_skip():
    deps = entry("m", deployments=("a", "b", "c")).spec.deployments
    health = HealthTracker(HealthConfig(failure_threshold=1))
    rr = Balancer(health, "round_robin")
    assert [rr.order("m", deps)[0][0].name for _ in range(4)] == ["a", "b", "c", "a"]
    health.acquire("m", "b") and health.failure("m", "b", "down")
    usable, skipped = rr.order("m", deps)
    assert skipped == ["b"] and {d.name for d in usable} == {"a", "c"}

    busy = HealthTracker()
    for _ in range(3):
        busy.acquire("m", "a")
    busy.acquire("m", "c")
    assert [d.name for d in Balancer(busy, "least_busy").order("m", deps)[0]] == ["b", "c", "a"]

    timed = HealthTracker()
    for name, latency in (("a", 0.5), ("b", 0.1), ("c", 0.3)):
        timed.acquire("m", name)
        timed.success("m", name, latency)
    assert [d.name for d in Balancer(timed, "latency").order("m", deps)[0]] == ["b", "c", "a"]

    weighted_deps = [d.model_copy(update={"weight": w}) for d, w in zip(deps, (8, 1, 1), strict=True)]
    balancer = Balancer(HealthTracker(), "weighted", seed=1)
    firsts = Counter(balancer.order("m", weighted_deps)[0][0].name for _ in range(2000))
    assert abs(firsts["a"] / 2000 - 0.8) < 0.05


def test_bad_routing_config_names_file_line_and_field(tmp_path):
    from core.errors import CatalogError
    from routers.config import load_routing_config

    path = tmp_path / "routing.yaml"
    path.write_text("balance: round_robin\nhealth:\n  failure_threshold: many\n")
    with pytest.raises(CatalogError) as info:
        load_routing_config(path)
    assert (info.value.line, info.value.field) == (3, "health.failure_threshold") and "many" in str(info.value)
    path.write_text("balance: fastest\n")
    with pytest.raises(CatalogError, match="'round_robin', 'weighted', 'least_busy' or 'latency'"):
        load_routing_config(path)
    assert load_routing_config().policies[0] == "explicit"  # the shipped file is valid


def test_a_policy_name_must_be_registered(tmp_path):
    from core.errors import CatalogError
    from routers.config import load_routing_config
    from routers.policies import POLICIES

    path = tmp_path / "routing.yaml"
    path.write_text("default_model: m\npolicies: [explicit, fastest]\n")
    with pytest.raises(CatalogError) as info:
        load_routing_config(path)
    assert info.value.line == 2 and info.value.field.startswith("policies")
    assert "'fastest'" in str(info.value) and "'cost'" in str(info.value)
    assert set(load_routing_config().policies) <= set(POLICIES)
