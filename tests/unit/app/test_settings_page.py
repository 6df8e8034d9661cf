"""The Settings page: which keys are set, never their values; routing and moderation policies."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from tests.unit.app.conftest import page, rendered_text, table

SECRETS = {
    "OPENAI_API_KEY": "sk-test-9f8e7d6c5b4a39281706-secret",
    "HF_TOKEN": "hf_TESTtokenValue0123456789",
    "MODELYARD_MASTER_KEY": "master-key-never-shown-4711",
    "DATABASE_URL": "postgresql://modelyard:db-password-0815@db.internal/modelyard",
}


@pytest.fixture
def secrets(postgres_database) -> dict[str, str]:
    """:data:`SECRETS`, with a ``DATABASE_URL`` the app's stores really open (the test PostgreSQL trusts
    local connections, so the password in the URL is carried and never checked)."""
    url = make_url(postgres_database).set(password="db-password-0815").render_as_string(hide_password=False)
    return {**SECRETS, "DATABASE_URL": url}


def test_keys_are_reported_as_set_without_their_values(own_data_dir, monkeypatch, secrets):
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    app = page("settings")
    text = rendered_text(app)
    for name, value in secrets.items():
        assert name in text  # the walk does see the keys table ...
        assert value not in text, name  # ... and no value appears anywhere on the page
        assert value[-12:] not in text, name  # nor a recognisable tail of it
    keys = table(app, "variable").set_index("variable")
    assert keys.loc["OPENAI_API_KEY", "set"] == "set" and keys.loc["HF_TOKEN", "set"] == "set"
    assert keys.loc["ACME_API_KEY", "set"] == "not set"  # a deployment's key variable is listed too
    assert "gpt-4o-mini" in keys.loc["OPENAI_API_KEY", "used by"]
    assert not app.info  # no "no hosted key" hint when keys are set


def test_unset_keys_routing_and_moderation_are_shown(own_data_dir, monkeypatch):
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    app = page("settings")
    keys = table(app, "variable").set_index("variable")
    assert set(keys["set"]) == {"not set"}
    assert "OPENAI_API_KEY" in app.info[0].value  # the empty state says what to do
    routing = table(app, "setting").set_index("setting")["value"]
    assert routing["policies, in order"] == "explicit → modality → context_window → task → ab → cost"
    assert routing["default model"] == "smollm2-135m"
    assert "paused" in routing["experiment llamacpp-vs-transformers"]
    moderation = table(app, "policy").set_index("policy")
    assert set(moderation.index) >= {"default", "support", "notebook"}
    assert "weapons" in moderation.loc["default", "block"] and moderation.loc["default", "mask"] == "profanity"
    assert "PERSON" in moderation.loc["support", "PII masked"]  # names only in the support policy
    assert "PERSON" not in moderation.loc["default", "PII masked"]
