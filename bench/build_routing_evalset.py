"""Build the task classifier's evaluation set: ``routers/data/eval_set.jsonl`` (never fitted on).

Added for issue 15 (knowledge_qa about products and summarisation of pasted texts were the weak
classes on an outside held-out set). Every row comes from a source the training rows do not use,
and the instructions around texts are templates written for this file only, so the figures on it
measure transfer, not fit. Nothing is fitted, calibrated or tuned on it; the rules and templates
of the training set were written before it was scored. Deterministic; rebuild with::

    apt-get install git-doc sqlite3-doc manpages-zh
    .venv/bin/python bench/build_routing_evalset.py

Sources (licences in ``routers/data/NOTICE.md``):

* SQLite's FAQ (Debian ``sqlite3-doc``) — its questions, labelled by hand below: facts about the
  product → ``knowledge_qa``, how to write or fix SQL → ``code``.
* Git's FAQ (Debian ``git-doc``) — its questions → ``code`` (Git usage is ``code`` in this
  taxonomy, as in ``config/routing.yaml``); paragraphs of Git's user manual and tutorial inside
  summarisation requests (English and Chinese instructions).
* Chinese man pages (Debian ``manpages-zh``) — paragraphs inside Chinese summarisation requests.
* Installed Debian packages (``dpkg-query``) — product questions about them (``knowledge_qa``),
  English and Chinese templates.
* ``WRITTEN_ZH`` — Chinese product questions written for this file.

Each line: ``{"prompt", "task", "lang", "source", "split": "eval"}``.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_routing_devset import DATA, ROOT, Row, _row  # noqa: E402
from routing_sources import asciidoc_paragraphs, debian_packages, manpage_paragraphs  # noqa: E402

OUTPUT = DATA / "eval_set.jsonl"
SEED = 15_2026
SQLITE_FAQ = Path("/usr/share/doc/sqlite3/faq.html")
GIT_DOC = Path("/usr/share/doc/git-doc")
MAN_ZH = Path("/usr/share/man/zh_CN")

SQLITE_CODE = (  # the FAQ's how-to-write-SQL questions; the rest are facts about SQLite
    "autoincrement",
    "insert a string",
    "'0' and '0.0'",
    "list all tables",
    "add, delete or rename",
    "embedded single-quote",
    "sqlite_schema error",
    "compiler warnings",
    "insert is really slow",
    "compiler error",
    "where clause",
    "column name that i expect",
    "case-insensitive",
    "sqlite_corrupt",
)
SUMMARY_EN = (
    "Please write a summary of the text below.\n\n{text}",
    "{text}\n\nWhat's the bottom line here?",
    "Could you sum this up for a newcomer?\n{text}",
    "Shorten the following passage to a single paragraph: {text}",
    "{text}\n\nIn short, what does this say?",
    "Give me the highlights of this excerpt:\n{text}",
)
SUMMARY_ZH = (
    "请为下面这段文字写个摘要：\n{text}",
    "{text}\n\n这段讲的是什么？简单说一下。",
    "概括下面这段话的主要观点：{text}",
    "{text}\n请用一句话总结。",
)
PRODUCT_EN = (
    "What does the {name} package do?",
    "Which Debian release ships {name}?",
    "Is {name} open source?",
    "Can I use {name} on a server without a desktop?",
    "Where is the user guide for {name}?",
    "What is the difference between {name} and its alternatives?",
    "Does {name} come preinstalled?",
    "Who develops {name}?",
)
PRODUCT_ZH = (
    "{name} 这个软件包是做什么的？",
    "哪个版本的系统自带 {name}？",
    "{name} 是开源的吗？",
    "{name} 的使用手册在哪儿能找到？",
    "{name} 和同类软件相比有什么区别？",
    "{name} 是谁开发的？",
)
WRITTEN_ZH = (
    "这个软件的最新版本支持苹果电脑吗？",
    "你们的退换货政策适用于海外订单吗？",
    "这本说明书里提到的保修期是多久？",
    "新版系统最低需要多少内存？",
    "这个套餐包含哪些服务？",
    "会员等级有哪几种，分别有什么权益？",
    "该产品通过了哪些安全认证？",
    "这款路由器最多能连接多少台设备？",
    "文档里说的“离线模式”是什么意思？",
    "哪一版开始支持多用户登录？",
    "这个平台的数据存放在哪个国家？",
    "免费版和专业版有什么区别？",
    "使用手册第三章讲的是什么内容？",
    "这个应用支持哪些语言？",
    "这款耳机的续航时间是多少？",
    "该服务的营业时间是几点到几点？",
)
_TAG = re.compile(r"<[^>]+>")


def sqlite_faq_rows() -> Iterator[Row]:
    """SQLite's FAQ questions, labelled by :data:`SQLITE_CODE`."""
    text = SQLITE_FAQ.read_text(encoding="utf-8")
    for raw in re.findall(r'<a href="#q\d+">(.*?)</a>', text, re.S):
        question = " ".join(html.unescape(_TAG.sub("", raw)).split())
        task = "code" if any(key in question.lower() for key in SQLITE_CODE) else "knowledge_qa"
        yield _row(question, task, "en", "sqlite-faq:faq.html", "eval")


def git_faq_rows() -> Iterator[Row]:
    """Git's FAQ questions (``code``)."""
    for line in (GIT_DOC / "gitfaq.txt").read_text(encoding="utf-8").splitlines():
        if line.endswith("?::"):
            yield _row(" ".join(line[:-2].split()), "code", "en", "git-doc:gitfaq.txt", "eval")


def git_summary_rows(rng: random.Random, n: int = 45) -> Iterator[Row]:
    """Paragraphs of Git's manuals inside summarisation requests (a third Chinese instructions)."""
    paths = [GIT_DOC / name for name in ("user-manual.txt", "gittutorial.txt", "giteveryday.txt")]
    for i, text in enumerate(rng.sample(asciidoc_paragraphs(paths), n)):
        chinese = i % 3 == 2
        template = rng.choice(SUMMARY_ZH if chinese else SUMMARY_EN)
        yield _row(template.format(text=text), "summarization", "zh" if chinese else "en", "git-doc:manuals", "eval")


def manpage_summary_rows(rng: random.Random, n: int = 30) -> Iterator[Row]:
    """Paragraphs of Chinese man pages inside Chinese summarisation requests."""
    for text in rng.sample(manpage_paragraphs(MAN_ZH / "man1") + manpage_paragraphs(MAN_ZH / "man8"), n):
        yield _row(rng.choice(SUMMARY_ZH).format(text=text), "summarization", "zh", "manpages-zh:man1+8", "eval")


def debian_product_rows(rng: random.Random, n: int = 60) -> Iterator[Row]:
    """Product questions about installed Debian packages."""
    for i, (name, _) in enumerate(rng.sample(debian_packages(), n)):
        chinese = i % 3 == 2
        template = rng.choice(PRODUCT_ZH if chinese else PRODUCT_EN)
        yield _row(template.format(name=name), "knowledge_qa", "zh" if chinese else "en", "dpkg:installed", "eval")


def build() -> list[Row]:
    """Every row, de-duplicated against the fitted and untouched sets."""
    rng = random.Random(SEED)
    seen = {
        json.loads(line)["prompt"].lower()
        for name in ("dev_set.jsonl", "train_set.jsonl")
        for line in (DATA / name).open(encoding="utf-8")
    }
    rows: list[Row] = []
    written = (_row(q, "knowledge_qa", "zh", "written-eval", "eval") for q in WRITTEN_ZH)
    for row in [
        *sqlite_faq_rows(),
        *git_faq_rows(),
        *git_summary_rows(rng),
        *manpage_summary_rows(rng),
        *debian_product_rows(rng),
        *written,
    ]:
        if row["prompt"].lower() not in seen:
            seen.add(row["prompt"].lower())
            rows.append(row)
    return rows


def main() -> None:
    rows = build()
    with OUTPUT.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} prompts to {OUTPUT.relative_to(ROOT)}")
    for (lang, task), n in sorted(Counter((r["lang"], r["task"]) for r in rows).items()):
        print(f"  {lang} {task:17} {n}")


if __name__ == "__main__":
    main()
