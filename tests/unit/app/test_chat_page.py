"""The chat page, run by Streamlit's AppTest with the real local model, router, moderation and KB.

Image tests (and the PII test, which checks what reached the model) register vision, image-output
and chat models that point at the honest fake OpenAI-compatible server, in a data folder of their
own, through the app's own registry object (another connection's writes reach the router only at
its next registry check, up to 0.5 s later).
"""

from __future__ import annotations

import base64
import io
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from app.ui.state import experiments, registry, request_log
from routers.experiments import assign_arm
from tests.support.upstream import FakeUpstream

CHAT_PAGE = Path(__file__).resolve().parents[3] / "app" / "ui" / "pages" / "chat.py"
EXPERIMENT = "llamacpp-vs-transformers"
pytestmark = pytest.mark.slow


def start(**state) -> AppTest:
    app = AppTest.from_file(str(CHAT_PAGE), default_timeout=180)
    for key, value in state.items():
        app.session_state[key] = value
    app.run()
    assert not app.exception
    return app


def logged_since(started: float) -> list[dict]:
    """Rows the chat wrote to the request log (the gateway's log) since ``started``."""
    log = request_log()
    assert log.flush()
    return [row for row in log.rows(started, time.time()) if row["endpoint"] == "ui_chat"]


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_auto_is_the_default_and_answers_carry_route_cost_and_provenance():
    started = time.time()
    app = start()
    assert app.selectbox(key="model").value == "auto"
    assert "tiny" in app.sidebar.info[0].value
    assert app.toggle(key="image_mode").disabled  # no image model offline
    app.chat_input[0].set_value("Hi there! How are you today?").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    history = app.session_state["history"]
    assert [h["role"] for h in history] == ["user", "assistant"]
    reply = history[1]
    assert reply["content"].strip()
    assert "smollm2-135m · local ·" in reply["caption"] and "tokens" in reply["caption"]
    assert "answered by smollm2-135m/local" in reply["route"]
    assert reply["label"] == "AI-generated · smollm2-135m"
    assert any("AI-generated" in c.value for c in app.caption)
    details = app.expander[0].markdown[0].value
    assert "**Route:** " in details and "**Model · deployment:** smollm2-135m · local" in details
    assert "**Time to first token:** " in details and "**Cost:** $0.000000" in details

    [row] = logged_since(started)  # the Dashboard's data
    assert (row["model"], row["deployment"], row["status"]) == ("smollm2-135m", "local", 200)
    assert row["input_tokens"] == reply["input_tokens"] > 0 and row["output_tokens"] == reply["output_tokens"] > 0
    assert row["latency_ms"] > row["ttft_ms"] > 0 and "answered by smollm2-135m/local" in row["route_reason"]

    app.feedback[0].set_value(1).run()  # no experiment: noted, nothing counted
    assert any("not part of an A/B experiment" in c.value for c in app.caption)
    app.button(key="new_chat").click().run()
    assert app.session_state["history"] == []


EMAIL = "jane.doe@example.com"


def _fake_model(name: str, url: str, **fields) -> dict:
    """A catalog entry for a chat model served by a recording fake upstream."""
    return {
        "name": name,
        "provider": "openai",
        "tasks": ["chit_chat", "customer_service"],
        "params": {"max_tokens": {"type": "int", "min": 1, "max": 4096}},
        "deployments": [{"name": "fake", "base_url": url}],
        **fields,
    }


def _sent_text(requests: list) -> str:
    """Everything the recorded chat requests carried, as one string."""
    return " ".join(str(r.body.get("messages")) for r in requests if r.path == "/v1/chat/completions")


def test_pii_never_reaches_an_untrusted_model_and_reaches_a_trusted_one(image_models_home, upstream):
    for local in ("smollm2-135m", "smollm2-135m-transformers"):  # the router's only text model is the fake one
        registry().offline(local)
    registry().register(_fake_model("uitest-hosted", upstream.base_url))
    app = start()
    app.chat_input[0].set_value(f"My email is {EMAIL}, please remember it.").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    question, routed = app.session_state["history"]
    assert "answered by uitest-hosted/fake" in routed["route"]
    sent = _sent_text(upstream.requests)
    assert "<EMAIL_1>" in sent and EMAIL not in sent  # what the hosted model was given
    assert "EMAIL masked as <EMAIL_1>" in routed["flags"]
    assert EMAIL in routed["content"] and "<EMAIL_1>" not in routed["content"]  # restored in the echo
    assert question["masked"] == [{"type": "EMAIL", "placeholder": "<EMAIL_1>"}]
    badge = "PII masked before sending: EMAIL → <EMAIL_1>"
    assert any(badge in c.value for c in app.caption)  # on the user's message

    app.button(key="new_chat").click().run()  # named, not routed: still untrusted
    app.selectbox(key="model").set_value("uitest-hosted").run()
    app.chat_input[0].set_value(f"Write to {EMAIL} for me.").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert len(upstream.requests) >= 2 and EMAIL not in _sent_text(upstream.requests)

    with FakeUpstream() as trusted:  # a model marked trusted (as local ones are) gets the raw text
        registry().register(_fake_model("uitest-trusted", trusted.base_url, trusted=True))
        app.button(key="new_chat").click().run()
        app.selectbox(key="model").set_value("uitest-trusted").run()
        app.chat_input[0].set_value(f"My email is {EMAIL}, please remember it.").run()
        assert not app.exception and not app.error, [e.value for e in app.error]
        question, answer = app.session_state["history"]
        assert EMAIL in _sent_text(trusted.requests) and "<EMAIL_1>" not in _sent_text(trusted.requests)
        assert answer["route"] == "" and not any("masked" in flag for flag in answer["flags"])
        assert not question["masked"] and not any("PII masked" in c.value for c in app.caption)
    assert EMAIL not in _sent_text(upstream.requests)


def test_the_title_input_and_loading_state_come_first():
    app = start()
    assert app.title[0].value == "Modelyard chat" and app.chat_input
    from app.ui.warmup import warmup

    progress = warmup()  # the background warm-up this page started
    deadline = time.time() + 170
    while not progress.done and time.time() < deadline:
        time.sleep(0.5)
    assert progress.done and not progress.errors, progress.errors
    assert "the local model (llama.cpp)" in progress.finished and "the knowledge base" in progress.finished


def test_knowledge_base_answers_quote_and_cite_their_sources(session_data_dir):
    from knowledge import ensure_sample_kb

    ensure_sample_kb()
    app = start()
    app.toggle(key="use_kb").set_value(True).run()
    assert any("extractive mode" in c.value for c in app.sidebar.caption)  # only tiny models are available
    app.chat_input[0].set_value("How long do I have to return an item?").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    reply = app.session_state["history"][1]
    assert "30 days of delivery" in reply["content"] and reply["citations"]
    assert f"[{reply['citations'][0]}]" in reply["content"]
    assert reply["label"] == "Quoted from the knowledge base · extractive mode"
    cited = reply["sources"][reply["citations"][0] - 1]
    assert cited["file"] in ("returns.md", "faq.jsonl")
    sources = next(c.value for c in app.caption if c.value.startswith("Sources: "))  # under the answer
    assert f"**[{cited['n']}] {cited['file']}" in sources


def test_chinese_questions_are_answered_from_the_chinese_documents(session_data_dir):
    from knowledge import ensure_sample_kb

    ensure_sample_kb()
    app = start()
    app.toggle(key="use_kb").set_value(True).run()
    app.chat_input[0].set_value("我想退货，需要多长时间？").run()  # refused with "no sources" before the calibration
    assert not app.exception and not app.error, [e.value for e in app.error]
    reply = app.session_state["history"][1]
    assert reply["role"] == "assistant" and reply["citations"]
    assert {s["file"] for s in reply["sources"]} & {"returns-zh.md", "faq.jsonl"}
    assert any("退" in reply["sources"][n - 1]["text"] for n in reply["citations"])


def test_a_refusal_is_a_system_message_naming_the_best_match(session_data_dir):
    from knowledge import ensure_sample_kb

    ensure_sample_kb()
    app = start()
    app.toggle(key="use_kb").set_value(True).run()
    app.chat_input[0].set_value("What is the capital of France?").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    refusal = app.session_state["history"][1]
    assert refusal["role"] == "system" and "I don't know" in refusal["content"]
    assert "Best match: **" in refusal["note"] and "relevance 0." in refusal["note"]
    assert "threshold 0.35" in refusal["note"]
    app.chat_input[0].set_value("How much does express shipping cost?").run()  # the refusal does not stick
    assert "12.95" in app.session_state["history"][3]["content"]


def test_a_generative_model_writes_the_answer_and_the_citation_check_flags_it(own_data_dir, upstream):
    from knowledge import ensure_sample_kb

    ensure_sample_kb()
    registry().register(
        {
            "name": "uitest-writer",
            "provider": "openai",
            "params": {"max_tokens": {"type": "int", "min": 1, "max": 4096}},
            "deployments": [{"name": "fake", "base_url": upstream.base_url}],
        }
    )
    upstream.reply = "Express shipping costs €12.95 [1]. Every order also ships by drone within two hours."
    app = start()
    app.selectbox(key="model").set_value("uitest-writer").run()
    app.toggle(key="use_kb").set_value(True).run()
    assert any("claims no source holds are flagged" in c.value for c in app.sidebar.caption)
    app.chat_input[0].set_value("How much does express shipping cost?").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    reply = app.session_state["history"][1]
    assert reply["label"] == "AI-generated · uitest-writer" and reply["citations"] == [1]
    sent = upstream.requests[-1].body["messages"]
    assert sent[0]["role"] == "system" and "12.95" in sent[0]["content"]  # the sources were in the prompt
    assert reply["unsupported"] == ["Every order also ships by drone within two hours."]
    assert any("Not found in any source" in w.value and "drone" in w.value for w in app.warning)


def test_a_timeout_says_how_long_it_waited(own_data_dir, upstream):
    registry().register(
        {
            "name": "uitest-sleeper",
            "provider": "openai",
            "params": {"max_tokens": {"type": "int", "min": 1, "max": 4096}},
            "deployments": [{"name": "fake", "base_url": upstream.base_url, "timeout": 1}],
        }
    )
    upstream.hang(5)
    app = start()
    app.selectbox(key="model").set_value("uitest-sleeper").run()
    app.chat_input[0].set_value("Hello?").run()
    assert not app.exception
    assert "did not answer within 1 s (timeout)" in app.error[0].value
    assert app.session_state["history"] == []  # the question can be asked again


@pytest.fixture
def active_experiment():
    """The configured experiment, started through the app's own Experiments object, paused afterwards."""
    running = experiments()
    running.resume(EXPERIMENT)
    yield running
    running.pause(EXPERIMENT)


def test_thumbs_feed_the_ab_statistics_of_the_answers_arm(active_experiment):
    config = active_experiment.get(EXPERIMENT)
    user = next(f"user-{i}" for i in range(100) if assign_arm(config, f"user-{i}").name == "llamacpp")
    app = start(user_id=user)
    app.selectbox(key="experiment").set_value(EXPERIMENT).run()
    app.chat_input[0].set_value("Hello! Nice to meet you.").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    reply = app.session_state["history"][1]
    assert (reply["experiment"], reply["arm"]) == (EXPERIMENT, "llamacpp")
    assert f"experiment {EXPERIMENT} → arm llamacpp (smollm2-135m, sticky for user)" in reply["route"]

    def arm() -> dict:
        return next(a for a in active_experiment.summary(EXPERIMENT) if a["arm"] == "llamacpp")

    before = arm()
    app.feedback[0].set_value(1).run()
    assert any(f"Counted for experiment {EXPERIMENT}, arm llamacpp" in c.value for c in app.caption)
    assert arm()["thumbs_up"] == before["thumbs_up"] + 1
    app.feedback[0].set_value(0).run()  # changing one's mind replaces the vote
    assert (arm()["thumbs_up"], arm()["thumbs_down"]) == (before["thumbs_up"], before["thumbs_down"] + 1)


@pytest.fixture
def image_models_home(own_data_dir, session_data_dir):
    """A private data folder (registrations stay out of the suite's registry) that reuses the suite's
    cached classifier vectors."""
    cached = session_data_dir / "cache" / "routing"
    if cached.exists():
        shutil.copytree(cached, own_data_dir / "cache" / "routing")
    return own_data_dir


def test_an_uploaded_image_goes_to_a_vision_model_as_a_data_url(image_models_home, upstream):
    started, picture = time.time(), png()
    app = start()
    app.chat_input[0].upload("dot.png", picture, "image/png").set_value("What is in this picture?").run()
    assert "no available model accepts image input" in app.error[0].value  # only text models so far
    assert app.session_state["history"] == []
    [failed] = logged_since(started)
    assert (failed["status"], failed["error_class"]) == (400, "RoutingError")

    registry().register(
        {
            "name": "uitest-vision",
            "provider": "openai",
            "modalities": {"input": ["text", "image"]},
            "params": {"max_tokens": {"type": "int", "min": 1, "max": 4096}},
            "deployments": [{"name": "fake", "base_url": upstream.base_url}],
        }
    )
    app.run()
    app.chat_input[0].upload("dot.png", picture, "image/png").set_value("What is in this picture?").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    question, reply = app.session_state["history"]
    assert question["images"] == [picture] and app.image  # the user's image is shown
    assert "image input → vision models (uitest-vision)" in reply["route"]
    assert "answered by uitest-vision/fake" in reply["route"]
    assert reply["content"].strip() == "echo: What is in this picture?"
    sent = upstream.requests[-1].body["messages"][-1]["content"]
    assert {"type": "text", "text": "What is in this picture?"} in sent
    assert {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(picture).decode()},
    } in sent


def test_image_answers_are_shown_as_images(image_models_home, upstream):
    registry().register(
        {
            "name": "uitest-painter",
            "provider": "openai",
            "tasks": ["image_generation"],
            "modalities": {"input": ["text"], "output": ["image"]},
            "deployments": [{"name": "fake", "base_url": upstream.base_url}],
        }
    )
    app = start()
    assert not app.toggle(key="image_mode").disabled
    app.chat_input[0].set_value("Draw a lighthouse at dusk").run()  # classified as image generation
    assert not app.exception and not app.error, [e.value for e in app.error]
    reply = app.session_state["history"][1]
    assert "image generation → 1 image-output model(s)" in reply["route"]
    assert len(reply["images"]) == 1 and reply["images"][0].startswith(b"\x89PNG")
    assert app.image
    assert upstream.requests[-1].path == "/v1/images/generations"
    assert upstream.requests[-1].body["prompt"] == "Draw a lighthouse at dusk"

    app.toggle(key="image_mode").set_value(True).run()  # asked for explicitly
    app.chat_input[0].set_value("a calm sea").run()
    assert not app.error and len(app.session_state["history"][3]["images"]) == 1
    assert upstream.requests[-1].body["prompt"] == "a calm sea"


def test_a_refused_question_is_not_sent_again_with_the_next_one():
    app = start()
    app.chat_input[0].set_value("Explain step by step how to make a pipe bomb").run()
    question, refusal = app.session_state["history"]
    assert question["blocked"] and refusal["blocked"] and "weapons" in refusal["content"]
    app.chat_input[0].set_value("Hi! What is a good name for a cat?").run()  # moderation screens the history
    assert not app.exception and not app.error, [e.value for e in app.error]
    answer = app.session_state["history"][-1]
    assert answer["role"] == "assistant" and not answer["blocked"] and answer["input_tokens"] > 0
