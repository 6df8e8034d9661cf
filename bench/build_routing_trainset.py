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
from routing_sources import rst_paragraphs, venv_distributions  # noqa: E402

OUTPUT = DATA / "train_set.jsonl"
SEED = 20261203
UNTOUCHED_SHARE = 1 / 3
PYTHON_FAQ = Path("/usr/share/doc/python3.11/html/faq")
PYTHON_DOC_SOURCES = Path("/usr/share/doc/python3.11/html/_sources")

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

# Requests around pasted documentation and chat transcripts (added for issue 15): the instruction
# comes first or last, with or without a summarisation keyword, the text may carry code.
DOC_SUMMARY_EN = (
    "Summarize this section of the docs for me:\n\n{text}",
    "{text}\n\nTL;DR?",
    "Can you give me the short version of this?\n{text}",
    "I don't have time to read all of this, what's the gist?\n\n{text}",
    "Condense the following into two sentences:\n{text}",
    "{text}\n\nCould you boil that down to a couple of bullet points?",
    'Here is a passage from the manual:\n"{text}"\nWhat are the main points?',
    "Make this shorter and keep only the essentials:\n{text}",
    "{text}\n\nsummary pls",
    "Give me a brief overview of this text:\n{text}",
    "Write a short abstract of the passage below.\n\n{text}",
    "Explain in one sentence what this paragraph says: {text}",
)
DOC_SUMMARY_ZH = (
    "帮我总结一下这段文档：\n{text}",
    "{text}\n\n用两句话概括上面的内容。",
    "这段话太长了，能简单说说讲了什么吗？\n{text}",
    "请提炼以下内容的要点：{text}",
    "{text}\n\n简要总结一下",
    "把这段英文文档的主要意思用中文概括出来：\n{text}",
    "下面这段说明的核心意思是什么？\n{text}",
)
TRANSCRIPT_SUMMARY_EN = (
    "Summarize this chat between two people:\n{text}",
    "{text}\n\nWhat were they talking about? Keep it short.",
    "Give me a one-line recap of this conversation:\n{text}",
)
TRANSCRIPT_SUMMARY_ZH = (
    "总结一下这段对话：\n{text}",
    "{text}\n\n他们聊了些什么？简单概括一下。",
    "用一句话说说下面这段聊天的内容：\n{text}",
)
TRANSCRIPT_FILES = (
    "english/gossip.yml",
    "english/health.yml",
    "english/literature.yml",
    "english/money.yml",
    "english/movies.yml",
    "english/politics.yml",
    "english/psychology.yml",
    "english/sports.yml",
    "chinese/gossip.yml",
    "chinese/literature.yml",
    "chinese/money.yml",
    "chinese/movies.yml",
    "chinese/politics.yml",
    "chinese/psychology.yml",
    "chinese/sports.yml",
)
# Factual questions about a product (knowledge_qa), filled with names of Python distributions.
PRODUCT_QUESTIONS_EN = (
    "What is {name}?",
    "What is {name} used for?",
    "Which version of {name} supports Python 3.12?",
    "Is {name} free for commercial use?",
    "Where can I find the documentation for {name}?",
    "Does {name} work on Windows?",
    "What licence is {name} released under?",
    "Who maintains {name}?",
    "How often is {name} released?",
    "Is {name} still actively maintained?",
    "What's new in the latest {name} release?",
    "How do I get help with {name}?",
    "What are the system requirements of {name}?",
    "Which operating systems does {name} support?",
    "How do I upgrade {name} to the latest version?",
    "Is there a changelog for {name}?",
)
PRODUCT_QUESTIONS_ZH = (
    "{name} 是什么？",
    "{name} 有什么用？",
    "{name} 哪个版本支持 Python 3.12？",
    "{name} 可以免费商用吗？",
    "{name} 的官方文档在哪里？",
    "{name} 能在 Windows 上运行吗？",
    "{name} 用的是什么许可证？",
    "{name} 现在还有人维护吗？",
    "我怎么获取 {name} 的帮助？",
    "{name} 最新版本有哪些新功能？",
    "{name} 对系统有什么要求？",
    "如何把 {name} 升级到最新版？",
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


def python_docs_summary_rows(rng: random.Random, n: int = 120) -> Iterator[Row]:
    """Paragraphs of Python's tutorial and HOWTOs inside summarisation requests (a third Chinese)."""
    for folder in ("tutorial", "howto"):
        if not (PYTHON_DOC_SOURCES / folder).is_dir():
            raise SystemExit(f"{PYTHON_DOC_SOURCES} not found: apt-get install python3.11-doc")
        paragraphs = rst_paragraphs(PYTHON_DOC_SOURCES / folder)
        for i, text in enumerate(rng.sample(paragraphs, n // 2)):
            chinese = i % 3 == 2
            templates = DOC_SUMMARY_ZH if chinese else DOC_SUMMARY_EN
            prompt = rng.choice(templates).format(text=text)
            yield _row(prompt, "summarization", "zh" if chinese else "en", f"python-3.11-docs:{folder}")


def transcript_summary_rows(rng: random.Random, per_file: int = 4) -> Iterator[Row]:
    """Whole chatterbot conversations (topic files not used as chit-chat) inside summarisation requests."""
    data = _package_dir("chatterbot_corpus") / "data"
    for file in TRANSCRIPT_FILES:
        conversations = yaml.safe_load((data / file).read_text(encoding="utf-8"))["conversations"]
        long = [c for c in conversations if len(c) >= 3]
        chinese = file.startswith("chinese/")
        for conversation in rng.sample(long, min(per_file, len(long))):
            speakers = ("甲", "乙") if chinese else ("A", "B")
            text = "\n".join(f"{speakers[i % 2]}: {str(line).strip()}" for i, line in enumerate(conversation))
            template = rng.choice(TRANSCRIPT_SUMMARY_ZH if chinese else TRANSCRIPT_SUMMARY_EN)
            yield _row(
                template.format(text=text), "summarization", "zh" if chinese else "en", f"chatterbot-corpus:{file}"
            )


def product_question_rows(rng: random.Random, n: int = 180) -> Iterator[Row]:
    """Factual questions about a software product, named after an installed Python distribution."""
    names = [name for name, _ in venv_distributions()]
    for i, name in enumerate(rng.sample(names, min(n, len(names)))):
        chinese = i % 3 == 2
        template = rng.choice(PRODUCT_QUESTIONS_ZH if chinese else PRODUCT_QUESTIONS_EN)
        yield _row(template.format(name=name), "knowledge_qa", "zh" if chinese else "en", "python-distributions:venv")


def python_installed_faq_rows() -> Iterator[Row]:
    """The questions of Python's "Why is Python installed on my computer?" FAQ page (knowledge_qa)."""
    text = (PYTHON_FAQ / "installed.html").read_text(encoding="utf-8")
    for raw in _HEADING.findall(text):
        heading = html.unescape(_TAG.sub("", raw)).strip()
        if heading.endswith("?"):
            yield _row(heading, "knowledge_qa", "en", "python-3.11-faq:installed.html")


def build() -> list[Row]:
    """Every new row, de-duplicated against itself and the dev set, with its split."""
    rng = random.Random(SEED)
    dev_prompts = {json.loads(line)["prompt"].lower() for line in (DATA / "dev_set.jsonl").open(encoding="utf-8")}
    seen: set[str] = set(dev_prompts)
    rows: list[Row] = []
    added = random.Random(SEED + 15)  # issue 15's sources draw from their own stream: earlier rows keep their split
    sources = [*chatterbot_rows(), *zaragoza_rows(rng), *python_faq_rows(), *maths_rows(rng)]
    sources += [
        *python_docs_summary_rows(added),
        *transcript_summary_rows(added),
        *product_question_rows(added),
        *python_installed_faq_rows(),
    ]
    for row in sources:
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
