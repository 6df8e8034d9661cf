"""Which call parameters reach the model: all for a named model, the declared ones for a routed one."""

from __future__ import annotations

from models.spec import ModelSpec
from routers.request import RouteRequest

BARE = ModelSpec(name="bare", provider="openai", deployments=[{"base_url": "http://127.0.0.1:9/v1"}])
TUNED = ModelSpec(
    name="tuned",
    provider="openai",
    params={"temperature": {"min": 0, "max": 2}},
    deployments=[{"base_url": "http://127.0.0.1:9/v1"}],
)


def _request(model: str) -> RouteRequest:
    return RouteRequest.parse(
        {"messages": [("user", "hi")], "model": model, "params": {"temperature": 0.3, "max_tokens": 20}}
    )


def test_a_routed_request_sends_each_model_only_the_parameters_it_declares():
    routed = _request("auto")
    assert routed.params_for(BARE) == {}
    assert routed.params_for(TUNED) == {"temperature": 0.3}


def test_a_named_model_gets_every_parameter_so_an_undeclared_one_is_reported():
    named = _request("tuned")
    assert named.params_for(TUNED) == {"temperature": 0.3, "max_tokens": 20}
