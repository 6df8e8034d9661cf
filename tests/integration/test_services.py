"""The service portal end to end: the gateway on a loopback port, identities as consumer keys issued by
the admin, ``httpx`` as every client, the fake upstream as the model, real SQLite files.

team-a publishes, team-b and team-c subscribe; subscription keys call the services (JSON and SSE) and
the calls show in ``/api/usage`` per service and subscriber."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from models.spec import ModelSpec
from tests.support.gateways import gateway_app
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

ADMIN_KEY = "services-admin-secret"
SUMMARISE = {
    "name": "summarise",
    "description": "Summarise a text.",
    "model": "fake-chat",
    "messages": [
        {"role": "system", "content": "You summarise."},
        {"role": "user", "content": "Summarise: {text}"},
    ],
    "approval": "manual",
    "limits": {"rpm": 100, "budget_usd": 5},
}
GREET_FILE = """description: Greet someone.
model: auto
messages:
  - {role: user, content: "Hello {who}"}
"""


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class Portal:
    url: str

    def key(self, name: str) -> dict[str, str]:
        """A general key for ``name``: that team's identity on the portal."""
        created = httpx.post(f"{self.url}/api/keys", headers=bearer(ADMIN_KEY), json={"name": name})
        assert created.status_code == 201, created.text
        return bearer(created.json()["secret"])

    def post(self, path: str, who: dict[str, str], body: object = None) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", headers=who, json=body)

    def get(self, path: str, who: dict[str, str], **params: object) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers=who, params=params)

    def call(self, service: str, subscription_key: str, **body: object) -> httpx.Response:
        return self.post(f"/api/services/{service}", bearer(subscription_key), body)

    def subscribe(self, service: str, who: dict[str, str], **limits: object) -> dict:
        answer = self.post(f"/api/services/{service}/subscriptions", who, limits)
        assert answer.status_code == 201, answer.text
        return answer.json()


@dataclass
class Teams:
    a: dict[str, str]
    b: dict[str, str]
    c: dict[str, str]


@pytest.fixture(scope="module")
def portal(tmp_path_factory) -> Iterator[Portal]:
    tmp: Path = tmp_path_factory.mktemp("services")
    (tmp / "prompts").mkdir()
    (tmp / "prompts" / "greet.yaml").write_text(GREET_FILE)
    with FakeUpstream() as upstream:
        chat = ModelSpec(
            name="fake-chat",
            provider="openai",
            cost={"input_per_1k": 0.002, "output_per_1k": 0.002},
            deployments=[{"name": "d0", "base_url": upstream.base_url}],
        )
        app = gateway_app(
            tmp,
            [chat],
            routing={"policies": ["explicit", "cost"], "health": {"failure_threshold": 1000}},
            master_key=ADMIN_KEY,
            prompts_dir=tmp / "prompts",
            log_flush_seconds=0.05,
        )
        with serving(app) as url:
            yield Portal(url)


@pytest.fixture(scope="module")
def teams(portal) -> Teams:
    teams = Teams(portal.key("team-a"), portal.key("team-b"), portal.key("team-c"))
    published = portal.post("/api/services", teams.a, SUMMARISE)
    assert published.status_code == 201, published.text
    return teams


def sse_events(response: httpx.Response) -> list:
    return [
        line.removeprefix("data: ") if line == "data: [DONE]" else json.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: ")
    ]


# ---- the main flow ---------------------------------------------------------------------------------
def test_publish_subscribe_wait_approve_call_and_see_usage(portal, teams):
    listed = {s["name"]: s for s in portal.get("/api/services", teams.b).json()["data"]}
    summarise = listed["summarise"]
    assert (summarise["owner"], summarise["approval"], summarise["version"], summarise["origin"]) == (
        "team-a",
        "manual",
        1,
        "published",
    )
    assert [v["name"] for v in summarise["variables"]] == ["text"] and summarise["model"] == "fake-chat"

    own_key = portal.post("/api/services/summarise", teams.b, {"variables": {"text": "x"}})
    assert own_key.status_code == 403 and own_key.json()["error"]["code"] == "not_subscribed"
    assert "subscribe with POST /api/services/summarise/subscriptions" in own_key.json()["error"]["message"]

    subscription = portal.subscribe("summarise", teams.b, rpm=1000)
    secret = subscription["secret"]
    assert subscription["status"] == "pending" and subscription["subscriber"] == "team-b"
    assert secret.startswith("my-") and subscription["key"]["prefix"] == secret[:8]
    assert (subscription["key"]["rpm"], subscription["key"]["budget_usd"]) == (100, 5)  # capped by the service

    pending = portal.call("summarise", secret, variables={"text": "hello world"})
    assert pending.status_code == 403 and pending.json()["error"]["code"] == "pending_approval"
    assert "waiting for approval by its owner team-a" in pending.json()["error"]["message"]

    path = f"/api/services/summarise/subscriptions/{subscription['id']}"
    self_approval = portal.post(f"{path}/approve", teams.b)
    assert self_approval.status_code == 403 and "only its owner team-a" in self_approval.json()["error"]["message"]
    approved = portal.post(f"{path}/approve", teams.a)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == "team-a"

    answer = portal.call("summarise", secret, variables={"text": "hello world"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["output"] == "echo: Summarise: hello world"
    assert (answer.json()["prompt"], answer.json()["model"]) == ("summarise", "fake-chat")
    assert answer.headers["x-modelyard-service-version"] == "1"

    streamed = portal.call("summarise", secret, variables={"text": "in pieces"}, stream=True)
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed)
    assert "".join(e["output"] for e in events if isinstance(e, dict) and "output" in e) == "echo: Summarise: in pieces"
    assert events[-2]["model"] == "fake-chat" and events[-1] == "[DONE]"

    owner_usage = portal.get("/api/usage", teams.a).json()["services"]
    row = next(r for r in owner_usage if r["subscription_id"] == subscription["id"])
    assert (row["service"], row["subscriber"], row["owner"], row["requests"], row["errors"]) == (
        "summarise",
        "team-b",
        "team-a",
        2,
        0,
    )
    assert row["cost_usd"] > 0 and row["input_tokens"] > 0
    assert subscription["id"] in [r["subscription_id"] for r in portal.get("/api/usage", teams.b).json()["services"]]
    assert subscription["id"] not in [
        r["subscription_id"] for r in portal.get("/api/usage", teams.c).json()["services"]
    ]

    for listing in (portal.get("/api/subscriptions", teams.a), portal.get("/api/keys", bearer(ADMIN_KEY))):
        assert secret not in listing.text and "secret_sha256" not in listing.text
    keys = portal.get("/api/keys", bearer(ADMIN_KEY)).json()["data"]
    assert next(k for k in keys if k["id"] == subscription["key"]["id"])["service"] == "summarise"


def test_a_subscription_key_calls_its_service_and_nothing_else(portal, teams):
    secret = portal.subscribe("greet", teams.b)["secret"]  # the file prompt: auto-approved
    chat = portal.post(
        "/v1/chat/completions", bearer(secret), {"model": "fake-chat", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert chat.status_code == 403 and chat.json()["error"]["code"] == "subscription_key_scope"
    assert "it calls only POST /api/services/greet" in chat.json()["error"]["message"]
    other = portal.call("summarise", secret, variables={"text": "x"})
    assert other.status_code == 403 and "subscription key of service 'greet'" in other.json()["error"]["message"]
    browse = portal.get("/api/services", bearer(secret))
    assert browse.status_code == 403 and "use your team's key on the portal" in browse.json()["error"]["message"]
    prompt_api = portal.post("/api/prompts/greet", bearer(secret), {"variables": {"who": "x"}})
    assert prompt_api.status_code == 403


# ---- approval modes, file prompts ------------------------------------------------------------------
def test_auto_approval_gives_a_working_key_at_once(portal, teams):
    haiku = {**SUMMARISE, "name": "haiku", "approval": "auto", "limits": {}}
    haiku["messages"] = [{"role": "user", "content": "A haiku about {topic}"}]
    assert portal.post("/api/services", teams.a, haiku).status_code == 201
    subscription = portal.subscribe("haiku", teams.c)
    assert subscription["status"] == "approved" and subscription["decided_by"] == "auto"
    answer = portal.call("haiku", subscription["secret"], variables={"topic": "rain"})
    assert answer.status_code == 200 and answer.json()["output"] == "echo: A haiku about rain"


def test_file_prompts_are_services_of_the_operator(portal, teams):
    greet = portal.get("/api/services/greet", teams.c).json()
    assert (greet["owner"], greet["approval"], greet["origin"], greet["latest_version"]) == (
        "operator",
        "auto",
        "file",
        1,
    )
    subscription = portal.subscribe("greet", teams.c)
    assert subscription["status"] == "approved"
    assert portal.call("greet", subscription["secret"], variables={"who": "Ada"}).json()["output"] == "echo: Hello Ada"
    assert portal.post("/api/prompts/greet", teams.c, {"variables": {"who": "Bo"}}).json()["output"] == "echo: Hello Bo"
    changed = httpx.put(f"{portal.url}/api/services/greet", headers=teams.c, json={**SUMMARISE, "name": "greet"})
    assert changed.status_code == 403 and "prompt file in config/prompts/" in changed.json()["error"]["message"]
    taken = portal.post("/api/services", teams.a, {**SUMMARISE, "name": "greet"})
    assert taken.status_code == 409 and taken.json()["error"]["param"] == "name"


# ---- versions --------------------------------------------------------------------------------------
def test_a_change_is_a_new_version_callers_pin_or_follow_latest_and_see_the_diff(portal, teams):
    poem = {**SUMMARISE, "name": "poem", "approval": "auto", "limits": {}}
    poem["messages"] = [{"role": "user", "content": "Write about {topic}"}]
    assert portal.post("/api/services", teams.a, poem).status_code == 201
    secret = portal.subscribe("poem", teams.b)["secret"]

    revised = {**poem, "messages": [{"role": "user", "content": "Write a short poem about {topic}"}]}
    not_owner = httpx.put(f"{portal.url}/api/services/poem", headers=teams.b, json=revised)
    assert not_owner.status_code == 403
    changed = httpx.put(f"{portal.url}/api/services/poem", headers=teams.a, json=revised).json()
    assert (changed["changed"], changed["version"], [v["version"] for v in changed["versions"]]) == (True, 2, [1, 2])
    assert "-- content: Write about {topic}" in changed["diff"]
    assert "+- content: Write a short poem about {topic}" in changed["diff"]
    assert (
        portal.get("/api/services/poem/diff", teams.b, from_version=1, to_version=2).json()["diff"] == changed["diff"]
    )
    same = httpx.put(f"{portal.url}/api/services/poem", headers=teams.a, json=revised).json()
    assert (same["changed"], same["version"]) == (False, 2)

    latest = portal.call("poem", secret, variables={"topic": "tea"})
    assert latest.json()["output"] == "echo: Write a short poem about tea"
    assert latest.headers["x-modelyard-service-version"] == "2"
    pinned = portal.call("poem", secret, variables={"topic": "tea"}, version=1)
    assert pinned.json()["output"] == "echo: Write about tea" and pinned.headers["x-modelyard-service-version"] == "1"
    missing = portal.call("poem", secret, variables={"topic": "tea"}, version=9)
    assert missing.status_code == 404 and "has no version 9; versions: 1 to 2" in missing.json()["error"]["message"]
    assert (
        portal.get("/api/services/poem", teams.b, version=1).json()["messages"][0]["content"] == "Write about {topic}"
    )


# ---- refusals --------------------------------------------------------------------------------------
def test_rejected_and_revoked_subscriptions_are_refused(portal, teams):
    subscription = portal.subscribe("summarise", teams.c)
    path = f"/api/services/summarise/subscriptions/{subscription['id']}"
    rejected = portal.post(f"{path}/reject", teams.a, {"reason": "internal use only"})
    assert rejected.json()["status"] == "rejected" and rejected.json()["reason"] == "internal use only"
    refused = portal.call("summarise", subscription["secret"], variables={"text": "x"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "rejected"
    assert "rejected by team-a: internal use only" in refused.json()["error"]["message"]
    again = portal.post(f"{path}/reject", teams.a)
    assert again.status_code == 409 and "is rejected" in again.json()["error"]["message"]

    revoked = httpx.delete(f"{portal.url}{path}", headers=teams.c)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    gone = portal.call("summarise", subscription["secret"], variables={"text": "x"})
    assert gone.status_code == 401 and "revoked" in gone.json()["error"]["message"]


def test_a_second_live_subscription_is_refused(portal, teams):
    portal.subscribe("haiku", teams.b)
    twice = httpx.post(f"{portal.url}/api/services/haiku/subscriptions", headers=teams.b)  # no body: no limits asked
    assert twice.status_code == 409 and "already has subscription" in twice.json()["error"]["message"]


def test_over_the_subscriptions_limits(portal, teams):
    limited = {**SUMMARISE, "name": "limited", "approval": "auto", "limits": {"rpm": 1}}
    assert portal.post("/api/services", teams.a, limited).status_code == 201
    secret = portal.subscribe("limited", teams.b)["secret"]
    assert portal.call("limited", secret, variables={"text": "x"}).status_code == 200
    over = portal.call("limited", secret, variables={"text": "x"})
    assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
    assert "1 requests per minute" in over.json()["error"]["message"]

    free = {**SUMMARISE, "name": "no-budget", "approval": "auto", "limits": {"budget_usd": 0}}
    assert portal.post("/api/services", teams.a, free).status_code == 201
    broke = portal.call("no-budget", portal.subscribe("no-budget", teams.b)["secret"], variables={"text": "x"})
    assert broke.status_code == 402 and "budget" in broke.json()["error"]["message"]


@pytest.mark.parametrize(
    ("change", "status", "param", "says"),
    [
        ({"messages": []}, 422, "messages", "messages"),
        ({"approval": "sometimes"}, 422, "approval", "approval"),
        ({"limits": {"rpm": 0}}, 422, "limits.rpm", "limits.rpm"),
        ({"variables": {"topic": {}}}, 422, "messages[1].content", "uses {text}, which is not declared"),
        ({"owner": "team-z"}, 403, "owner", "only the admin may publish for another owner"),
    ],
)
def test_bad_definitions_name_the_field(portal, teams, change, status, param, says):
    answer = portal.post("/api/services", teams.a, {**SUMMARISE, "name": "bad", **change})
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["param"] == param and says in answer.json()["error"]["message"]


def test_unknown_service_missing_variable_and_no_identity(portal, teams):
    unknown = portal.post("/api/services/nope/subscriptions", teams.b, {})
    assert unknown.status_code == 404 and "no service named 'nope'; known:" in unknown.json()["error"]["message"]
    secret = portal.subscribe("poem", teams.c)["secret"]
    missing = portal.call("poem", secret, variables={})
    assert missing.status_code == 422 and missing.json()["error"]["param"] == "variables.topic"
    anonymous = httpx.get(f"{portal.url}/api/services")
    assert anonymous.status_code == 401 and "the key's name is who you are" in anonymous.json()["error"]["message"]
    admin = portal.get("/api/subscriptions", bearer(ADMIN_KEY)).json()["data"]
    assert {s["subscriber"] for s in admin} >= {"team-b", "team-c"}
