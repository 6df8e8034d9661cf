"""The chat as a new user meets it: first paint and decode speed inside the running app, and how
many knowledge-base answers hold the source's key fact.

Part 1, in the app (Chromium via Playwright against ``streamlit run``, fresh server per variant):
seconds from navigation until the title and the chat input are visible, until the warm-up is
done (no loading state), then one plain question (``max tokens`` 128) whose decode rate is read
from the request-log row the app wrote (``(output_tokens - 1) / (latency - ttft)``), with the
browser attached. Variants, measured in the same run:

* ``before``: ``app/`` as of ``--before-rev`` (the chat before issue 14) with two llama.cpp
  threads (the catalog's ``threads: 2``, what the adapter used before it left a core free);
* ``after``: the working tree, threads chosen by :func:`models.adapters.llamacpp.engine_threads`;
* ``after-2t``: the working tree with two threads (the thread count's share of the difference).

The decode rate is the median of ``--runs`` answers (New chat between them).

Part 2, in-process: the question set ``tests/data/shop_questions.jsonl`` (English and Chinese,
with the key fact each answer must contain) on the sample knowledge base, answered by
SmolLM2-135M on llama.cpp three ways — ``before`` (generative, one 0.35 threshold), ``threshold``
(generative, the calibrated Chinese threshold) and ``after`` (extractive, the catalog's
``answer_style``) — counting answers that contain a key fact and answers with a valid ``[n]``.
The dev split was written and looked at while building the extractive mode (tuned-on); the
held-out split was written before and only run here.

    .venv/bin/python bench/app_experience.py [--skip-app] [--skip-grounding] [--calibrate]

Timing figures are noisy when other work shares the machine; run under ``nice`` and say so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
QUESTIONS = ROOT / "tests" / "data" / "shop_questions.jsonl"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
DECODE_PROMPT = "Write a short paragraph about the sea and the ships on it."


# ---- part 1: in the app -----------------------------------------------------------------------
def _app_tree(rev: str | None, workdir: Path) -> Path:
    """The folder whose ``app/`` the server runs: the working tree, or ``app/`` at ``rev``."""
    if rev is None:
        return ROOT
    target = workdir / f"app-{rev[:12]}"
    target.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", rev, "app"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def _serve(tree: Path, data: Path, port: int, threads: str | None) -> subprocess.Popen:
    env = {
        **os.environ,
        "MODELYARD_DATA_DIR": str(data),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": f"{tree}:{ROOT}",
    }
    env.pop("MODELYARD_LLAMACPP_THREADS", None)
    if threads:
        env["MODELYARD_LLAMACPP_THREADS"] = threads
    command = [sys.executable, "-m", "streamlit", "run", str(tree / "app" / "ui" / "main.py")]
    command += ["--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true"]
    command += ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    return subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_healthy(url: str, seconds: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy")


def _decode_row(data: Path, since: float, wait_s: float = 20.0) -> dict:
    """The newest ``ui_chat`` row written since ``since`` (the app's log writes in batches: poll)."""
    from store.request_log import RequestLog

    log = RequestLog(data / "requests.sqlite")
    deadline = time.monotonic() + wait_s
    try:
        while True:
            rows = [r for r in log.rows(since, time.time() + 1) if r["endpoint"] == "ui_chat"]
            if rows or time.monotonic() > deadline:
                return rows[-1] if rows else {}
            time.sleep(0.25)
    finally:
        log.close()


def measure_app(variant: str, tree: Path, data: Path, threads: str | None, browser, runs: int) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    from tests.support.upstream import free_port

    port = free_port()
    server = _serve(tree, data, port, threads)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        started = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.get_by_role("heading", name="Modelyard chat").wait_for(timeout=120_000)
        title_s = time.perf_counter() - started
        box = page.locator('[data-testid="stChatInput"] textarea')
        box.wait_for(timeout=120_000)
        input_s = time.perf_counter() - started
        loading = page.get_by_text("Loading the local model…")
        try:
            loading.wait_for(timeout=3000)  # after the input: the loading state is the next thing drawn
            loading_seen = True
        except PlaywrightTimeout:
            loading_seen = False
        page.get_by_label("Max tokens").wait_for(timeout=120_000)
        sidebar_s = time.perf_counter() - started
        expect(loading).to_have_count(0, timeout=180_000)
        warm_s = time.perf_counter() - started
        tokens = page.get_by_label("Max tokens")
        tokens.fill("128")
        tokens.press("Tab")
        rows = []
        for attempt in range(runs):
            if attempt:
                page.get_by_role("button", name="New chat").click()
                expect(page.locator('[data-testid="stChatMessage"]')).to_have_count(0, timeout=60_000)
            asked = time.time()
            box.fill(DECODE_PROMPT)
            box.press("Enter")
            answer = page.locator('[data-testid="stChatMessage"]').nth(1)
            answer.get_by_text(re.compile(r"\d+→\d+ tokens")).wait_for(timeout=180_000)
            rows.append(_decode_row(data, asked - 1))
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    rates, ttfts = [], []
    for row in rows:
        decode_s = (row.get("latency_ms", 0) - (row.get("ttft_ms") or 0)) / 1000
        out = int(row.get("output_tokens") or 0)
        rates.append((out - 1) / decode_s if out > 1 and decode_s > 0 else 0.0)
        ttfts.append(row.get("ttft_ms") or 0.0)
    return {
        "variant": variant,
        "threads": threads or "auto",
        "title_s": title_s,
        "input_s": input_s,
        "loading_state_shown": loading_seen,
        "sidebar_s": sidebar_s,
        "warm_s": warm_s,
        "ttft_ms": statistics.median(ttfts),
        "output_tokens": int(statistics.median(int(r.get("output_tokens") or 0) for r in rows)),
        "decode_tok_s": statistics.median(rates),
        "decode_runs": [round(rate, 1) for rate in rates],
    }


def run_app_part(before_rev: str, runs: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    from knowledge import ensure_sample_kb

    workdir = Path(tempfile.mkdtemp(prefix="modelyard-bench-app-"))
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            variants = (("before", before_rev, "2"), ("after", None, None), ("after-2t", None, "2"))
            for variant, rev, threads in variants:
                data = workdir / f"data-{variant}"
                data.mkdir()
                os.environ["MODELYARD_DATA_DIR"] = str(data)
                ensure_sample_kb()  # as `make run` does before the server starts
                results.append(measure_app(variant, _app_tree(rev, workdir), data, threads, browser, runs))
        finally:
            browser.close()
    return results


# ---- part 2: grounded answers -----------------------------------------------------------------
def load_questions() -> list[dict]:
    rows = []
    for number, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise SystemExit(f"{QUESTIONS}:{number}: not JSON ({exc})") from exc
    return rows


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("–", "-").replace("**", "").lower())


def has_fact(answer: str, facts: list[str]) -> bool:
    """Does ``answer`` contain one of the key facts (dashes, bold and spacing normalised)?"""
    return any(_normalise(fact) in _normalise(answer) for fact in facts)


def run_grounding() -> dict:
    from chains.assistant import build_assistant
    from chains.moderation import moderated
    from chains.rag import build_rag_chain
    from chains.retrieval import DEFAULT_MIN_RELEVANCE, HybridRetriever
    from knowledge import KnowledgeBase, ensure_sample_kb
    from models.catalog import load_catalog
    from models.factory import build_chat_model

    os.environ.setdefault("MODELYARD_DATA_DIR", tempfile.mkdtemp(prefix="modelyard-bench-rag-"))
    ensure_sample_kb()
    spec = next(s for s in load_catalog() if s.name == "smollm2-135m")
    model = build_chat_model(spec, params={"max_tokens": 128})
    old_retriever = HybridRetriever(knowledge_base=KnowledgeBase("shop"), k=4, min_relevance=DEFAULT_MIN_RELEVANCE)
    chains = {
        "before": build_rag_chain(old_retriever, moderated(model)),
        "threshold": build_assistant(model, collection="shop", answer_style="generative"),
        "after": build_assistant(model, collection="shop", answer_style=spec.answer_style),
    }
    questions = [q for q in load_questions() if q["facts"]]
    tally: dict[str, dict[str, list[int]]] = {name: {} for name in chains}
    examples = []
    for question in questions:
        group = f"{question['split']}/{question['lang']}"
        for name, chain in chains.items():
            result = chain.invoke({"question": question["question"]})
            fact, cited = has_fact(result["answer"], question["facts"]), bool(result["citations"])
            counts = tally[name].setdefault(group, [0, 0, 0])
            counts[0] += fact
            counts[1] += cited
            counts[2] += 1
            if question["id"] in ("en-01", "zh-01"):
                examples.append((name, question["question"], result["answer"][:160]))
    return {"tally": tally, "examples": examples}


def calibrate() -> None:
    """Best-hit relevance of answerable and off-topic questions, per language (for the thresholds)."""
    from knowledge import KnowledgeBase, ensure_sample_kb

    os.environ.setdefault("MODELYARD_DATA_DIR", tempfile.mkdtemp(prefix="modelyard-bench-cal-"))
    ensure_sample_kb()
    kb = KnowledgeBase("shop")
    for split in ("dev", "heldout"):
        for lang in ("en", "zh"):
            rows = [q for q in load_questions() if q["split"] == split and q["lang"] == lang]
            if not rows:
                continue
            best = {q["id"]: (kb.search(q["question"], 1) or [None])[0] for q in rows}
            answerable = sorted(round(best[q["id"]].score, 3) if best[q["id"]] else 0.0 for q in rows if q["facts"])
            off = sorted(round(best[q["id"]].score, 3) if best[q["id"]] else 0.0 for q in rows if not q["facts"])
            print(f"{split:8} {lang}: answerable best-hit relevance {answerable}")
            print(f"{'':8} {lang}: off-topic  best-hit relevance {off}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before-rev", default="82f55ef", help="git revision of app/ before issue 14")
    parser.add_argument("--runs", type=int, default=3, help="answers per variant for the decode rate (median)")
    parser.add_argument("--skip-app", action="store_true")
    parser.add_argument("--skip-grounding", action="store_true")
    parser.add_argument("--calibrate", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}")
    if args.calibrate:
        calibrate()
    if not args.skip_app:
        results = run_app_part(args.before_rev, args.runs)
        base = results[0]
        print(
            f"{'variant':8} {'threads':7} {'title s':>8} {'input s':>8} {'loading shown':>13} {'sidebar s':>9} "
            f"{'warm s':>7} {'TTFT ms':>8} {'out tok':>7} {'decode tok/s':>12} {'vs before':>9}"
        )
        for r in results:
            ratio = r["decode_tok_s"] / base["decode_tok_s"] if base["decode_tok_s"] else float("nan")
            print(
                f"{r['variant']:8} {r['threads']:7} {r['title_s']:8.2f} {r['input_s']:8.2f} "
                f"{str(r['loading_state_shown']):>13} {r['sidebar_s']:9.2f} {r['warm_s']:7.2f} "
                f"{(r['ttft_ms'] or 0):8.0f} {r['output_tokens']:7d} {r['decode_tok_s']:12.1f} {ratio:8.2f}x "
                f"{r['decode_runs']}"
            )
    if not args.skip_grounding:
        report = run_grounding()
        groups = sorted({g for counts in report["tally"].values() for g in counts})
        print("answers holding the source's key fact (and citing a source), SmolLM2-135M on llama.cpp:")
        print(f"{'group':12} " + " ".join(f"{name:>18}" for name in report["tally"]))
        for group in groups:
            cells = []
            for counts in report["tally"].values():
                fact, cited, total = counts.get(group, [0, 0, 0])
                cells.append(f"{fact:>2}/{total} fact {cited:>2} [n]")
            print(f"{group:12} " + " ".join(f"{c:>18}" for c in cells))
        for name, question, answer in report["examples"]:
            print(f"  {name:9} {question} → {answer!r}")


if __name__ == "__main__":
    main()
