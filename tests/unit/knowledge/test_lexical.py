"""The BM25 side: tokenising English and Chinese, full score vectors, top-k and coverage."""

from __future__ import annotations

import numpy as np

from knowledge.lexical import LexicalIndex, cjk_share, tokenize

TEXTS = [
    "Refunds are paid within 14 days of the return arriving.",
    "We ship sheds and greenhouses by freight carrier.",
    "退货政策：收到退货后 5 个工作日内退款。",
]


def test_tokenize_stems_english_drops_stop_words_and_cuts_chinese():
    assert tokenize("How do I return shoes?") == ["return", "shoe"]
    assert tokenize("Returned, RETURNS") == ["return", "return"]
    assert {"退货", "政策"} <= set(tokenize("退货政策是什么"))
    assert cjk_share("退货 policy") == 2 / 8 and cjk_share("") == 0.0


def test_scores_cover_every_text_and_top_keeps_only_matches():
    index = LexicalIndex(TEXTS)
    scores = index.scores(tokenize("refund after return"))
    assert scores.shape == (3,) and scores[0] > 0 and scores[1] == 0 and scores[2] == 0
    assert LexicalIndex.top(scores, 5) == [(0, float(scores[0]))]
    assert index.search(tokenize("退货"), 2)[0][0] == 2


def test_unknown_terms_empty_index_and_zero_limit_give_nothing():
    index = LexicalIndex(TEXTS)
    assert index.scores(["zeppelin"]).tolist() == [0.0, 0.0, 0.0]
    assert index.search([], 3) == []
    assert index.search(tokenize("freight"), 0) == []
    empty = LexicalIndex([])
    assert len(empty) == 0 and empty.scores(["refund"]).shape == (0,) and empty.search(["refund"], 3) == []
    assert LexicalIndex.top(np.zeros(0), 3) == []


def test_coverage_is_the_idf_weighted_share_of_query_terms_found():
    index = LexicalIndex(TEXTS)
    assert index.coverage(tokenize("refunds within days"), 0) == 1.0
    assert index.coverage(tokenize("refunds by freight"), 1) == 0.5  # "refund" and "freight" each in one text
    assert index.coverage(tokenize("zeppelin"), 0) == 0.0
