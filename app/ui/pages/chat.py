"""Chat: any catalog model or the router (``auto``), behind moderation, optionally grounded in
a knowledge base; streamed, with route, cost, speed, sources and provenance under each answer."""

from __future__ import annotations

import uuid

import streamlit as st

from app.ui.chat_session import TurnStats, as_messages, stream_reply
from app.ui.state import assistant, registry
from models.factory import build_chat_model

AUTO = "auto"
TINY_MODEL_NOTE = (
    "The bundled model is **SmolLM2-135M**: tiny and fast, fluent but often wrong on facts. "
    "For better answers set `OPENAI_API_KEY` or `HF_TOKEN`, or add a model to `config/models.yaml`.")

st.title("Modelyard chat")
entries = registry().available()
if not entries:
    st.warning("No model is available. Run `make run` to install the local model, or set OPENAI_API_KEY.")
    st.stop()

with st.sidebar:
    choice = st.selectbox("Model", [AUTO] + [e.spec.name for e in entries], key="model",
                          help="auto: the router picks a model per message (task, cost, health)")
    spec = next((e.spec for e in entries if e.spec.name == choice), None)
    st.caption(spec.description if spec else "The router chooses per message; the reason shows under each answer.")
    params: dict = {}
    if spec is not None and "temperature" in spec.params:
        p = spec.params["temperature"]
        params["temperature"] = st.slider("Temperature", float(p.min or 0), float(p.max or 2),
                                          float(p.default if p.default is not None else 0.7), 0.05)
    limit = spec.params.get("max_tokens") if spec is not None else None
    params["max_tokens"] = st.number_input("Max tokens", 1, int(limit.max or 4096) if limit else 4096,
                                           int(limit.default or 256) if limit else 256, step=32)
    use_kb = st.toggle("Use knowledge base", key="use_kb", help="Answer from a collection, with citations")
    collection = st.selectbox("Collection", ["shop"], key="collection", disabled=not use_kb)
    if st.button("New chat", use_container_width=True):
        st.session_state.history = []
        st.session_state.conversation_id = uuid.uuid4().hex
    if spec is None or spec.is_local:
        st.info(TINY_MODEL_NOTE)

history: list[dict] = st.session_state.setdefault("history", [])
conversation_id = st.session_state.setdefault("conversation_id", uuid.uuid4().hex)


def show_details(item: dict) -> None:
    """The caption and the collapsible details under an answer."""
    if item.get("label"):
        st.caption(f"🤖 {item['label']}")
    st.caption(item["caption"])
    with st.expander("Details"):
        if item.get("route"):
            st.markdown(f"**Route:** {item['route']}")
        for flag in item.get("flags", []):
            st.markdown(f"**Moderation:** {flag}")
        for source in item.get("sources", []):
            st.markdown(f"**[{source['n']}] {source.get('file', '')} — {source.get('heading') or ''}** "
                        f"(score {source.get('score', 0):.2f})  \n{source.get('snippet', '')}")


for item in history:
    with st.chat_message(item["role"]):
        st.markdown(item["content"])
        if item["role"] == "assistant":
            show_details(item)

if prompt := st.chat_input("Ask anything"):
    earlier = as_messages(history)
    history.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        stats = TurnStats(model=choice)
        model = None if spec is None else build_chat_model(spec, params=params)
        if use_kb:
            payload = {"question": prompt, "history": earlier}
        else:
            payload = {"messages": as_messages(history), "params": params} if spec is None else as_messages(history)
        try:
            runnable = assistant(model, collection if use_kb else None)
            text = st.write_stream(stream_reply(runnable, payload, stats,
                                                {"configurable": {"conversation_id": conversation_id}}))
        except Exception as exc:  # shown to the user; the conversation is kept
            st.error(f"The model failed: {exc}")
            history.pop()
        else:
            item = {"role": "assistant", "content": text, "caption": stats.caption(), "route": stats.route_reason,
                    "label": stats.label, "flags": stats.flags, "sources": stats.sources}
            show_details(item)
            history.append(item)
