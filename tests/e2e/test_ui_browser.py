"""The whole app in a real browser: Streamlit server on loopback, Debian's Chromium via Playwright.

One walk through the five pages, as a user would. Chat: the title, input and loading state on
first paint; grounded English and Chinese answers quoted with ``[n]`` and their sources under
them; a refusal naming the best match; a routed, streamed answer whose question shows the
masked-PII badge, with route details and thumbs up. Models: a message under each bad field, then
a registration. Knowledge: a search. Dashboard: the charts. Settings: the keys. A screenshot of each page goes to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

from models.registry import Registry
from store.request_log import CallRecord, RequestLog
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.slow

SHOTS = ARTIFACTS / "screenshots"
ANSWER_MS = 150_000  # the first answer loads the router, MiniLM and llama.cpp in the server
STEP_MS = 60_000
MODEL = "e2e-echo"
QUOTED = "Quoted from the knowledge base · extractive mode"

# Records the distinct texts the newest answer shows while it is written (proof that it streams).
WATCH_STREAM = """() => {
  window.__answerStates = [];
  new MutationObserver(() => {
    const answers = document.querySelectorAll('[data-testid="stChatMessage"]');
    if (answers.length < 2) return;
    const blocks = answers[answers.length - 1].querySelectorAll('[data-testid="stMarkdownContainer"]');
    // the answer's text: every markdown block but the Stop button's and the "Generating…" spinner's
    const value = Array.from(blocks)
      .filter((block) => !block.closest('button'))
      .map((block) => block.innerText.trim())
      .filter((text) => text && !text.startsWith('Generating'))
      .join(' ');
    const states = window.__answerStates;
    if (value && states[states.length - 1] !== value) states.push(value);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def seed_demo_traffic(data_dir: Path, registry: Registry) -> int:
    """Two hours of synthetic gateway calls (priced from the catalog) so the Dashboard screenshot has
    several models to show; the chat's own row, written by the app, is real."""
    rng, now = random.Random(7), time.time()
    specs = {e.spec.name: e.spec for e in registry.entries()}
    profile = {
        "smollm2-135m": (0.35, "local"),
        "gpt-4o-mini": (0.9, "openai"),
        "llama-3.1-8b-instruct": (1.4, "hf-inference"),
    }
    log = RequestLog(data_dir / "requests.sqlite")
    for i in range(180):
        model = rng.choices(list(profile), weights=[5, 3, 2])[0]
        mean, deployment = profile[model]
        tokens_in, tokens_out = rng.randint(40, 900), rng.randint(20, 400)
        failed = rng.random() < 0.04
        cache = rng.choices(["miss", "hit", "semantic_hit", "bypass", ""], weights=[6, 2, 1, 1, 3])[0]
        cached = cache in ("hit", "semantic_hit")
        log.write(
            CallRecord(
                endpoint=rng.choice(["chat", "chat_stream"]),
                model=model,
                deployment=deployment,
                latency_s=0.01 if cached else rng.lognormvariate(0, 0.35) * mean,
                ttft_s=None if cached else 0.1 * mean,
                input_tokens=0 if failed else tokens_in,
                output_tokens=0 if failed else tokens_out,
                cost_usd=0.0 if failed or cached else specs[model].cost.of(tokens_in, tokens_out),
                status=502 if failed else 200,
                error_class="ProviderServerError" if failed else "",
                cache=cache,
                ts=now - 7200 + i * 40 + rng.uniform(0, 30),
            )
        )
    assert log.flush()
    log.close()
    return 180


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def go(page, title: str) -> None:
    page.get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for(timeout=STEP_MS)


def test_a_user_walks_through_every_page(app_url, browser, session_data_dir, upstream):
    from knowledge import ensure_sample_kb

    ensure_sample_kb()
    seed_demo_traffic(session_data_dir, Registry())
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _walk(page, app_url, upstream.base_url)
    finally:
        page.close()
        if MODEL in Registry().names():
            Registry().offline(MODEL)  # the suite's other tests route over the same registry
    assert not errors, errors


def _walk(page, app_url: str, upstream_url: str) -> None:
    from playwright.sync_api import expect

    # First paint: title, input and the loading state while the server warms up in the background.
    page.goto(app_url)
    page.get_by_role("heading", name="Modelyard chat").wait_for(timeout=STEP_MS)
    box = page.locator('[data-testid="stChatInput"] textarea')
    expect(box).to_be_visible()
    expect(page.get_by_text("Loading the local model…")).to_be_visible()
    shot(page, "chat-first-paint")

    # Grounded answers, asked while the model may still be loading: quotes with [n] and sources under them.
    page.get_by_text("Use knowledge base").click()
    expect(page.get_by_role("switch", name="Use knowledge base")).to_be_checked()
    messages = page.locator('[data-testid="stChatMessage"]')
    box.fill("How long do I have to return an item?")
    box.press("Enter")
    english = messages.nth(1)
    expect(english.get_by_text(QUOTED).first).to_be_visible(timeout=ANSWER_MS)
    expect(english.get_by_text(re.compile(r"30 days of delivery.*\[\d\]")).first).to_be_visible()
    expect(english.get_by_text(re.compile(r"^Sources: ")).first).to_be_visible()  # not only in Details
    box.fill("我想退货，需要多长时间？")
    box.press("Enter")
    chinese = messages.nth(3)
    expect(chinese.get_by_text(QUOTED).first).to_be_visible(timeout=ANSWER_MS)
    expect(chinese.get_by_text(re.compile(r"退.*\[\d\]")).first).to_be_visible()
    expect(chinese.get_by_text(re.compile(r"Sources: [\s\S]*(returns-zh\.md|faq\.jsonl)")).first).to_be_visible()
    box.fill("What is the capital of France?")
    box.press("Enter")
    refusal = messages.nth(5)
    expect(refusal.get_by_text(re.compile(r"Best match: .*relevance 0\.\d\d")).first).to_be_visible(timeout=ANSWER_MS)
    shot(page, "chat-grounded")

    # The router on the local model: PII masked (badge on the question), streamed, route in Details.
    page.get_by_text("Use knowledge base").click()
    expect(page.get_by_role("switch", name="Use knowledge base")).not_to_be_checked()
    expect(page.get_by_text("Loading the local model…")).to_have_count(0, timeout=ANSWER_MS)
    tokens = page.get_by_label("Max tokens")
    tokens.fill("64")
    tokens.press("Tab")
    page.evaluate(WATCH_STREAM)
    box.fill("My email is jane.doe@example.com, please confirm my order.")
    box.press("Enter")
    question, answer = messages.nth(6), messages.nth(7)
    caption = answer.get_by_text(re.compile(r"smollm2-135m · local · \d+→\d+ tokens"))
    caption.wait_for(timeout=ANSWER_MS)
    expect(question.get_by_text("PII masked before sending: EMAIL → <EMAIL_1>")).to_be_visible()
    expect(question.get_by_text("jane.doe@example.com")).to_be_visible()  # the user still sees what they wrote
    assert "<EMAIL_1>" not in answer.inner_text()
    assert int(re.search(r"→(\d+) tokens", caption.inner_text()).group(1)) <= 64  # the sidebar's max tokens
    states = page.evaluate("window.__answerStates")
    partial = [state for state in states[:-1] if states[-1].startswith(state)]
    assert partial, states  # the answer grew piece by piece before it was complete
    expect(answer.get_by_text("AI-generated · smollm2-135m").first).to_be_visible()
    answer.get_by_text("Details", exact=True).click()
    expect(answer.get_by_text(re.compile("answered by smollm2-135m/local")).first).to_be_visible()
    answer.get_by_role("radio", name="Thumbs up").click()
    expect(answer.get_by_text("not part of an A/B experiment")).to_be_visible(timeout=STEP_MS)
    shot(page, "chat")

    # Stop: a long answer stopped while it is written keeps what was written so far.
    tokens.fill("1024")
    tokens.press("Tab")
    box.fill("Tell me a long story about a brave knight, a dragon and a faraway castle.")
    box.press("Enter")
    story = messages.nth(9)
    stop = story.get_by_role("button", name="Stop")
    stop.wait_for(timeout=ANSWER_MS)  # clicked at once: on a quiet machine the tiny model may finish in a second
    stop.click()
    stopped = messages.nth(9).get_by_text(re.compile(r"Stopped by you after \d+\.\d s"))
    expect(stopped).to_be_visible(timeout=STEP_MS)
    assert messages.nth(9).inner_text().strip()

    # Models: every bad number gets its own message under its field; then a valid registration.
    go(page, "Models")
    page.get_by_label("Name", exact=True).fill(MODEL)
    page.get_by_label("Base URL").fill(upstream_url)
    for label, value in (("Input price (USD / 1K tokens)", "-1"), ("Context window", "0")):
        field = page.get_by_label(label)
        field.fill(value)
        field.press("Tab")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Input price (USD / 1K tokens) must be 0.0 or more")).to_be_visible(timeout=STEP_MS)
    expect(page.get_by_text("Context window must be 1 or more")).to_be_visible()
    shot(page, "models-errors")
    for label, value in (("Input price (USD / 1K tokens)", "0"), ("Context window", "4096")):
        field = page.get_by_label(label)
        field.fill(value)
        field.press("Tab")
    page.get_by_role("button", name="Register").click()
    notice = page.get_by_text(re.compile(f"Model {MODEL} (registered|already registered)"))
    expect(notice).to_be_visible(timeout=STEP_MS)
    expect(page.get_by_text("Context window must be 1 or more")).to_have_count(0)  # no stale error
    notice.scroll_into_view_if_needed()
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    shot(page, "models")

    # Knowledge: search the sample collection.
    go(page, "Knowledge")
    page.get_by_role("tab", name="Search").click()
    query = page.get_by_label("Query", exact=True)
    query.fill("refund")
    query.press("Enter")
    hits = page.get_by_role("tabpanel", name="Search").locator('[data-testid="stDataFrame"]')
    expect(hits).to_be_visible(timeout=STEP_MS)
    shot(page, "knowledge")

    # Dashboard: the charts render (Vega-Lite draws into a canvas or an SVG).
    page.set_viewport_size({"width": 1400, "height": 1500})
    go(page, "Dashboard")
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    expect(charts.nth(5)).to_be_visible(timeout=STEP_MS)
    expect(charts.first.locator("canvas, svg").first).to_be_visible(timeout=STEP_MS)
    expect(page.get_by_text("Saved by routing")).to_be_visible()
    shot(page, "dashboard")

    # Settings: key names with their state, never a value.
    page.set_viewport_size({"width": 1400, "height": 1000})
    go(page, "Settings")
    expect(page.get_by_role("heading", name="Keys")).to_be_visible()
    expect(page.get_by_text("No hosted-model key is set")).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    shot(page, "settings")
