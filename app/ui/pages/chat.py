"""Chat: any catalog model or the router (``auto``), behind moderation, optionally grounded in
a knowledge base; streamed, with route, cost, speed, sources and provenance under each answer,
thumbs up/down for A/B experiments, image answers and image uploads for vision models.

The title, the input and a "loading the local model…" state paint before anything heavy is
imported; :mod:`app.ui.warmup` loads the rest in the background."""

from __future__ import annotations

import time
import uuid
from typing import Any

import streamlit as st

from app.ui import IMAGE_TYPES
from app.ui.warmup import warmup

st.title("Modelyard chat")
submitted = st.chat_input("Ask anything", accept_file=True, file_type=list(IMAGE_TYPES))


@st.fragment(run_every=1.0)
def loading_state() -> None:
    """Shown until the background warm-up is done; then one rerun removes it (and its polling)."""
    progress = warmup()
    if progress.done:
        if not st.session_state.get("busy"):
            st.rerun()
        return
    st.info(
        f":material/hourglass_top: Loading the local model… ({progress.step}, {progress.elapsed_s:.0f} s). "
        "You can type your question now; it is answered as soon as the model is ready.",
    )


if not warmup().done:
    loading_state()
echo = st.empty()  # the question just sent, shown at once; replaced by the conversation below
if submitted and submitted.text.strip():
    with echo.container(), st.chat_message("user"):
        st.markdown(submitted.text)

# Everything below needs the heavy imports; they come after the first paint on purpose.
from langchain_core.runnables import RunnableConfig  # noqa: E402

from app.ui import chat_rules  # noqa: E402
from app.ui.chat_session import Stage, TurnStats, as_messages, data_url, stream_reply  # noqa: E402
from app.ui.state import assistant, experiments, registry, request_log, router, support_bot  # noqa: E402
from chains.rag import answer_style_for  # noqa: E402
from knowledge import SAMPLE_COLLECTION, list_collections  # noqa: E402
from models.factory import build_chat_model  # noqa: E402

AUTO = "auto"
NO_EXPERIMENT = "none"
TINY_MODEL_NOTE = (
    "The bundled model is **SmolLM2-135M**: tiny and fast, fluent but often wrong on facts. With the knowledge "
    "base on it answers by quoting the sources. For written answers set `OPENAI_API_KEY` or `HF_TOKEN`, or add "
    "a model on the **Models** page."
)
STAGES = {"retrieving": "Retrieving sources…", "generating": "Generating…", "loading": "Loading the local model…"}

entries = registry().available()
if not entries:
    st.warning(
        "No model is available. Run `make run` to install the local model, set `OPENAI_API_KEY`, "
        "or add a model on the **Models** page."
    )
    st.stop()
image_models = [e.spec.name for e in entries if "image" in e.spec.modalities.output]
vision_models = [e.spec.name for e in entries if "image" in e.spec.modalities.input]

with st.sidebar:
    choice = st.selectbox(
        "Model",
        [AUTO] + [e.spec.name for e in entries],
        key="model",
        help="auto: the router picks a model per message (task, modality, cost, health)",
    )
    spec = next((e.spec for e in entries if e.spec.name == choice), None)
    st.caption(spec.description if spec else "The router chooses per message; the reason shows under each answer.")
    params: dict = {}
    if spec is not None and "temperature" in spec.params:
        p = spec.params["temperature"]
        params["temperature"] = st.slider(
            "Temperature",
            float(p.min or 0),
            float(p.max or 2),
            float(p.default if p.default is not None else 0.7),
            0.05,
        )
    limit = spec.params.get("max_tokens") if spec is not None else None
    if spec is None or limit is not None:
        params["max_tokens"] = st.number_input(
            "Max tokens",
            1,
            int(limit.max or 4096) if limit else 4096,
            int(limit.default or 256) if limit else 256,
            step=32,
        )
    warmup().wait_for_chroma()  # its first Chroma client, made by the warm-up thread (no race)
    collections = list_collections()
    use_kb = st.toggle(
        "Use knowledge base",
        key="use_kb",
        disabled=not collections,
        help="Answer from a collection, with citations"
        if collections
        else "No collection yet: upload files on the Knowledge page",
    )
    collection = st.selectbox(
        "Collection",
        collections or ["–"],
        key="collection",
        disabled=not use_kb,
        index=collections.index(SAMPLE_COLLECTION) if SAMPLE_COLLECTION in collections else 0,
    )
    shop_tools = st.toggle(
        "Shop tools",
        key="shop_tools",
        disabled=not use_kb or collection != SAMPLE_COLLECTION,
        help="The customer-service bot: looks up Yardstore orders (e.g. 1042), starts returns, hands off to a person",
    )
    answer_style = answer_style_for(spec, [e.spec for e in entries])
    if use_kb:
        st.caption(
            "Answers quote the best source sentences (extractive mode: the available models are too small to "
            "write grounded answers)."
            if answer_style == "extractive"
            else "The model writes the answer from the sources and cites them; claims no source holds are flagged."
        )
    experiment = NO_EXPERIMENT
    if spec is None and experiments().configs:
        names = list(experiments().configs)
        experiment = st.selectbox(
            "A/B experiment",
            [NO_EXPERIMENT, *names],
            key="experiment",
            format_func=lambda n: n if n == NO_EXPERIMENT else f"{n} ({experiments().status(n)})",
            help="Route through an experiment's arms; your thumbs up/down count for its arm. "
            "Start or pause experiments on the Dashboard.",
        )
    make_image = st.toggle(
        "Generate an image",
        key="image_mode",
        disabled=not image_models,
        help=f"Image models: {', '.join(image_models)}"
        if image_models
        else "No image model available: set OPENAI_API_KEY (dall-e-3) or register one with "
        "output modality image on the Models page",
    )
    if st.button("New chat", key="new_chat", width="stretch"):
        st.session_state.history = []
        st.session_state.conversation_id = uuid.uuid4().hex
        st.session_state.pop("pending", None)
    if spec is None or spec.is_local:
        st.info(TINY_MODEL_NOTE)
    if not vision_models:
        st.caption("Images can be attached once a vision model is available (e.g. gpt-4o-mini with OPENAI_API_KEY).")

history: list[dict] = st.session_state.setdefault("history", [])
conversation_id = st.session_state.setdefault("conversation_id", uuid.uuid4().hex)
user_id = st.session_state.setdefault("user_id", uuid.uuid4().hex)  # sticky A/B assignment key, one per session


def record_feedback(item: dict) -> None:
    """Thumbs up/down on an answer: into the experiment's statistics when it was routed through one."""
    value = st.session_state.get(f"thumbs_{item['id']}")
    item["feedback"] = value
    if value is None:
        item["feedback_note"] = ""
    elif item.get("request_id") and item.get("experiment"):
        counted = experiments().feedback(item["request_id"], thumbs_up=value == 1)
        item["feedback_note"] = (
            f"Counted for experiment {item['experiment']}, arm {item['arm']}."
            if counted
            else "Not counted: the experiment has no record of this answer."
        )
    else:
        item["feedback_note"] = "Thanks! This answer was not part of an A/B experiment, so no statistics changed."


def show_sources(item: dict) -> None:
    """The sources under a grounded answer: cited ones first and in bold, and the citation check."""
    cited = set(item.get("citations", []))
    for sentence in item.get("unsupported", []):
        st.warning(f"Not found in any source: “{sentence}”", icon=":material/report:")
    if not item.get("sources"):
        return
    lines = []
    for source in sorted(item["sources"], key=lambda s: (s["n"] not in cited, s["n"])):
        label = f"[{source['n']}] {source.get('file', '')} — {source.get('heading') or ''} · {source['score']:.2f}"
        lines.append(f"**{label}**" if source["n"] in cited else label)
    st.caption("Sources: " + "  \n".join(lines))


def show_details(item: dict) -> None:
    """The caption, sources, the collapsible details and the thumbs under an answer."""
    if item.get("label"):
        st.caption(f":material/smart_toy: {item['label']}")
    if item.get("stopped"):
        st.caption(f":material/stop_circle: Stopped by you after {item.get('latency_s', 0):.1f} s.")
    st.caption(item["caption"])
    show_sources(item)
    with st.expander("Details"):
        rows = [
            ("Route", item.get("route") or item.get("route_note") or "named model (no routing)"),
            ("Model · deployment", f"{item.get('model', '')} · {item.get('deployment', '')}"),
            ("Tokens", f"{item.get('input_tokens', 0)} in → {item.get('output_tokens', 0)} out"),
            ("Latency", f"{item.get('latency_s', 0):.2f} s"),
            ("Time to first token", f"{item['ttft_s'] * 1000:.0f} ms" if item.get("ttft_s") is not None else "–"),
            ("Cost", f"${item.get('cost_usd', 0):.6f}"),
        ]
        if item.get("experiment"):
            rows.append(("A/B", f"experiment {item['experiment']}, arm {item['arm']}"))
        rows.append(("Provenance", item.get("label") or "–"))
        st.markdown("\n".join(f"- **{name}:** {value}" for name, value in rows))
        for flag in item.get("flags", []):
            st.markdown(f"**Moderation:** {flag}")
        for call in item.get("tool_calls", []):
            arguments = ", ".join(f"{name}={value!r}" for name, value in call["args"].items())
            st.markdown(f"**Tool call:** `{call['name']}({arguments})`  \n{call['result']}")
        for source in item.get("sources", []):
            st.markdown(
                f"**[{source['n']}] {source.get('file', '')} — {source.get('heading') or ''}** "
                f"(score {source.get('score', 0):.2f})  \n{source.get('snippet', '')}"
            )
    st.feedback("thumbs", key=f"thumbs_{item['id']}", on_change=record_feedback, args=(item,))
    if item.get("feedback_note"):
        st.caption(item["feedback_note"])


def masked_badge(masked: list[dict]) -> str:
    kinds = ", ".join(f"{m['type']} → {m['placeholder']}" for m in masked)
    return f":material/shield_lock: PII masked before sending: {kinds}"


def show_message(item: dict):
    """One history item; a user message returns a slot for its masked-PII badge."""
    if item["role"] == "system":
        with st.chat_message("system", avatar=":material/info:"):
            st.markdown(item["content"])
            st.caption(item["note"])
        return None
    with st.chat_message(item["role"]):
        if item["content"]:
            st.markdown(item["content"])
        for image in item.get("images", []):
            st.image(image, width=320)
        if item["role"] == "assistant":
            show_details(item)
            return None
        badge = st.empty()
        if item.get("masked"):
            badge.caption(masked_badge(item["masked"]))
        return badge


def answer_item(stats: TurnStats, text: str, *, stopped: bool = False) -> dict:
    """The history entry of an answer (a refusal becomes a system message)."""
    if stats.refusal is not None:
        note = chat_rules.describe_refusal(stats.refusal)
        return {"role": "system", "content": text, "note": note, "refusal": stats.refusal}
    extractive = stats.model == "extractive"
    return {
        "id": uuid.uuid4().hex,
        "role": "assistant",
        "content": text,
        "caption": (
            f"quoted from {len(stats.citations)} source(s) · extractive mode · {stats.latency_s:.2f} s"
            if extractive
            else stats.caption()
        ),
        "route": stats.route_reason,
        "route_note": "knowledge-base quote (no model call)" if extractive else "",
        "label": "Quoted from the knowledge base · extractive mode" if extractive else stats.label,
        "flags": stats.flags,
        "sources": stats.sources,
        "citations": stats.citations,
        "unsupported": stats.unsupported,
        "tool_calls": stats.tool_calls,
        "blocked": stats.blocked,
        "images": stats.images,
        "model": stats.model,
        "deployment": stats.deployment,
        "input_tokens": stats.input_tokens,
        "output_tokens": stats.output_tokens,
        "latency_s": stats.latency_s,
        "ttft_s": stats.ttft_s,
        "cost_usd": stats.cost_usd,
        "request_id": stats.route.get("request_id"),
        "experiment": stats.route.get("experiment"),
        "arm": stats.route.get("arm"),
        "stopped": stopped,
    }


def staged(pieces, first_stage: str):
    """The answer's text pieces, with a spinner (and the seconds waited) for each stage before the first."""
    stage, iterator = first_stage, iter(pieces)
    while True:
        with st.spinner(STAGES[stage], show_time=True):
            piece = next(iterator, None)
        if piece is None:
            return
        if isinstance(piece, Stage):
            stage = piece.name
            continue
        pending = st.session_state.get("pending")
        if pending is not None:
            pending["text"] += piece
        yield piece
        break
    for piece in iterator:
        if isinstance(piece, Stage):
            continue
        pending = st.session_state.get("pending")
        if pending is not None:
            pending["text"] += piece
        yield piece


# A turn the user stopped (or interrupted with a new message): keep what was written so far.
if (pending := st.session_state.pop("pending", None)) is not None:
    from app.ui.chat_log import call_record

    stats = pending["stats"]
    stats.latency_s = time.perf_counter() - pending["started"]
    request_log().write(call_record(stats))
    history.append(answer_item(stats, pending["text"] + " …", stopped=True))
st.session_state.busy = False

echo.empty()
for item in history:
    show_message(item)

if submitted and (submitted.text.strip() or submitted.files):
    from app.ui.chat_log import call_record

    uploads = [(f.getvalue(), f.type or "image/png") for f in submitted.files]
    prompt = submitted.text.strip() or "Describe this image."
    budget = chat_rules.history_budget(spec, int(params.get("max_tokens") or 256))
    earlier = chat_rules.trim_history(as_messages([h for h in history if h["role"] != "system"]), budget)
    turn: dict[str, Any] = {
        "role": "user",
        "content": prompt,
        "images": [data for data, _ in uploads],
        "image_urls": [data_url(data, mime) for data, mime in uploads],
    }
    history.append(turn)
    badge = show_message(turn)
    with st.chat_message("assistant"):
        stats = TurnStats(model="" if choice == AUTO else choice)  # the router fills it in
        wants_image = make_image or (
            spec is None
            and bool(image_models)
            and router().classifier is not None
            and router().classifier.classify(prompt).task == "image_generation"
        )
        grounded = use_kb and not uploads and not wants_image
        if use_kb and not grounded:
            st.caption("Images are answered without the knowledge base.")
        hints = {
            "params": {} if wants_image else params,
            "user": user_id,
            "image_generation": wants_image or None,
            "experiment": None if experiment == NO_EXPERIMENT else experiment,
        }  # read by the router
        configurable = {"conversation_id": conversation_id, **(hints if spec is None else {})}
        config: RunnableConfig = {"configurable": configurable}
        messages = [*earlier, *as_messages([turn])]
        payload = {"question": prompt, "history": earlier} if grounded else messages
        st.button("Stop", key="stop_turn", icon=":material/stop:", help="Stop this answer (keeps what was written)")
        started = time.perf_counter()
        st.session_state.pending = {"stats": stats, "text": "", "started": started}
        st.session_state.busy = True
        first_stage = "retrieving" if grounded else "generating"
        if not warmup().done and (spec is None or spec.is_local):
            first_stage = "loading"
        try:
            model = None if spec is None else build_chat_model(spec, params=params)
            if grounded and shop_tools and collection == SAMPLE_COLLECTION:
                runnable = support_bot(model, collection, answer_style=answer_style)
            else:
                runnable = assistant(model, collection if grounded else None, answer_style=answer_style)
            text = st.write_stream(staged(stream_reply(runnable, payload, stats, config), first_stage))
        except Exception as exc:  # shown to the user and logged; the conversation is kept
            st.session_state.pop("pending", None)
            stats.latency_s = stats.latency_s or time.perf_counter() - started
            request_log().write(call_record(stats, exc))
            timeout = spec.deployments[0].timeout if spec is not None and spec.deployments else None
            st.error(chat_rules.failure_message(exc, timeout))
            history.pop()
        else:
            st.session_state.pop("pending", None)
            if stats.refusal is None:
                request_log().write(call_record(stats))
            for image in stats.images:
                st.image(image, width=320)
            item = answer_item(stats, text if isinstance(text, str) else "")
            turn["masked"] = stats.masked
            turn["blocked"] = stats.blocked  # refused: shown, never sent again as history
            if stats.masked:
                badge.caption(masked_badge(stats.masked))
            history.append(item)
            if item["role"] == "system":
                st.session_state.busy = False
                st.rerun()  # shown again as a system message, not as the assistant's answer
            show_details(item)
        st.session_state.busy = False
