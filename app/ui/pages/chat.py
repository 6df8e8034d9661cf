"""Chat: talk to any available catalog model, streamed, with cost and speed under each answer."""

from __future__ import annotations

import streamlit as st

from app.ui.chat_session import TurnStats, as_messages, stream_reply
from app.ui.state import registry
from models.factory import build_chat_model

TINY_MODEL_NOTE = (
    "The bundled model is **SmolLM2-135M**: tiny and fast, fluent but often wrong on facts. "
    "For better answers set `OPENAI_API_KEY` or `HF_TOKEN`, or add a model to `config/models.yaml`.")

st.title("Modelyard chat")
entries = registry().available()
if not entries:
    st.warning("No model is available. Run `make run` to install the local model, or set OPENAI_API_KEY.")
    st.stop()

with st.sidebar:
    names = [e.spec.name for e in entries]
    choice = st.selectbox("Model", names, key="model")
    spec = next(e.spec for e in entries if e.spec.name == choice)
    st.caption(spec.description)
    params = {}
    if "temperature" in spec.params:
        p = spec.params["temperature"]
        params["temperature"] = st.slider("Temperature", float(p.min or 0), float(p.max or 2),
                                          float(p.default if p.default is not None else 0.7), 0.05)
    if "max_tokens" in spec.params:
        p = spec.params["max_tokens"]
        params["max_tokens"] = st.number_input("Max tokens", int(p.min or 1), int(p.max or 4096),
                                               int(p.default or 256), step=32)
    if st.button("New chat", use_container_width=True):
        st.session_state.history = []
    if spec.is_local:
        st.info(TINY_MODEL_NOTE)

history: list[dict] = st.session_state.setdefault("history", [])
for item in history:
    with st.chat_message(item["role"]):
        st.markdown(item["content"])
        if item.get("caption"):
            st.caption(item["caption"])

if prompt := st.chat_input("Ask anything"):
    history.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        stats = TurnStats(model=spec.name)
        try:
            model = build_chat_model(spec, params=params)
            text = st.write_stream(stream_reply(model, as_messages(history), stats))
        except Exception as exc:  # shown to the user, the conversation is kept
            st.error(f"The model failed: {exc}")
            history.pop()
        else:
            st.caption(stats.caption())
            history.append({"role": "assistant", "content": text, "caption": stats.caption()})
