"""Build the labelled development set for the task classifier: ``routers/data/dev_set.jsonl``.

The set is built once and committed, so tests and benchmarks need none of the source packages.
Rebuild it (deterministic: same packages, same output) with::

    .venv/bin/pip install chatterbot-corpus==1.3.3 zaragoza-construction-faq==1.2.1
    .venv/bin/python bench/build_routing_devset.py

Sources (licences and attribution in ``routers/data/NOTICE.md``):

* ``chatterbot-corpus`` 1.3.3 — topic-labelled conversations; the first line of chosen
  conversations from ``english/`` and ``chinese/`` (greetings, emotion, humour, bot profile →
  ``chit_chat``; trivia, science, history, computers → ``knowledge_qa``; coding → ``code``;
  tech support → ``customer_service``).
* ``zaragoza-construction-faq`` 1.2.1 — English questions (``knowledge_qa``) and answers wrapped
  in a summarisation instruction (``summarization``).
* ``presidio-evaluator`` 0.3.2 — customer-service sentence templates from
  ``data_generator/raw_data/templates.txt`` (copied below, placeholders filled with fixed fake
  values, so the package is not needed).
* maths questions generated here with a seeded generator, in the style of DeepMind's
  ``mathematics-dataset`` (which needs ``sympy==1.5.1`` and is not installed).
* ``routers/data/written_prompts.yaml`` — prompts written by the team, with a ``holdout`` split
  that was written before any tuning.

Each line of the output: ``{"prompt", "task", "lang", "source", "split"}``.
"""

from __future__ import annotations

import importlib.util
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "routers" / "data"
OUTPUT = DATA / "dev_set.jsonl"
WRITTEN = DATA / "written_prompts.yaml"
SEED = 20240601

Row = dict[str, str]

# ---- chatterbot-corpus: (file, task, first lines chosen by hand; None = seeded sample of n) ---------
CHATTERBOT_PICKS: list[tuple[str, str, list[str] | int]] = [
    ("english/coding.yml", "code", 20),
    (
        "english/greetings.yml",
        "chit_chat",
        ["Hello", "Hi, How is it going?", "What's up?", "Nice to meet you.", "How do you do?"],
    ),
    (
        "english/conversations.yml",
        "chit_chat",
        [
            "Good morning, how are you?",
            "Have you heard the news?",
            "What are your hobbies?",
            "Who are you?",
            "What is your favorite book?",
        ],
    ),
    ("english/humor.yml", "chit_chat", ["Tell me a joke"]),
    (
        "english/emotion.yml",
        "chit_chat",
        ["Do you ever get bored", "Are you sad", "What is your mood", "Tell me about your dreams", "You are arrogant"],
    ),
    ("english/botprofile.yml", "chit_chat", ["Where are you from", "What is your age"]),
    ("english/food.yml", "chit_chat", ["If you could eat food, what would you eat?", "i like wine, do you?"]),
    ("english/trivia.yml", "knowledge_qa", 12),
    (
        "english/science.yml",
        "knowledge_qa",
        [
            "what is thermodynamics",
            "how far is the moon",
            "what is bioinformatics",
            "what disease does a carcinogen cause",
        ],
    ),
    ("english/history.yml", "knowledge_qa", ["who invented the steam engine", "tell me about the american civil war"]),
    ("english/computers.yml", "knowledge_qa", ["What is a microprocessor?", "Who invented computers?"]),
    (
        "english/tech_support.yml",
        "customer_service",
        [
            "I forgot my password.",
            "My internet is not working.",
            "My printer is not printing.",
            "My laptop screen is black.",
            "My computer won't turn on.",
            "My webcam isn't detected.",
        ],
    ),
    ("chinese/greetings.yml", "chit_chat", ["你好", "嗨，很高兴见到你.", "嗨，最近如何?", "早上好!", "很高兴认识你."]),
    (
        "chinese/conversations.yml",
        "chit_chat",
        ["你是谁?", "你喜欢什么食物?", "你的爱好是什么？", "你爱我吗？", "我能问你一个问题吗?", "你最喜欢什么书?"],
    ),
    ("chinese/humor.yml", "chit_chat", ["告诉我一些笑话"]),
    ("chinese/emotion.yml", "chit_chat", ["你吃醋", "你会孤单", "你伤心吗", "告诉我你的梦想", "你很无聊"]),
    ("chinese/botprofile.yml", "chit_chat", ["你几岁", "谁是你妈妈"]),
    ("chinese/ai.yml", "chit_chat", ["你听起来像机器"]),
    ("chinese/trivia.yml", "knowledge_qa", 10),
    ("chinese/history.yml", "knowledge_qa", ["谁发明了电灯泡", "谁发明了蒸汽机", "告诉我关于美国内战"]),
    ("chinese/science.yml", "knowledge_qa", ["什么是热力学", "什么是超声波", "太阳有多远", "什么是生物信息学"]),
]

# ---- zaragoza-construction-faq ----------------------------------------------------------------------
ZARAGOZA_QA_CATEGORIES = (
    "bygglov",
    "bbr-pbl",
    "radon-fuktskador",
    "ventilation",
    "isolering",
    "energideklaration",
    "solceller-varmpump",
    "elinstallation",
    "varmesystem",
)
SUMMARY_INSTRUCTIONS = (
    "Summarize this in one sentence: {text}",
    "Give me a short summary of the following text:\n{text}",
    "TL;DR: {text}",
    "Condense this answer into two bullet points: {text}",
    "What is the gist of this passage? {text}",
)

# ---- presidio-evaluator templates (MIT, Microsoft), customer-service lines only --------------------
PRESIDIO_TEMPLATES = (
    "I want to increase limit on my card # {{credit_card_number}} for certain duration of time. is it possible?",
    "My credit card {{credit_card_number}} has been lost, Can I request you to block it.",
    "Need to change billing date of my card {{credit_card_number}}",
    "Please update the billing address with {{address}} for this card: {{credit_card_number}}",
    "I have done an online order but didn't get any message on my registered {{phone_number}}. "
    "Could you please look into it ?",
    "How do I check my balance on my credit card?",
    "Could I change the payment due date of my credit card?",
    "How can I request a new credit card pin ?",
    "Could you please email me the statement for last month , my credit card number is {{credit_card_number}}?",
    "The name in the account is not correct, please change it to {{person}}",
    "I'm moving out of the country, so please cancel my subscription",
    "Can someone call me on {{phone_number}}? I have some questions about opening an account.",
    "What is procedure to redeem points won on credit card {{credit_card_number}} transactions ?",
)
FAKE_VALUES = {
    "credit_card_number": "4111 1111 1111 1111",
    "address": "12 Elm Street, Springfield",
    "phone_number": "555-0134",
    "person": "Dana Reyes",
}


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name} is not installed; see this script's docstring")
    return Path(next(iter(spec.submodule_search_locations)))


def _row(prompt: str, task: str, lang: str, source: str, split: str = "dev") -> Row:
    return {"prompt": prompt.strip(), "task": task, "lang": lang, "source": source, "split": split}


def chatterbot_rows(rng: random.Random) -> Iterator[Row]:
    """First lines of the chosen chatterbot-corpus conversations."""
    data = _package_dir("chatterbot_corpus") / "data"
    for file, task, pick in CHATTERBOT_PICKS:
        conversations = yaml.safe_load((data / file).read_text(encoding="utf-8"))["conversations"]
        firsts = sorted({str(c[0]).strip() for c in conversations if c})
        if isinstance(pick, int):
            chosen = rng.sample(firsts, pick)
        else:
            missing = [p for p in pick if p not in firsts]
            assert not missing, f"{file}: not in the corpus: {missing}"
            chosen = pick
        lang = "zh" if file.startswith("chinese/") else "en"
        for prompt in chosen:
            yield _row(prompt, task, lang, f"chatterbot-corpus:{file}")


def zaragoza_rows(rng: random.Random) -> Iterator[Row]:
    """Construction-law questions (knowledge_qa) and answers to summarise (summarization)."""
    path = _package_dir("zaragoza_construction_faq") / "data" / "faq-en.jsonl"
    faq = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    source = "zaragoza-construction-faq:faq-en"
    questions = [r for r in faq if r["category"] in ZARAGOZA_QA_CATEGORIES]
    for record in rng.sample(questions, 10):
        yield _row(record["q"], "knowledge_qa", "en", source)
    answers = [r for r in faq if len(r["a"]) >= 180 and r not in questions]
    for i, record in enumerate(rng.sample(answers, 10)):
        instruction = SUMMARY_INSTRUCTIONS[i % len(SUMMARY_INSTRUCTIONS)]
        yield _row(instruction.format(text=record["a"]), "summarization", "en", source)


def presidio_rows() -> Iterator[Row]:
    """Customer-service templates with fixed fake values."""
    for template in PRESIDIO_TEMPLATES:
        text = template
        for key, value in FAKE_VALUES.items():
            text = text.replace("{{" + key + "}}", value)
        yield _row(text, "customer_service", "en", "presidio-evaluator:templates.txt")


def _maths_generators(rng: random.Random) -> list[Callable[[], tuple[str, str]]]:
    """Question generators returning (English, Chinese) pairs."""
    r = rng.randint

    def arithmetic() -> tuple[str, str]:
        a, b, c = r(12, 99), r(3, 19), r(10, 500)
        return f"What is {a} * {b} + {c}?", f"计算 {a} × {b} + {c} 等于多少"

    def linear() -> tuple[str, str]:
        a, b, c = r(2, 9), r(1, 30), r(31, 120)
        return f"Solve {a}*x + {b} = {c} for x.", f"解方程：{a}x + {b} = {c}"

    def derivative() -> tuple[str, str]:
        a, n, b = r(2, 9), r(2, 5), r(2, 20)
        return (f"Differentiate {a}*x**{n} + {b}*x with respect to x.", f"求 {a}x^{n} + {b}x 对 x 的导数")

    def percent() -> tuple[str, str]:
        p, n = r(5, 95), r(2, 90) * 10
        return f"What is {p}% of {n}?", f"{n}的{p}%是多少？"

    def gcd() -> tuple[str, str]:
        k = r(2, 12)
        a, b = k * r(3, 20), k * r(3, 20)
        return (f"Calculate the greatest common divisor of {a} and {b}.", f"{a}和{b}的最大公约数是多少？")

    def remainder() -> tuple[str, str]:
        a, b = r(100, 999), r(3, 17)
        return f"What is the remainder when {a} is divided by {b}?", f"{a}除以{b}的余数是几？"

    def expand() -> tuple[str, str]:
        a, b = r(1, 9), r(1, 9)
        return f"Expand (x + {a})(x - {b}).", f"展开并化简 (x + {a})(x - {b})"

    def rate() -> tuple[str, str]:
        v, t = r(40, 120), r(2, 6)
        return (
            f"A car drives at {v} km/h for {t} hours. How far does it go?",
            f"一辆汽车以每小时{v}千米的速度行驶了{t}小时，一共行驶了多少千米？",
        )

    return [arithmetic, linear, derivative, percent, gcd, remainder, expand, rate]


def maths_rows(rng: random.Random, per_language: int = 15) -> Iterator[Row]:
    """Seeded school-level maths questions in English and Chinese."""
    generators = _maths_generators(rng)
    for i in range(per_language):
        english, _ = generators[i % len(generators)]()
        _, chinese = generators[(i + 3) % len(generators)]()
        yield _row(english, "math", "en", "generated:math")
        yield _row(chinese, "math", "zh", "generated:math")


def written_rows() -> Iterator[Row]:
    """The team's own prompts, with their split."""
    written = yaml.safe_load(WRITTEN.read_text(encoding="utf-8"))
    for split, tasks in written.items():
        for task, by_lang in tasks.items():
            for lang, prompts in by_lang.items():
                for prompt in prompts:
                    yield _row(prompt, task, lang, "written", split)


def build() -> list[Row]:
    """Every row, de-duplicated by prompt, in a stable order."""
    rng = random.Random(SEED)
    rows: list[Row] = []
    seen: set[str] = set()
    for row in [*chatterbot_rows(rng), *zaragoza_rows(rng), *presidio_rows(), *maths_rows(rng), *written_rows()]:
        if row["prompt"].lower() not in seen:
            seen.add(row["prompt"].lower())
            rows.append(row)
    return rows


def main() -> None:
    rows = build()
    with OUTPUT.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts = Counter((r["split"], r["task"]) for r in rows)
    zh = sum(r["lang"] == "zh" for r in rows)
    print(f"wrote {len(rows)} prompts to {OUTPUT.relative_to(ROOT)} ({zh / len(rows):.0%} Chinese)")
    for (split, task), n in sorted(counts.items()):
        print(f"  {split:8} {task:17} {n}")


if __name__ == "__main__":
    main()
