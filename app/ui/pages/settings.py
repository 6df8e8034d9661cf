"""Settings: which keys are set (names only — never a value), the default routing policy and the
moderation policies, and where configuration and data live."""

from __future__ import annotations

import streamlit as st

from app.ui.settings_view import key_rows, moderation_rows, routing_rows
from app.ui.state import registry, routing_config
from chains.moderation.policy import config_path, load_config
from core.settings import config_dir, data_dir

st.title("Settings")

st.header("Keys")
rows = key_rows(registry().entries())
st.dataframe([{**row, "set": "set" if row["set"] else "not set"} for row in rows], hide_index=True, key="keys")
if not any(row["set"] for row in rows if row["variable"] in ("OPENAI_API_KEY", "HF_TOKEN")):
    st.info(
        "No hosted-model key is set: only local models answer. Set OPENAI_API_KEY or HF_TOKEN in the "
        "environment and restart the app, or add a model on the Models page."
    )
st.caption("Values are read from the environment and never shown. Restart the app after changing them.")

st.header("Routing")
st.caption(f"From `{config_dir() / 'routing.yaml'}` (restart the app to apply edits).")
st.dataframe(routing_rows(routing_config()), hide_index=True, key="routing")

st.header("Moderation")
st.caption(f"From `{config_path()}`. The chat uses the `default` policy.")
st.dataframe(moderation_rows(load_config()), hide_index=True, key="moderation")

st.header("Folders")
st.markdown(
    f"- **Configuration:** `{config_dir()}` (`MODELYARD_CONFIG_DIR`)\n"
    f"- **Data** (registry, request log, knowledge base, uploads): `{data_dir()}` (`MODELYARD_DATA_DIR`)"
)
