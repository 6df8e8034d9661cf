"""Schemathesis against the gateway's own OpenAPI schema, over real HTTP on loopback.

Every operation gets generated requests — valid and invalid bodies, odd strings, missing fields —
with the admin key, so the handlers themselves are reached. No answer may be a 5xx, and every
documented response must match its schema.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.server import create_app
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

ADMIN = {"Authorization": "Bearer schema-admin"}
KNOWN_MODEL = {"/v1/chat/completions": "fake-chat", "/v1/embeddings": "all-MiniLM-L6-v2"}
"""Random model names only ever reach the 404 path: half the generated bodies name a real model."""


def _cases(operation):
    cases = operation.as_strategy()
    model = KNOWN_MODEL.get(operation.path)
    if model is None:
        return cases

    def name_a_real_model(case, real: bool):
        if real and isinstance(case.body, dict):
            case.body = {**case.body, "model": model}
        return case

    return st.tuples(cases, st.booleans()).map(lambda pair: name_a_real_model(*pair))


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("schema")
    with FakeUpstream() as upstream:
        spec = ModelSpec(
            name="fake-chat",
            provider="openai",
            tasks=["chit_chat"],
            deployments=[{"name": "d0", "base_url": upstream.base_url, "timeout": 5}],
        )
        registry = Registry(db_path=tmp / "registry.sqlite", catalog_specs=[spec])
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
        )
        with serving(app) as url:
            # load the embedding model before fuzzing, so the first generated case is not a slow load
            warm = httpx.post(
                f"{url}/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "hi"}, headers=ADMIN, timeout=120
            )
            assert warm.status_code == 200, warm.text
            yield url


def test_no_5xx_and_responses_match_the_schema(gateway_url):
    # schemathesis' pytest plugin does not run under pytest 9 yet ('Function' has no '_nodeid'),
    # so each operation's hypothesis strategy is driven here directly
    api = schemathesis.openapi.from_url(f"{gateway_url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 10, [op.label for op in operations]
    failures: dict[str, str] = {}
    statuses: dict[str, set[int]] = {}
    for operation in operations:

        @given(case=_cases(operation))
        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def exercise(case) -> None:
            response = case.call_and_validate(
                headers=ADMIN, checks=[not_a_server_error, response_schema_conformance], timeout=60
            )
            statuses.setdefault(case.operation.label, set()).add(response.status_code)

        try:
            exercise()
        except Exception as exc:  # collect every operation's first failure, then report them all
            inner = "; ".join(repr(e)[:800] for e in getattr(exc, "exceptions", ()))
            failures[operation.label] = f"{type(exc).__name__}: {exc} {inner}"[:3000]
    print({label: sorted(codes) for label, codes in statuses.items()})
    assert set(statuses) | set(failures) == {op.label for op in operations}  # every operation was called
    assert not failures, "\n\n".join(f"{label}\n{why}" for label, why in failures.items())
