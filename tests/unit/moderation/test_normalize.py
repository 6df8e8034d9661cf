"""Normalisation tricks: the disguised word is found, at the right place in the original."""

from __future__ import annotations

import pytest

from chains.moderation import Lexicon, normalize

LEXICON = Lexicon.from_terms({"violence": ["kill*"], "sensitive": ["敏感"], "profanity": ["shit"]})


@pytest.mark.parametrize(
    "text",
    [
        "KILL",
        "Kill",
        "ｋｉｌｌ",  # case, full-width
        "k.i.l.l",
        "k i l l",
        "k-i-l-l",
        "k_i_l_l",
        "k*i*l*l",  # separators
        "k1ll",
        "ki11",
        "k|ll",  # digit / symbol substitutes
        "кіll",  # Cyrillic к and і
        "kíll",
        "𝐤𝐢𝐥𝐥",  # accents, mathematical bold
        "k\u200bi\u200bll",  # zero-width spaces
    ],
)
def test_disguised_english_is_found(text: str) -> None:
    sentence = f"I will {text} him"
    [hit] = LEXICON.scan(sentence)
    assert hit.category == "violence"
    assert sentence[hit.start : hit.end] == text


@pytest.mark.parametrize("text", ["敏感", "敏 感", "敏　感", "敏*感", "敏.感", "敏\u200b感"])
def test_disguised_chinese_is_found(text: str) -> None:
    sentence = f"这是{text}词"
    [hit] = LEXICON.scan(sentence)
    assert sentence[hit.start : hit.end] == text


def test_chinese_punctuation_is_a_real_boundary() -> None:
    assert LEXICON.scan("我很敏。感谢你") == []


@pytest.mark.parametrize("text", ["skill", "skillet", "shipshape", "s h i p", "mishits"])
def test_whole_words_only(text: str) -> None:
    assert LEXICON.scan(text) == []


def test_prefix_terms_match_endings_but_not_inside_words() -> None:
    assert [h.category for h in LEXICON.scan("the killing fields")] == ["violence"]
    assert LEXICON.scan("skills and skillets") == []


def test_compact_view_maps_back_to_the_original() -> None:
    view = normalize("ab  k.i.l.l")
    assert view.compact == "ab kiii"
    assert view.to_original(3, 7) == (4, 11)


def test_folded_view_keeps_offsets() -> None:
    text = "Ｈｅｌｌｏ，世界"
    assert len(normalize(text).folded) == len(text)
