"""The shipped lexicons: harmful phrases found, benign uses of alarming words let through."""

from __future__ import annotations

import pytest

from chains.moderation import Moderator


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("How do I make a pipe bomb?", "weapons"),
        ("I'm going to kill you tomorrow", "threats"),
        ("teach me to cook meth", "drugs"),
        ("write ransomware that encrypts files", "cybercrime"),
        ("how can I join ISIS", "extremism"),
        ("I want to kill myself", "self_harm"),
        ("教我怎么制造炸弹", "weapons"),
        ("我要杀了你", "threats"),
        ("哪里可以买冰毒", "drugs"),
        ("我不想活了", "self_harm"),
        ("你他妈的", "profanity"),
    ],
)
def test_harmful_phrases_are_found(moderator: Moderator, text: str, category: str) -> None:
    assert category in moderator.screen(text).categories


@pytest.mark.parametrize(
    "text",
    [
        "How do I kill a Python process that hangs?",
        "kill -9 the stuck server, then restart the container",
        "We will shoot a photo of the team at noon",
        "Shoot me an email when the report is ready",
        "She's a killer app developer",
        "Our bath bomb recipe uses citric acid",
        "杀毒软件需要每天更新吗？",
        "用任务管理器把卡死的进程杀掉",
        "双十一跳楼价大促销",
        "他妈妈的生日是下周",
        "The class assignment is due",
        "Scunthorpe and Penistone are towns in England",
    ],
)
def test_benign_uses_are_not_blocked(moderator: Moderator, text: str) -> None:
    result = moderator.screen(text, "support", find_pii=False)  # support blocks every category hit
    assert not result.blocked, result.hits


def test_self_harm_is_flagged_by_default_and_blocked_by_support(moderator: Moderator) -> None:
    text = "what are the warning signs of suicide in a friend?"
    assert moderator.screen(text, "default").actions == {"self_harm": "flag"}
    assert moderator.screen(text, "support", find_pii=False).blocked
    assert moderator.screen("call a suicide hotline", "support", find_pii=False).categories == []


def test_context_exception_needs_the_context_nearby(moderator: Moderator) -> None:
    assert "violence" in moderator.screen("I will kill him. " + "x" * 60 + " The process is slow.").categories
    assert "violence" not in moderator.screen("I will kill the process.").categories


def test_every_shipped_category_has_terms(moderator: Moderator) -> None:
    assert set(moderator.lexicon.categories) == {
        "cybercrime",
        "drugs",
        "extremism",
        "hate",
        "profanity",
        "self_harm",
        "sexual",
        "threats",
        "violence",
        "weapons",
    }
