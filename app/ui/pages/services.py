"""Services: the portal of published prompt APIs — browse and subscribe, your subscriptions and their
key (shown once), publish and approve as an owner, and every service and subscription as the admin."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from app.server.gateway.services import Identity, ServiceRefusal
from app.ui.services_view import (
    ServiceForm,
    SubscribeForm,
    errors_by_field,
    identity_named,
    known_identities,
    refusal_error,
    service_rows,
    service_totals,
    subscription_rows,
    usage_by_subscription,
    variable_rows,
)
from app.ui.state import registry, request_log, service_catalog
from store.services_db import Approval

st.title("Services")
catalog = service_catalog()
catalog.keys.refresh()  # keys and spend the gateway changed
teams = known_identities(catalog)
who = st.text_input("Act as", value="admin", key="portal_identity", help="Known here: " + ", ".join(teams))
if not who.strip():
    st.info("Name the team you act as (or admin).")
    st.stop()
me: Identity = identity_named(who)
st.caption(
    f"Acting as **{me.name}**. This app is the single-user surface on this machine, so it acts as the identity "
    "named above without asking for its key: a team's name (the name of its consumer keys on the gateway), or "
    "**admin**, who sees and decides everything. The gateway's `/api/services` works on the same files; there a "
    "caller is the name of the key it sends."
)

# one container, so the tabs below keep their place whether or not there is something to report
with st.container():
    for kind, text in st.session_state.pop("portal_notices", []):  # from the action before the last rerun
        getattr(st, kind)(text)
    new_key = st.session_state.pop("portal_new_key", None)
    if new_key is not None:
        st.success(f"Subscribed to **{new_key['service']}** as {new_key['subscriber']}: {new_key['status']}.")
        st.code(new_key["secret"], language=None)
        st.warning(
            "Copy this key now: it will not be shown again. It calls the service once the subscription is approved."
        )

services = catalog.services()
usage = usage_by_subscription(catalog, request_log().usage(0, time.time()))
errors: dict[str, dict[str, list[str]]] = st.session_state.setdefault("portal_errors", {})


def show_error(where: Any, form: str, label: str) -> None:
    """The last submit's message(s) for one field of ``form``, right under it."""
    for message in errors.get(form, {}).get(label, []):
        where.markdown(f":red[:material/error: {label} {message}]")


def notify(kind: str, text: str) -> None:
    """Show ``text`` after the rerun that follows an action."""
    st.session_state.portal_notices = [*st.session_state.get("portal_notices", []), (kind, text)]


def act(action: Any, done: str) -> None:
    """Run a catalog action, report it (or its refusal) and rerun."""
    try:
        action()
    except ServiceRefusal as exc:
        notify("error", exc.message)
    else:
        notify("success", done)
    st.rerun()


def limit_inputs(form: str, key: str, values: tuple[int, int, float]) -> tuple[int, int, float]:
    """Three number inputs for rpm, tpm and budget (0 = no limit), each with its error under it."""
    left, middle, right = st.columns(3)
    rpm = left.number_input("Requests per minute", value=values[0], step=1, key=f"{key}_rpm", help="0 = no limit")
    show_error(left, form, "Requests per minute")
    tpm = middle.number_input("Tokens per minute", value=values[1], step=100, key=f"{key}_tpm", help="0 = no limit")
    show_error(middle, form, "Tokens per minute")
    budget = right.number_input(
        "Budget (USD)", value=values[2], step=0.5, format="%.2f", key=f"{key}_budget", help="0 = no limit"
    )
    show_error(right, form, "Budget (USD)")
    return int(rpm), int(tpm), float(budget)


def service_form(form: str, key: str, start: ServiceForm, models: list[str], fixed_name: bool) -> ServiceForm:
    """The publish / revise fields, each with the last submit's error under it."""
    left, right = st.columns(2)
    name = left.text_input("Name", value=start.name, key=f"{key}_name", disabled=fixed_name, placeholder="summarise")
    show_error(left, form, "Name")
    choices = models if start.model in models else [start.model, *models]
    model = right.selectbox("Model", choices, index=choices.index(start.model), key=f"{key}_model")
    show_error(right, form, "Model")
    description = st.text_input("Description", value=start.description, key=f"{key}_description")
    system = st.text_area("System message", value=start.system_message, key=f"{key}_system", height=68)
    show_error(st, form, "System message")
    user = st.text_area(
        "User message", value=start.user_message, key=f"{key}_user", help="{variable} is an input; {{ a brace"
    )
    show_error(st, form, "User message")
    left, middle, right = st.columns(3)
    task = left.text_input("Task", value=start.task, key=f"{key}_task", help="routing hint for auto, optional")
    params = middle.text_input("Parameters", value=start.params, key=f"{key}_params", placeholder="temperature: 0.2")
    show_error(middle, form, "Parameters")
    approval: Approval = right.radio(
        "Approval", ["manual", "auto"], index=["manual", "auto"].index(start.approval), key=f"{key}_approval"
    )
    st.caption("The most each subscription key gets:")
    rpm, tpm, budget = limit_inputs(form, key, (start.rpm, start.tpm, start.budget_usd))
    return ServiceForm(name, description, model, task, params, system, user, approval, rpm, tpm, budget)


def decision_buttons(sub: dict[str, Any], key: str) -> None:
    """Approve / reject (with a reason) one subscription, and revoke it."""
    st.markdown(f"**{sub['subscriber']}** → {sub['service']} · `{sub['id']}` · {sub['status']}")
    left, approve, reject, revoke = st.columns([3, 1, 1, 1])
    reason = left.text_input(
        "Reason", key=f"{key}_reason_{sub['id']}", label_visibility="collapsed", placeholder="Reason"
    )
    name, sub_id = sub["service"], sub["id"]
    if sub["status"] in ("pending", "rejected") and approve.button("Approve", key=f"{key}_approve_{sub_id}"):
        act(
            lambda: catalog.decide(name, sub_id, me, True, reason or None), f"{sub_id} of {sub['subscriber']} approved."
        )
    if sub["status"] == "pending" and reject.button("Reject", key=f"{key}_reject_{sub_id}"):
        act(
            lambda: catalog.decide(name, sub_id, me, False, reason or None),
            f"{sub_id} of {sub['subscriber']} rejected.",
        )
    if sub["status"] != "revoked" and revoke.button("Revoke", key=f"{key}_revoke_{sub_id}"):
        act(
            lambda: catalog.revoke(name, sub_id, me),
            f"{sub_id} of {sub['subscriber']} revoked; its key no longer works.",
        )


tab_names = ["Browse", "My subscriptions", "Owner"] + (["Admin"] if me.admin else [])
browse_tab, mine_tab, owner_tab, *admin_tab = st.tabs(tab_names)

with browse_tab:
    st.dataframe(service_rows(services), hide_index=True, key="services")
    if services:
        name = st.selectbox("Service", [s["name"] for s in services], key="browse_service")
        latest = catalog.describe(name)
        numbers = [v["version"] for v in latest["versions"]]
        version = st.selectbox("Version", numbers[::-1], key=f"browse_version_{name}")
        shown = catalog.describe(name, version)
        st.markdown(
            f"{shown['description'] or '_(no description)_'}\n\n"
            f"Owner **{shown['owner']}** · model `{shown['model']}` · approval {shown['approval']} · "
            f"version {version} of {latest['latest_version']}"
        )
        st.dataframe(variable_rows(shown), hide_index=True, key="variables")
        st.code("\n\n".join(f"{m['role']}: {m['content']}" for m in shown["messages"]), language=None)
        if len(numbers) > 1:
            older = [n for n in numbers if n != version]
            base = st.selectbox("Compare with version", older[::-1], key=f"browse_compare_{name}")
            st.code(catalog.diff(name, base, version)["diff"] or "(no difference)", language="diff")
        with st.form("subscribe"):
            st.markdown(f"**Subscribe to {name}** as {me.name}. Limits up to the service's (0 = all it allows):")
            asked = SubscribeForm(*limit_inputs("subscribe", "sub", (0, 0, 0.0)))
            subscribed = st.form_submit_button("Subscribe", type="primary")
        if subscribed:
            limits, problems = asked.validate(latest["limits"])
            errors["subscribe"] = errors_by_field(problems)
            if limits is not None:
                try:
                    view, secret = catalog.subscribe(name, me, limits)
                except ServiceRefusal as exc:
                    notify("error", exc.message)
                else:
                    st.session_state.portal_new_key = {**view, "secret": secret}
            st.rerun()

with mine_tab:
    mine = [s for s in catalog.subscriptions(me) if s["subscriber"] == me.name]
    if not mine:
        st.info(f"{me.name} has no subscriptions: pick a service under Browse and subscribe.")
    st.dataframe(subscription_rows(mine, usage), hide_index=True, key="my_subscriptions")
    open_ones = [s for s in mine if s["status"] != "revoked"]
    if open_ones:
        chosen = st.selectbox("Subscription", [s["id"] for s in open_ones], key="revoke_choice")
        sub = next(s for s in open_ones if s["id"] == chosen)
        if st.button("Revoke", key="revoke_mine"):
            act(lambda: catalog.revoke(sub["service"], sub["id"], me), f"{sub['id']} revoked; its key no longer works.")

with owner_tab:
    models = ["auto"] + [e.spec.name for e in registry().entries() if "text" in e.spec.modalities.output]
    owned = [s for s in services if s["owner"] == me.name and s["origin"] == "published"]
    st.subheader("Publish a service")
    if errors.get("publish"):
        st.error(
            "The service was not published:\n\n"
            + "\n".join(f"- **{label}**: {m}" for label, messages in errors["publish"].items() for m in messages)
        )
    with st.form("publish"):
        publish_form = service_form("publish", "pub", ServiceForm(), models, fixed_name=False)
        published = st.form_submit_button("Publish", type="primary")
    if published:
        spec, limits, problems = publish_form.validate()
        if spec is not None and limits is not None:
            try:
                catalog.publish(publish_form.name.strip(), spec, publish_form.approval, limits, me)
            except ServiceRefusal as exc:
                problems = [refusal_error(exc)]
            else:
                notify(
                    "success", f"Service **{publish_form.name.strip()}** published at version 1, owned by {me.name}."
                )
        errors["publish"] = errors_by_field(problems)
        st.rerun()
    if owned:
        st.subheader("Revise a service")
        name = st.selectbox("Service to revise", [s["name"] for s in owned], key="revise_service")
        with st.form("revise"):
            revise_form = service_form("revise", f"rev_{name}", ServiceForm.of(catalog.describe(name)), models, True)
            revised = st.form_submit_button("Save", type="primary")
        if revised:
            spec, limits, problems = revise_form.validate()
            if spec is not None and limits is not None:
                try:
                    answer = catalog.revise(name, spec, revise_form.approval, limits, me)
                except ServiceRefusal as exc:
                    problems = [refusal_error(exc)]
                else:
                    what = (
                        f"version {answer['version']} created"
                        if answer["changed"]
                        else "settings saved, content unchanged"
                    )
                    notify("success", f"Service **{name}**: {what}.")
                    if answer["diff"]:
                        notify("code", answer["diff"])
            errors["revise"] = errors_by_field(problems)
            st.rerun()

        subscribers = [s for s in catalog.subscriptions(me) if s["owner"] == me.name]
        st.subheader("Pending subscriptions")
        pending = [s for s in subscribers if s["status"] == "pending"]
        if not pending:
            st.caption("None waiting.")
        for sub in pending:
            decision_buttons(sub, "owner")
        st.subheader("Subscribers")
        for total in service_totals([s["name"] for s in owned], subscribers, usage):
            st.markdown(
                f"**{total['service']}**: {total['subscribers']} subscriber(s) · {total['requests']} request(s) · "
                f"{total['tokens']} tokens · ${total['cost_usd']:.6f}"
            )
        st.dataframe(subscription_rows(subscribers, usage), hide_index=True, key="subscribers")
    else:
        st.caption(f"{me.name} owns no published service yet.")

for tab in admin_tab:
    with tab:
        st.subheader("Every service")
        st.dataframe(service_rows(services), hide_index=True, key="admin_services")
        st.subheader("Every subscription")
        everything = catalog.subscriptions(me)
        st.dataframe(subscription_rows(everything, usage), hide_index=True, key="all_subscriptions")
        open_ones = [s for s in everything if s["status"] != "revoked"]
        if open_ones:
            chosen = st.selectbox("Subscription", [s["id"] for s in open_ones], key="admin_choice")
            decision_buttons(next(s for s in open_ones if s["id"] == chosen), "admin")
