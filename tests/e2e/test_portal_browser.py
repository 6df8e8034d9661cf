"""The service portal in a real browser, against a real gateway on the same data folder.

Streamlit (``streamlit run``) and Debian's Chromium as in ``test_ui_browser.py``; the gateway is
``create_app`` served by uvicorn on a loopback port in this process, over the suite's data folder, with
the fake OpenAI-compatible upstream as the service's model. In the browser team A publishes a service,
team B subscribes and sees its key once, team A approves; the test calls the service with that key over
HTTP (refused while pending, answered once approved) and sees the call in team A's subscriber usage.
A screenshot of the owner view goes to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.server import create_app
from models.registry import Registry
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from store.request_log import RequestLog
from tests.conftest import ARTIFACTS
from tests.support.serving import serving

pytestmark = pytest.mark.slow

SERVICE = "e2e-haiku"
MODEL = "e2e-portal-echo"
STEP_MS = 60_000
USAGE_SECONDS = 30


@pytest.fixture(scope="module")
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This module's own data folder, for Streamlit (``app_url``) and the gateway alike: the portal's keys
    and services stay out of the suite's folder, and the gateway starts with no key, as a new install."""
    return tmp_path_factory.mktemp("portal-data")


def gateway_app(data: Path, upstream_url: str) -> Any:
    """The gateway over ``data``, routing explicitly to the fake upstream's model (no master key)."""
    registry = Registry(db_path=data / "registry.sqlite")
    registry.register(
        {
            "name": MODEL,
            "provider": "openai",
            "cost": {"input_per_1k": 0.5, "output_per_1k": 1.0},
            "deployments": [{"name": "fake", "base_url": upstream_url}],
        },
        owner="e2e",
    )
    config = RoutingConfig.model_validate({"policies": ["explicit"], "default_model": MODEL})
    router = RouterRunnable(registry, config, experiments=Experiments(config.experiments, data / "ab.sqlite"))
    return create_app(
        registry,
        router,
        knowledge=False,
        master_key=None,
        keys_path=data / "keys.sqlite",
        services_path=data / "services.sqlite",
        request_log_path=data / "requests.sqlite",
        responses_path=data / "responses.sqlite",
        log_flush_seconds=0.05,
    )


@pytest.fixture
def gateway(session_data_dir: Path, upstream) -> Iterator[str]:
    """The gateway on loopback over this module's data folder; the admin (a local caller) issues the teams'
    keys, as an operator would before teams use the portal."""
    with serving(gateway_app(session_data_dir, upstream.base_url)) as url:
        for team in ("team-a", "team-b"):
            assert httpx.post(f"{url}/api/keys", json={"name": team}).status_code == 201
        yield url


def act_as(page, name: str) -> None:
    from playwright.sync_api import expect

    box = page.get_by_label("Act as", exact=True)
    box.fill(name)
    box.press("Enter")
    page.get_by_text(f"Acting as {name}.").wait_for(timeout=STEP_MS)
    expect(page.get_by_role("tab", name="Owner")).to_have_count(1, timeout=STEP_MS)  # the rerun has finished


def test_publish_subscribe_approve_and_call_through_the_gateway(app_url, browser, gateway, session_data_dir):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        secret, subscription = _walk(page, app_url, gateway, session_data_dir)
    finally:
        page.close()
    assert not errors, errors
    assert secret.startswith("my-") and subscription.startswith("sub_")


def _walk(page, app_url: str, gateway: str, data: Path) -> tuple[str, str]:
    from playwright.sync_api import expect

    page.goto(f"{app_url}/services")  # not the chat first: its warm-up would load the local model here
    page.get_by_role("heading", name="Services", exact=True).wait_for(timeout=STEP_MS)

    # Team A publishes a service on the fake upstream's model.
    act_as(page, "team-a")
    page.get_by_role("tab", name="Owner").click()
    owner = page.get_by_role("tabpanel", name="Owner")
    owner.get_by_label("Name", exact=True).fill(SERVICE)
    owner.get_by_label("Model", exact=True).click()
    page.get_by_role("option", name=MODEL, exact=True).click()
    owner.get_by_label("User message", exact=True).fill("Write a haiku about {topic}.")
    owner.get_by_role("button", name="Publish").click()
    expect(page.get_by_text(f"Service {SERVICE} published at version 1, owned by team-a.")).to_be_visible(
        timeout=STEP_MS
    )

    # Team B subscribes: the key is shown once, the subscription is pending.
    act_as(page, "team-b")
    page.get_by_role("tab", name="Browse").click()
    browse = page.get_by_role("tabpanel", name="Browse")
    browse.get_by_label("Service", exact=True).click()
    page.get_by_role("option", name=SERVICE, exact=True).click()
    expect(browse.get_by_text("Owner team-a")).to_be_visible(timeout=STEP_MS)
    browse.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_text("will not be shown again")).to_be_visible(timeout=STEP_MS)
    expect(page.get_by_text(f"Subscribed to {SERVICE} as team-b: pending.")).to_be_visible()
    secret = page.locator('[data-testid="stCode"]').filter(has_text="my-").first.inner_text().strip()
    pending = httpx.post(
        f"{gateway}/api/services/{SERVICE}", headers=_bearer(secret), json={"variables": {"topic": "x"}}
    )
    assert pending.status_code == 403 and pending.json()["error"]["code"] == "pending_approval", pending.text

    # Team A approves; the key is not on the page any more.
    act_as(page, "team-a")
    expect(page.get_by_text(secret)).to_have_count(0)
    page.get_by_role("tab", name="Owner").click()
    owner = page.get_by_role("tabpanel", name="Owner")
    expect(owner.get_by_text(re.compile(r"team-b.*→ " + SERVICE + r".*pending"))).to_be_visible(timeout=STEP_MS)
    owner.get_by_role("button", name="Approve").click()
    notice = page.get_by_text(re.compile(r"sub_\w+ of team-b approved\."))
    expect(notice).to_be_visible(timeout=STEP_MS)
    subscription = notice.inner_text().split()[0]

    # The subscription key calls the service through the gateway; the call shows in A's subscriber usage.
    answer = httpx.post(
        f"{gateway}/api/services/{SERVICE}", headers=_bearer(secret), json={"variables": {"topic": "rain"}}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["output"] == "echo: Write a haiku about rain."
    _wait_logged(data)
    act_as(page, "team-b")  # a rerun of the page as A reads the log anew
    act_as(page, "team-a")
    page.get_by_role("tab", name="Owner").click()
    usage = page.get_by_text(re.compile(f"{SERVICE}: 1 subscriber\\(s\\) · 1 request\\(s\\) · [1-9]\\d* tokens"))
    expect(usage).to_be_visible(timeout=STEP_MS)
    usage.scroll_into_view_if_needed()
    (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screenshots" / "services-owner.png"))
    return secret, subscription


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _wait_logged(data: Path) -> None:
    """Until the gateway's request log in ``data`` has the service call (at most ``USAGE_SECONDS``)."""
    log = RequestLog(data / "requests.sqlite")
    deadline = time.monotonic() + USAGE_SECONDS
    try:
        while time.monotonic() < deadline:
            if any(r["endpoint"] == "service" for r in log.rows(time.time() - 300, time.time())):
                return
            time.sleep(0.2)
    finally:
        log.close()
    raise AssertionError(f"the service call was not logged in {USAGE_SECONDS} s")


def test_a_pending_key_issued_by_the_app_is_refused_by_a_gateway_that_started_without_keys(tmp_path, upstream):
    from app.server.gateway.services import Identity, SubscriptionLimits
    from app.ui.services_view import ServiceForm, open_catalog

    with serving(gateway_app(tmp_path, upstream.base_url)) as url:
        app_catalog = open_catalog(tmp_path)  # what the Services page uses
        spec, limits, _ = ServiceForm(name="say", model=MODEL, user_message="Say {word}").validate()
        assert spec is not None and limits is not None
        app_catalog.publish("say", spec, "manual", limits, Identity("team-a"))
        view, secret = app_catalog.subscribe("say", Identity("team-b"), SubscriptionLimits())
        assert view["status"] == "pending"
        time.sleep(1)  # longer than the key ring's refresh interval: not a race
        answer = httpx.post(f"{url}/api/services/say", headers=_bearer(secret), json={"variables": {"word": "hi"}})
        assert answer.status_code == 403, answer.text
