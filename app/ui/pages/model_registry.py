"""Models: the catalog and the runtime registry with deployment health; register a model, take a
model or a deployment offline, and try one model with a test prompt."""

from __future__ import annotations

import time

import streamlit as st

from app.ui.models_view import ModelForm, deployment_rows, errors_by_field, model_rows, quick_test, test_record
from app.ui.state import health, registry, request_log, routing_config
from core.errors import ModelyardError
from models.spec import PROVIDERS

WHOLE_MODEL = "whole model"
DEFAULT_TASKS = [
    "chit_chat",
    "code",
    "math",
    "translation",
    "summarization",
    "knowledge_qa",
    "customer_service",
    "image_generation",
]

st.title("Models")
for kind, text in st.session_state.pop("models_notices", []):  # from the action before the last rerun
    getattr(st, kind)(text)
entries = registry().entries()
snapshot, now = health().snapshot(), time.monotonic()
available = [e for e in entries if e.availability.available]
st.caption(
    f"{len(entries)} models in the catalog and registry, {len(available)} available. Health comes from the "
    "router's calls in this app; a deployment cools down after repeated failures."
)
if not any(not e.spec.is_local for e in available):
    st.info(
        "No hosted models: set `OPENAI_API_KEY` or `HF_TOKEN` (see Settings), or register an "
        "OpenAI-compatible endpoint below."
    )

st.dataframe(
    model_rows(entries, snapshot, now),
    hide_index=True,
    key="catalog",
    column_config={
        "available": st.column_config.CheckboxColumn("available"),
        "$ / 1K in": st.column_config.NumberColumn(format="%.5f"),
        "$ / 1K out": st.column_config.NumberColumn(format="%.5f"),
    },
)
with st.expander("Deployments"):
    st.dataframe(deployment_rows(entries, snapshot, now), hide_index=True)

register_tab, offline_tab, test_tab = st.tabs(["Register a model", "Take offline", "Test prompt"])

field_errors: dict[str, list[str]] = st.session_state.get("reg_errors", {})  # from the last Register


def show_error(where, label: str) -> None:
    """The last submit's message(s) for one field, right under it."""
    for message in field_errors.get(label, []):
        where.markdown(f":red[:material/error: {label} {message}]")


with register_tab:
    tasks = list(routing_config().task.get("tasks", {})) or DEFAULT_TASKS
    if field_errors:
        st.error(
            "The model was not registered:\n\n"
            + "\n".join(f"- **{label}**: {message}" for label, messages in field_errors.items() for message in messages)
        )
    with st.form("register", clear_on_submit=False):
        left, right = st.columns(2)
        name = left.text_input(
            "Name",
            key="reg_name",
            placeholder="my-vllm",
            help="Registering an existing name adds deployments to it and updates its spec",
        )
        show_error(left, "Name")
        provider = right.selectbox("Provider", PROVIDERS, key="reg_provider")
        show_error(right, "Provider")
        description = st.text_input("Description", key="reg_description")
        left, right = st.columns(2)
        base_url = left.text_input("Base URL", key="reg_base_url", placeholder="http://127.0.0.1:8001/v1")
        show_error(left, "Base URL")
        model_id = right.text_input("Provider model id", key="reg_model_id", placeholder="Qwen/Qwen2.5-7B-Instruct")
        show_error(right, "Provider model id")
        left, right = st.columns(2)
        api_key_env = left.text_input(
            "API key variable",
            key="reg_api_key_env",
            placeholder="OPENAI_API_KEY",
            help="The name of the environment variable holding the key, never the key",
        )
        show_error(left, "API key variable")
        deployment = right.text_input("Deployment name", value="default", key="reg_deployment")
        show_error(right, "Deployment name")
        chosen_tasks = st.multiselect("Tasks", tasks, key="reg_tasks")
        left, right = st.columns(2)
        inputs = left.multiselect("Input modalities", ["text", "image"], default=["text"], key="reg_input")
        show_error(left, "Input modalities")
        outputs = right.multiselect("Output modalities", ["text", "image"], default=["text"], key="reg_output")
        show_error(right, "Output modalities")
        # No min/max on the numbers: the browser would silently refuse the value; the spec's own rules
        # answer instead, with a message under the field.
        left, right = st.columns(2)
        input_price = left.number_input(
            "Input price (USD / 1K tokens)", value=0.0, step=0.0001, format="%.5f", key="reg_in_price"
        )
        show_error(left, "Input price (USD / 1K tokens)")
        output_price = right.number_input(
            "Output price (USD / 1K tokens)", value=0.0, step=0.0001, format="%.5f", key="reg_out_price"
        )
        show_error(right, "Output price (USD / 1K tokens)")
        left, right = st.columns(2)
        context_window = left.number_input("Context window", value=4096, step=1024, key="reg_ctx")
        show_error(left, "Context window")
        quality = right.number_input("Quality (0-100)", value=10, key="reg_quality")
        show_error(right, "Quality")
        left, right = st.columns(2)
        package = left.text_input("Weights package (local providers)", key="reg_package")
        show_error(left, "Weights package")
        weights_file = right.text_input("Weights file (local providers)", key="reg_file")
        show_error(right, "Weights file")
        form = ModelForm(
            name=name,
            provider=provider,
            description=description,
            base_url=base_url,
            model_id=model_id,
            api_key_env=api_key_env,
            deployment=deployment,
            tasks=chosen_tasks,
            input_modalities=inputs,
            output_modalities=outputs,
            input_per_1k=input_price,
            output_per_1k=output_price,
            context_window=int(context_window),
            quality=int(quality),
            package=package,
            weights_file=weights_file,
        )
        submitted = st.form_submit_button("Register", type="primary")
    if submitted:
        spec, errors = form.validate()
        st.session_state.reg_errors = errors_by_field(errors)  # replaces the last submit's (stale) errors
        if errors or spec is None:
            st.rerun()  # shown under each field
        else:
            try:
                result = registry().register(spec, owner="ui")
            except ModelyardError as exc:
                st.error(f"The model was not registered: {exc}")
            else:
                what = (
                    "registered"
                    if result.previous_fingerprint is None
                    else "updated"
                    if result.changed
                    else "already registered, unchanged"
                )
                notices = [("success", f"Model **{result.name}** {what} (fingerprint {result.fingerprint[:12]}).")]
                notices += [("warning", f"Breaking change: {change}") for change in result.breaking]
                state = registry().get(result.name).availability
                if not state.available:
                    notices.append(("warning", f"{result.name} is not available yet: {state.reason}"))
                st.session_state.models_notices = notices
                st.rerun()

with offline_tab:
    if not entries:
        st.info("The catalog is empty: add models to `config/models.yaml` or register one.")
    else:
        names = [e.spec.name for e in entries]
        name = st.selectbox("Model", names, key="offline_model")
        entry = next(e for e in entries if e.spec.name == name)
        target = st.selectbox(
            "Deployment", [WHOLE_MODEL] + [d.name for d in entry.spec.deployments], key="offline_deployment"
        )
        st.caption(f"Online deployments: {', '.join(entry.online_deployments) or 'none'}")
        left, right = st.columns(2)
        if left.button("Take offline", key="take_offline"):
            registry().offline(name, None if target == WHOLE_MODEL else target)
            where = name if target == WHOLE_MODEL else f"{name}/{target}"
            st.session_state.models_notices = [("success", f"{where} is offline; the router skips it.")]
            st.rerun()
        if right.button("Bring back online", key="bring_online"):
            registry().online(name)
            st.session_state.models_notices = [("success", f"{name} and all its deployments are online again.")]
            st.rerun()

with test_tab:
    if not available:
        st.info("No model is available: run `make run` to install the local model, or set a provider key.")
    else:
        name = st.selectbox("Model", [e.spec.name for e in available], key="test_model")
        prompt = st.text_input("Prompt", value="Say hello in five words.", key="test_prompt")
        if st.button("Run", key="run_test", type="primary") and prompt.strip():
            spec = next(e.spec for e in available if e.spec.name == name)
            started = time.perf_counter()
            try:
                with st.spinner(f"Asking {name}…"):
                    outcome = quick_test(spec, prompt)
            except ModelyardError as exc:
                request_log().write(test_record(spec, None, time.perf_counter() - started, exc))
                st.error(f"{name} failed: {exc}")
            else:
                request_log().write(test_record(spec, outcome))
                st.markdown(outcome.answer or "_(empty answer)_")
                cols = st.columns(4)
                cols[0].metric("Latency", f"{outcome.latency_s:.2f} s")
                cols[1].metric("Input tokens", outcome.input_tokens)
                cols[2].metric("Output tokens", outcome.output_tokens)
                cols[3].metric("Cost", f"${outcome.cost_usd:.6f}")
