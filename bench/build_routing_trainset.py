"""Build the training and untouched sets of the task head: ``routers/data/train_set.jsonl``.

The head (``routers/task_head.py``) is fitted by ``bench/fit_task_head.py`` on the ``train``
rows of this file plus the example utterances of ``config/routing.yaml`` and the ``dev``,
``holdout1`` and ``holdout2`` splits of ``dev_set.jsonl``. The ``untouched`` rows (a seeded
third of every public source below) and ``holdout3`` of ``dev_set.jsonl`` are never fitted on
and nothing was tuned on them. Deterministic; rebuild with::

    .venv/bin/pip install chatterbot-corpus==1.3.3 zaragoza-construction-faq==1.2.1
    apt-get install python3.11-doc     # Python's own FAQ, /usr/share/doc/python3.11/html/faq
    .venv/bin/python bench/build_routing_trainset.py

Sources (licences in ``routers/data/NOTICE.md``); prompts already in ``dev_set.jsonl`` are skipped:

* ``chatterbot-corpus`` 1.3.3 — first lines of conversations, labelled by the file's topic.
* ``zaragoza-construction-faq`` 1.2.1 — English and Swedish questions (``knowledge_qa``) and
  answers wrapped in a summarisation instruction (``summarization``, English and Chinese
  instructions).
* Python 3.11's FAQ (Debian ``python3.11-doc``) — the question headings: programming, library,
  design, extending, GUI and Windows FAQs → ``code``; the general FAQ → ``knowledge_qa``.
* maths questions from the seeded generator of ``bench/build_routing_devset.py`` (another seed).

Each line: ``{"prompt", "task", "lang", "source", "split"}`` with split ``train`` or ``untouched``.
"""

from __future__ import annotations

import html
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_routing_devset import (  # noqa: E402
    DATA,
    ROOT,
    Row,
    _maths_generators,
    _package_dir,
    _row,
)

OUTPUT = DATA / "train_set.jsonl"
SEED = 20261203
UNTOUCHED_SHARE = 1 / 3
PYTHON_FAQ = Path("/usr/share/doc/python3.11/html/faq")

CHATTERBOT_FILES: dict[str, str] = {
    "english/greetings.yml": "chit_chat",
    "english/conversations.yml": "chit_chat",
    "english/emotion.yml": "chit_chat",
    "english/humor.yml": "chit_chat",
    "english/botprofile.yml": "chit_chat",
    "english/food.yml": "chit_chat",
    "english/trivia.yml": "knowledge_qa",
    "english/science.yml": "knowledge_qa",
    "english/history.yml": "knowledge_qa",
    "english/computers.yml": "knowledge_qa",
    "english/coding.yml": "code",
    "english/tech_support.yml": "customer_service",
    "chinese/greetings.yml": "chit_chat",
    "chinese/conversations.yml": "chit_chat",
    "chinese/emotion.yml": "chit_chat",
    "chinese/humor.yml": "chit_chat",
    "chinese/botprofile.yml": "chit_chat",
    "chinese/food.yml": "chit_chat",
    "chinese/trivia.yml": "knowledge_qa",
    "chinese/science.yml": "knowledge_qa",
    "chinese/history.yml": "knowledge_qa",
}

SUMMARY_INSTRUCTIONS_EN = (
    "Please summarise the following answer for a customer:\n{text}",
    "Shorten this to three sentences: {text}",
    "Can you sum up what this says?\n\n{text}",
    "{text}\n\nSummarize the above in plain words.",
    "Write a one-paragraph abstract of this text: {text}",
    "Key points only, please: {text}",
)
SUMMARY_INSTRUCTIONS_ZH = (
    "请用一句话总结下面这段话：{text}",
    "帮我概括一下这段内容的要点：\n{text}",
    "{text}\n\n请总结上文。",
    "把下面的文字压缩成三句话：{text}",
)

FAQ_TASKS = {
    "programming.html": "code",
    "library.html": "code",
    "design.html": "code",
    "extending.html": "code",
    "gui.html": "code",
    "windows.html": "code",
    "general.html": "knowledge_qa",
}
_HEADING = re.compile(r"<h[23]>(.*?)<a class=\"headerlink\"", re.S)
_TAG = re.compile(r"<[^>]+>")


def chatterbot_rows() -> Iterator[Row]:
    """First lines of every conversation in the chosen chatterbot-corpus files."""
    data = _package_dir("chatterbot_corpus") / "data"
    for file, task in CHATTERBOT_FILES.items():
        conversations = yaml.safe_load((data / file).read_text(encoding="utf-8"))["conversations"]
        lang = "zh" if file.startswith("chinese/") else "en"
        for first in sorted({str(c[0]).strip() for c in conversations if c}):
            if len(first) >= 2:
                yield _row(first, task, lang, f"chatterbot-corpus:{file}")


def zaragoza_rows(rng: random.Random) -> Iterator[Row]:
    """Questions (English, Swedish) and answers wrapped in summarisation instructions."""
    folder = _package_dir("zaragoza_construction_faq") / "data"
    for name, lang in (("faq-en.jsonl", "en"), ("faq-sv.jsonl", "sv")):
        path = folder / name
        if not path.exists():
            continue
        faq = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        source = f"zaragoza-construction-faq:{path.stem}"
        for record in rng.sample(faq, min(60, len(faq))):
            yield _row(record["q"], "knowledge_qa", lang, source)
        if lang != "en":
            continue
        long_answers = [r for r in faq if len(r["a"]) >= 180]
        for i, record in enumerate(rng.sample(long_answers, 60)):
            if i % 3 == 2:  # a Chinese instruction around an English text: the request is what counts
                template, prompt_lang = SUMMARY_INSTRUCTIONS_ZH[i % len(SUMMARY_INSTRUCTIONS_ZH)], "zh"
            else:
                template, prompt_lang = SUMMARY_INSTRUCTIONS_EN[i % len(SUMMARY_INSTRUCTIONS_EN)], "en"
            yield _row(template.format(text=record["a"]), "summarization", prompt_lang, source)


def python_faq_rows() -> Iterator[Row]:
    """The question headings of Python's own FAQ."""
    if not PYTHON_FAQ.is_dir():
        raise SystemExit(f"{PYTHON_FAQ} not found: apt-get install python3.11-doc")
    for name, task in FAQ_TASKS.items():
        text = (PYTHON_FAQ / name).read_text(encoding="utf-8")
        for raw in _HEADING.findall(text):
            heading = html.unescape(_TAG.sub("", raw)).strip()
            if heading.endswith("?"):
                yield _row(heading, task, "en", f"python-3.11-faq:{name}")


def maths_rows(rng: random.Random, per_language: int = 40) -> Iterator[Row]:
    """Seeded school-level maths questions (the dev set's generator, another seed)."""
    generators = _maths_generators(rng)
    for i in range(per_language):
        english, _ = generators[i % len(generators)]()
        _, chinese = generators[(i + 5) % len(generators)]()
        yield _row(english, "math", "en", "generated:math")
        yield _row(chinese, "math", "zh", "generated:math")


def build() -> list[Row]:
    """Every new row, de-duplicated against itself and the dev set, with its split."""
    rng = random.Random(SEED)
    dev_prompts = {json.loads(line)["prompt"].lower() for line in (DATA / "dev_set.jsonl").open(encoding="utf-8")}
    seen: set[str] = set(dev_prompts)
    rows: list[Row] = []
    for row in [*chatterbot_rows(), *zaragoza_rows(rng), *python_faq_rows(), *maths_rows(rng)]:
        key = row["prompt"].lower()
        if key not in seen:
            seen.add(key)
            row["split"] = "untouched" if rng.random() < UNTOUCHED_SHARE else "train"
            rows.append(row)
    return rows


def main() -> None:
    rows = build()
    with OUTPUT.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} prompts to {OUTPUT.relative_to(ROOT)}")
    for (split, task), n in sorted(Counter((r["split"], r["task"]) for r in rows).items()):
        print(f"  {split:9} {task:17} {n}")


if __name__ == "__main__":
    main()
