"""Canonical parameters: defaults, provider names, and clear range errors."""

from __future__ import annotations

import pytest

from core.errors import ParameterError
from models.params import canonical_values, resolve_params
from models.spec import ModelSpec

SPEC = ModelSpec(
    name="m",
    provider="openai",
    deployments=[{"base_url": "http://127.0.0.1:1/v1"}],
    params={
        "temperature": {"type": "float", "default": 0.7, "min": 0, "max": 1, "provider_name": "creative_level"},
        "max_tokens": {"type": "int", "min": 1, "max": 100},
    },
)


def test_defaults_fill_in_and_names_map_to_the_provider():
    assert resolve_params(SPEC, {}) == {"creative_level": 0.7}
    assert resolve_params(SPEC, {"temperature": 0.2, "max_tokens": "50"}) == {"creative_level": 0.2, "max_tokens": 50}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"temperature": 1.5}, "temperature=1.5 is outside the allowed range [0, 1] for model 'm'"),
        ({"max_tokens": 0}, "max_tokens=0 is outside the allowed range [1, 100]"),
        ({"max_tokens": "many"}, "max_tokens='many' is not a int"),
        ({"top_k": 3}, "does not accept top_k; accepted: max_tokens, temperature"),
    ],
)
def test_bad_values_are_rejected_with_what_is_allowed(given, message):
    with pytest.raises(ParameterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        canonical_values(SPEC, given)
