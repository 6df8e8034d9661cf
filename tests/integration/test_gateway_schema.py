"""Schemathesis against the gateway's own OpenAPI schema, over real HTTP on loopback.

Every operation gets generated requests — valid and invalid bodies, odd strings, missing fields —
with the admin key or a consumer key with a budget (so the reservation and the key's checks run),
against a catalog of a text model and an image model on the fake upstream and the bundled local
model (``smollm2-135m`` on llama.cpp, loaded once, its answers kept to a few tokens). Half the
bodies of the model-taking routes (chat, responses, messages, images, embeddings) name a real
model, so the handlers are reached rather than the 404. No answer may be a 5xx, every documented
response must match its schema, and every 4xx must have the route's error shape (Anthropic's on
``/v1/messages``, OperateGPT's on ``/api/v1/chat/completions``, OpenAI's elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.server import create_app
from models.catalog import load_catalog
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

ADMIN = {"Authorization": "Bearer schema-admin"}
LOCAL = "smollm2-135m"
TEXT_MODELS = ["fake-chat", LOCAL]
KNOWN_MODELS = {
    "/v1/chat/completions": TEXT_MODELS,
    "/v1/responses": TEXT_MODELS,
    "/v1/messages": TEXT_MODELS,
    "/v1/images/generations": ["painter"],
    "/v1/embeddings": ["all-MiniLM-L6-v2"],
}
"""Random model names only ever reach the 404 path: half the generated bodies name a real model."""
LENGTH_FIELD = {
    "/v1/chat/completions": "max_tokens",
    "/v1/responses": "max_output_tokens",
    "/v1/messages": "max_tokens",
}
"""Each chat dialect's answer-length field: kept tiny for the local model."""
PROMPTS = {
    "hello": "model: fake-chat\nmessages:\n  - {role: user, content: 'Say hello to {text}'}\n",
    "tiny-local": f"model: {LOCAL}\nparams: {{max_tokens: 2}}\nmessages:\n  - {{role: user, content: '{{text}}'}}\n",
}
"""The prompt APIs served (one per text model)."""
_TEXT = st.text(min_size=1, max_size=120)
EXAMPLES = 25
"""Generated cases per operation: the whole test stays within about two minutes on two cores."""


def _with_model(path: str, body: dict, model: str) -> dict:
    """``body`` naming ``model``; for the local model, one answer of two tokens."""
    body = {**body, "model": model}
    if model == LOCAL and path in LENGTH_FIELD:
        body.pop("max_completion_tokens", None)
        body.pop("n", None)
        body[LENGTH_FIELD[path]] = 2
    return body


def _valid_body(path: str, model: str) -> st.SearchStrategy[dict]:
    """Bodies the route accepts, with generated text and options, so its handler and its answer are exercised
    (the schema's own bodies are mostly refused by validation: its fields are loosely typed)."""
    stream = st.booleans()
    if path == "/v1/chat/completions":
        message = st.fixed_dictionaries({"role": st.sampled_from(["user", "system"]), "content": _TEXT})
        messages = st.lists(message, min_size=1, max_size=3).map(lambda m: [*m, {"role": "user", "content": "hi"}])
        return st.fixed_dictionaries(
            {"model": st.just(model), "messages": messages, "stream": stream, "max_tokens": st.integers(1, 32)}
        )
    if path == "/v1/responses":
        return st.fixed_dictionaries(
            {"model": st.just(model), "input": _TEXT, "stream": stream, "max_output_tokens": st.integers(1, 32)},
            optional={"instructions": _TEXT, "store": st.booleans()},
        )
    if path == "/v1/messages":
        message = st.fixed_dictionaries({"role": st.just("user"), "content": _TEXT})
        messages = st.lists(message, min_size=1, max_size=2)
        return st.fixed_dictionaries(
            {"model": st.just(model), "max_tokens": st.integers(1, 32), "messages": messages},
            optional={"system": _TEXT, "stream": stream},
        )
    if path == "/v1/images/generations":
        return st.fixed_dictionaries(
            {"model": st.just(model), "prompt": _TEXT, "n": st.integers(1, 3)},
            optional={"response_format": st.sampled_from(["b64_json", "url"])},
        )
    return st.fixed_dictionaries({"model": st.just(model), "input": _TEXT})  # embeddings


def _cases(operation, consumer: dict[str, str]):
    """The operation's generated cases, each sent with the admin or the consumer key. Of the routes that take a
    model, a third of the bodies are the schema's own, a third the same naming a real model, a third valid bodies
    with generated text; the prompt API runs a real prompt half the time."""
    path = operation.path
    models = KNOWN_MODELS.get(path, [])
    if models:
        real = st.sampled_from(models)
        bodies = st.one_of(st.none(), real.map(lambda m: ("name", m)), real.flatmap(lambda m: _valid_body(path, m)))
    elif path == "/api/prompts/{name}":
        run = st.fixed_dictionaries({"variables": st.fixed_dictionaries({"text": _TEXT}), "stream": st.booleans()})
        bodies = st.one_of(st.none(), st.tuples(st.sampled_from(sorted(PROMPTS)), run))
    else:
        bodies = st.none()

    def prepare(case, body, headers: dict[str, str]):
        if isinstance(body, tuple) and body[0] == "name" and isinstance(case.body, dict):
            case.body = _with_model(path, case.body, body[1])
        elif isinstance(body, tuple):  # a prompt's name and a run of it
            case.path_parameters, case.body = {"name": body[0]}, body[1]
        elif isinstance(body, dict):
            case.body = _with_model(path, body, body["model"])
        case.headers = {**(case.headers or {}), **headers}
        return case

    return st.tuples(operation.as_strategy(), bodies, st.sampled_from([ADMIN, consumer])).map(
        lambda drawn: prepare(*drawn)
    )


def _error_shape(path: str, response) -> str | None:
    """What is wrong with a 4xx answer's body for the route at ``path`` (``None`` when it has the shape)."""
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:200]!r}"
    if path == "/api/v1/chat/completions":
        return _operategpt_error_shape(body)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str) or not error.get("type"):
        return f"no {{error: {{message, type}}}}: {str(body)[:300]}"
    if path == "/v1/messages" and body.get("type") != "error":
        return f"not Anthropic's error shape: {str(body)[:300]}"
    return None


def _operategpt_error_shape(body: object) -> str | None:
    """OperateGPT's inference route answers errors as ``{"success": false, "msg": ...}``."""
    if isinstance(body, dict) and body.get("success") is False and isinstance(body.get("msg"), str):
        return None
    return f"not OperateGPT's error shape: {str(body)[:300]}"


@dataclass
class Served:
    url: str
    consumer: dict[str, str]
    """Headers with a consumer key that has a budget and a TPM limit."""


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("schema")
    prompts = tmp / "prompts"
    prompts.mkdir()
    for name, text in PROMPTS.items():
        (prompts / f"{name}.yaml").write_text(text)
    with FakeUpstream() as upstream:
        deployment = {"name": "d0", "base_url": upstream.base_url, "timeout": 5}
        specs = [
            ModelSpec(
                name="fake-chat",
                provider="openai",
                tasks=["chit_chat"],
                cost={"input_per_1k": 0.001, "output_per_1k": 0.001},
                deployments=[deployment],
            ),
            ModelSpec(
                name="painter",
                provider="openai",
                tasks=["image_generation"],
                modalities={"input": ["text"], "output": ["image"]},
                resources={"usd_per_image": 0.001},
                deployments=[deployment],
            ),
            next(spec for spec in load_catalog() if spec.name == LOCAL),
        ]
        registry = Registry(db_path=tmp / "registry.sqlite", catalog_specs=specs)
        config = RoutingConfig.model_validate({"default_model": "fake-chat"})
        router = RouterRunnable(registry, config, experiments=Experiments(config.experiments, tmp / "ab.sqlite"))
        app = create_app(
            registry,
            router,
            knowledge=False,
            master_key="schema-admin",
            request_log_path=tmp / "requests.sqlite",
            keys_path=tmp / "keys.sqlite",
            max_body_bytes=32_000,
            prompts_dir=prompts,
        )
        with serving(app) as url:
            # load the embedding and the local model before fuzzing, so no generated case waits for a load
            warm = httpx.post(
                f"{url}/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "hi"}, headers=ADMIN, timeout=120
            )
            assert warm.status_code == 200, warm.text
            chat = {"model": LOCAL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
            warm = httpx.post(f"{url}/v1/chat/completions", json=chat, headers=ADMIN, timeout=300)
            assert warm.status_code == 200, warm.text
            key = {"name": "fuzzed", "budget_usd": 1000.0, "tpm": 100_000_000}
            created = httpx.post(f"{url}/api/keys", json=key, headers=ADMIN)
            assert created.status_code == 201, created.text
            yield Served(url, {"Authorization": f"Bearer {created.json()['secret']}"})


def test_no_5xx_and_responses_match_the_schema(served):
    # schemathesis' pytest plugin does not run under pytest 9 yet ('Function' has no '_nodeid'),
    # so each operation's hypothesis strategy is driven here directly
    api = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 10, [op.label for op in operations]
    failures: dict[str, str] = {}
    statuses: dict[str, set[int]] = {}
    for operation in operations:

        @given(case=_cases(operation, served.consumer))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case) -> None:
            response = case.call_and_validate(checks=[not_a_server_error, response_schema_conformance], timeout=60)
            statuses.setdefault(case.operation.label, set()).add(response.status_code)
            if 400 <= response.status_code < 500:
                wrong = _error_shape(case.operation.path, response)
                assert wrong is None, f"{response.status_code} {wrong}; body sent: {str(case.body)[:500]}"

        try:
            exercise()
        except Exception as exc:  # collect every operation's first failure, then report them all
            inner = "; ".join(repr(e)[:800] for e in getattr(exc, "exceptions", ()))
            failures[operation.label] = f"{type(exc).__name__}: {exc} {inner}"[:3000]
    print({label: sorted(codes) for label, codes in statuses.items()})
    assert set(statuses) | set(failures) == {op.label for op in operations}  # every operation was called
    assert not failures, "\n\n".join(f"{label}\n{why}" for label, why in failures.items())
