"""The Services page: publish as one team, subscribe as another (the key shown once), approve as the owner,
field errors on a bad publish, a revision's diff, and the subscribers' usage from the request log.

Each test has its own data folder, so the page's catalog works on fresh ``services.sqlite`` and
``keys.sqlite`` files; the checks read them back through a second catalog, as the gateway would.
"""

from __future__ import annotations

from pathlib import Path

from app.ui.services_view import ServiceForm, SubscribeForm, open_catalog
from app.ui.state import request_log
from store.request_log import CallRecord
from tests.unit.app.conftest import page, table

PUBLISH = "FormSubmitter:publish-Publish"
SUBSCRIBE = "FormSubmitter:subscribe-Subscribe"
REVISE = "FormSubmitter:revise-Save"


def act_as(app, name: str):
    app.text_input(key="portal_identity").set_value(name)
    return app.run()


def widget(app, key: str):
    """The publish / revise form's widget of ``key`` (``pub_name``, ``rev_haiku_user``, ...)."""
    if key.endswith(("_rpm", "_tpm", "_budget")):
        return app.number_input(key=key)
    if key.endswith(("_user", "_system")):
        return app.text_area(key=key)
    return app.radio(key=key) if key.endswith("_approval") else app.text_input(key=key)


def publish(app, **values):
    for key, value in values.items():
        widget(app, key).set_value(value)
    return app.button(key=PUBLISH).click().run()


def red_lines(app) -> list[str]:
    return [m.value for m in app.markdown if m.value.startswith(":red[")]


def haiku(app):
    return publish(
        act_as(app, "team-a"),
        pub_name="haiku",
        pub_description="A haiku about a topic.",
        pub_system="You write haiku.",
        pub_user="Write a haiku about {topic}.",
        pub_rpm=30,
        pub_budget=2.0,
    )


def test_publish_subscribe_once_and_approve(own_data_dir: Path):
    app = haiku(page("services"))
    assert not app.exception and not red_lines(app)
    assert "Service **haiku** published at version 1, owned by team-a." in app.success[0].value
    row = table(app, "latest version").set_index("service").loc["haiku"]
    assert (row["owner"], row["approval"], row["latest version"], row["variables"]) == ("team-a", "manual", 1, "topic")
    assert row["limits"] == "30 rpm, $2"

    app = act_as(app, "team-b")
    app.selectbox(key="browse_service").set_value("haiku").run()
    assert table(app, "variable").loc[0, "variable"] == "topic"
    app.number_input(key="sub_rpm").set_value(10)
    app = app.button(key=SUBSCRIBE).click().run()
    assert not app.exception
    secret = app.code[0].value
    assert secret.startswith("my-") and "will not be shown again" in app.warning[0].value
    assert "Subscribed to **haiku** as team-b: pending." in app.success[0].value
    mine = table(app, "subscription").set_index("service").loc["haiku"]
    assert (mine["status"], mine["subscriber"], mine["limits"]) == ("pending", "team-b", "10 rpm, $2")
    assert mine["key"] == secret[:8] + "…"

    app = app.run()  # any next run: the key is gone, only the status stays
    assert secret not in [c.value for c in app.code] and not app.warning
    assert table(app, "subscription").set_index("service").loc["haiku", "status"] == "pending"

    gateway = open_catalog(own_data_dir)  # what the gateway sees: the secret's key, pending
    key = gateway.keys.authenticate(secret)
    assert key is not None and key.service == "haiku" and key.stored.rpm == 10
    assert gateway.subscriptions(gateway_identity("team-b"))[0]["status"] == "pending"

    app = act_as(app, "team-a")
    sub_id = gateway.subscriptions(gateway_identity("team-b"))[0]["id"]
    app = app.button(key=f"owner_approve_{sub_id}").click().run()
    assert f"{sub_id} of team-b approved." in app.success[0].value
    assert table(app, "subscription").set_index("subscription").loc[sub_id, "status"] == "approved"
    gateway.admit("haiku", gateway.keys.authenticate(secret))  # no refusal: the key calls the service now

    app = act_as(app, "team-b")
    assert table(app, "subscription").set_index("service").loc["haiku", "status"] == "approved"


def gateway_identity(name: str):
    from app.server.gateway.services import Identity

    return Identity(name)


def test_a_bad_publish_shows_errors_under_the_fields_and_publishes_nothing(own_data_dir: Path):
    app = publish(act_as(page("services"), "team-a"), pub_name="bad name", pub_user="Hi {who", pub_rpm=-5)
    assert red_lines(app) == [
        ":red[:material/error: Name use letters, digits and . _ - only, starting with a letter or digit]",
        ":red[:material/error: Requests per minute must be more than 0 (0 = no limit)]",
    ]
    assert "**Name**: use letters" in app.error[0].value

    app = publish(app, pub_name="greeting", pub_rpm=0)  # the template is checked once the fields are valid
    assert [line for line in red_lines(app) if "User message" in line], red_lines(app)
    assert "**User message**: not a valid template" in app.error[0].value
    assert "greeting" not in table(app, "latest version")["service"].tolist()

    app = publish(app, pub_name="summarize", pub_user="Hi {who}")  # a prompt file's name
    assert red_lines(app) == [
        ":red[:material/error: Name 'summarize' is a prompt file in config/prompts/; choose another name]"
    ]
    app = publish(app, pub_name="greeting")
    assert not red_lines(app) and not app.error
    assert "greeting" in table(app, "latest version")["service"].tolist()


def test_a_revision_adds_a_version_with_its_diff(own_data_dir: Path):
    app = haiku(page("services"))
    widget(app, "rev_haiku_user").set_value("Write a haiku about {topic}, in {language}.")
    app = app.button(key=REVISE).click().run()
    assert "Service **haiku**: version 2 created." in app.success[0].value
    app.selectbox(key="browse_service").set_value("haiku").run()
    assert app.selectbox(key="browse_version_haiku").value == 2
    diff = app.code[-1].value
    assert diff.startswith("--- haiku@1\n+++ haiku@2\n")
    assert (
        "\n-- content: Write a haiku about {topic}.\n+- content: Write a haiku about {topic}, in {language}.\n" in diff
    )
    assert set(table(app, "variable")["variable"]) == {"topic", "language"}


def test_subscribers_show_usage_and_cost_from_the_request_log(own_data_dir: Path):
    app = haiku(page("services"))
    gateway = open_catalog(own_data_dir)
    from app.server.gateway.services import SubscriptionLimits

    view, _ = gateway.subscribe("haiku", gateway_identity("team-c"), SubscriptionLimits())
    log = request_log()
    for cost in (0.001, 0.002):  # as the gateway logs a service call under the subscription key
        log.write(CallRecord(endpoint="service", model="m", key_id=view["key"]["id"], input_tokens=10, cost_usd=cost))
    assert log.flush()
    app = app.run()
    row = table(app, "cost (USD)").set_index("subscriber").loc["team-c"]
    assert (row["requests"], row["tokens"], row["cost (USD)"], row["status"]) == (2, 20, 0.003, "pending")
    assert "**haiku**: 1 subscriber(s) · 2 request(s) · 20 tokens · $0.003000" in [m.value for m in app.markdown]

    app = act_as(app, "team-c")
    app = app.button(key="revoke_mine").click().run()
    assert f"{view['id']} revoked" in app.success[0].value
    assert table(app, "subscription").loc[0, "status"] == "revoked"
    gateway.keys.refresh()  # the gateway's key ring reads the page's revocation from keys.sqlite
    revoked = gateway.keys.get(view["key"]["id"])
    assert revoked is not None and not revoked.stored.active


def test_subscribe_form_refuses_limits_above_the_services():
    limits, errors = SubscribeForm(rpm=100).validate({"rpm": 30})
    assert limits is None and [(e.field, e.message) for e in errors] == [
        ("Requests per minute", "must be 30 or less (the service's limit)")
    ]
    assert SubscribeForm(rpm=0, budget_usd=1.0).validate({"rpm": 30})[0].model_dump() == {
        "rpm": None,
        "tpm": None,
        "budget_usd": 1.0,
    }
    spec, _, errors = ServiceForm(name="x", user_message="Hi", params="[1, 2]").validate()
    assert spec is None and errors[0].field == "Parameters"


def test_the_admin_sees_every_subscription_and_decides_any(own_data_dir: Path):
    app = haiku(page("services"))
    app = act_as(app, "team-b")
    assert "Admin" not in [t.label for t in app.tabs]
    app.selectbox(key="browse_service").set_value("haiku").run()
    app = act_as(app.button(key=SUBSCRIBE).click().run(), "admin")
    assert [t.label for t in app.tabs][-1] == "Admin"
    everyone = table(app, "subscription")
    assert everyone[["service", "subscriber", "status"]].values.tolist() == [["haiku", "team-b", "pending"]]
    sub_id = str(everyone.loc[0, "subscription"])
    app.text_input(key=f"admin_reason_{sub_id}").set_value("use the translate service instead")
    app = app.button(key=f"admin_reject_{sub_id}").click().run()
    assert f"{sub_id} of team-b rejected." in app.success[0].value
    row = table(app, "subscription").iloc[0]
    assert (row["status"], row["decided by"], row["reason"]) == (
        "rejected",
        "admin",
        "use the translate service instead",
    )
