"""Models: the catalog and the runtime registry with deployment health; register a model, take a
model or a deployment offline, and try one model with a test prompt."""

from __future__ import annotations

import time

import streamlit as st

from app.ui.models_view import ModelForm, deployment_rows, model_rows, quick_test
from app.ui.state import health, registry, routing_config
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

with register_tab:
    tasks = list(routing_config().task.get("tasks", {})) or DEFAULT_TASKS
    with st.form("register", clear_on_submit=False):
        left, right = st.columns(2)
        name = left.text_input(
            "Name",
            key="reg_name",
            placeholder="my-vllm",
            help="Registering an existing name adds deployments to it and updates its spec",
        )
        provider = right.selectbox("Provider", PROVIDERS, key="reg_provider")
        description = st.text_input("Description", key="reg_description")
        left, right = st.columns(2)
        base_url = left.text_input("Base URL", key="reg_base_url", placeholder="http://127.0.0.1:8001/v1")
        model_id = right.text_input("Provider model id", key="reg_model_id", placeholder="Qwen/Qwen2.5-7B-Instruct")
        left, right = st.columns(2)
        api_key_env = left.text_input(
            "API key variable",
            key="reg_api_key_env",
            placeholder="OPENAI_API_KEY",
            help="The name of the environment variable holding the key, never the key",
        )
        deployment = right.text_input("Deployment name", value="default", key="reg_deployment")
        chosen_tasks = st.multiselect("Tasks", tasks, key="reg_tasks")
        left, right = st.columns(2)
        inputs = left.multiselect("Input modalities", ["text", "image"], default=["text"], key="reg_input")
        outputs = right.multiselect("Output modalities", ["text", "image"], default=["text"], key="reg_output")
        left, right = st.columns(2)
        input_price = left.number_input(
            "Input price (USD / 1K tokens)", min_value=0.0, value=0.0, step=0.0001, format="%.5f", key="reg_in_price"
        )
        output_price = right.number_input(
            "Output price (USD / 1K tokens)", min_value=0.0, value=0.0, step=0.0001, format="%.5f", key="reg_out_price"
        )
        left, right = st.columns(2)
        context_window = left.number_input("Context window", min_value=1, value=4096, step=1024, key="reg_ctx")
        quality = right.number_input("Quality (0-100)", min_value=0, max_value=100, value=10, key="reg_quality")
        left, right = st.columns(2)
        package = left.text_input("Weights package (local providers)", key="reg_package")
        weights_file = right.text_input("Weights file (local providers)", key="reg_file")
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
        if errors:
            st.error("The model was not registered:\n\n" + "\n".join(f"- **{e.field}**: {e.message}" for e in errors))
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
            try:
                with st.spinner(f"Asking {name}…"):
                    outcome = quick_test(spec, prompt)
            except ModelyardError as exc:
                st.error(f"{name} failed: {exc}")
            else:
                st.markdown(outcome.answer or "_(empty answer)_")
                cols = st.columns(4)
                cols[0].metric("Latency", f"{outcome.latency_s:.2f} s")
                cols[1].metric("Input tokens", outcome.input_tokens)
                cols[2].metric("Output tokens", outcome.output_tokens)
                cols[3].metric("Cost", f"${outcome.cost_usd:.6f}")
