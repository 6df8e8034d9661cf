"""Score fusion, reciprocal rank fusion and MMR on hand-made score lists (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.fusion import fusion_weights, mmr_select, reciprocal_rank_fusion, score_fusion, zscores
from knowledge.search import SearchOptions

DENSE_LEADS = (0.75, 0.25)


def ids(fused: list[tuple[str, float]]) -> list[str]:
    return [item for item, _ in fused]


def test_zscores_centre_and_scale_and_a_flat_list_carries_no_signal():
    assert zscores([1.0, 2.0, 3.0]).tolist() == pytest.approx([-1.2247, 0.0, 1.2247], abs=1e-4)
    assert zscores([0.4, 0.4, 0.4]).tolist() == [0.0, 0.0, 0.0]
    assert zscores([]).tolist() == []


def test_a_lexical_only_match_does_not_push_a_strong_dense_hit_out_of_the_top_k():
    # The question shares no word with its answer ("a"); BM25's best is a weak keyword match.
    dense = {"a": 0.71, "b": 0.42, "c": 0.40, "d": 0.38, "e": 0.37, "x": 0.18}
    lexical = {"a": 0.0, "b": 0.0, "c": 0.0, "d": 1.1, "e": 0.0, "x": 4.2}
    top2 = ids(score_fusion([dense, lexical], weights=DENSE_LEADS))[:2]
    assert top2[0] == "a" and "x" not in top2
    # Textbook RRF (k=60, equal weights) does push it out: "x" is BM25's first and "a" has no BM25 rank.
    rrf = reciprocal_rank_fusion([list(dense), ["x", "d"]], k=60)
    assert ids(rrf)[0] == "d" and "a" not in ids(rrf)[:1]


def test_a_strong_lexical_match_lifts_a_chunk_dense_ranks_mid_pack():
    # A product code: dense ranks its chunk 5th of 8, BM25 singles it out.
    dense = {"p": 0.60, "q": 0.58, "r": 0.57, "s": 0.565, "code": 0.56, "t": 0.55, "u": 0.54, "v": 0.53}
    lexical = {"p": 0.0, "q": 0.4, "r": 0.0, "s": 0.0, "code": 9.0, "t": 0.3, "u": 0.0, "v": 0.0}
    assert ids(score_fusion([dense, lexical], weights=DENSE_LEADS))[:2] == ["p", "code"]
    assert ids(score_fusion([dense, {}], weights=DENSE_LEADS))[4] == "code"


def test_an_id_missing_from_a_list_counts_as_that_lists_worst():
    fused = dict(score_fusion([{"a": 3.0, "b": 2.0, "c": 1.0}, {"a": 1.0, "b": 5.0}]))
    assert fused["c"] < fused["a"] < fused["b"]
    worst_lexical = zscores([1.0, 5.0]).min()
    assert fused["c"] == pytest.approx(zscores([3.0, 2.0, 1.0])[2] + worst_lexical)


def test_ties_keep_first_seen_order_dense_first():
    fused = score_fusion([{"a": 1.0, "b": 1.0}, {"c": 2.0, "d": 2.0}])
    assert ids(fused) == ["a", "b", "c", "d"] and {score for _, score in fused} == {0.0}


def test_empty_lists_and_zero_weights_fuse_to_what_is_left():
    assert score_fusion([]) == []
    assert score_fusion([{}, {}]) == []
    only_lexical = score_fusion([{}, {"x": 1.0, "y": 3.0}])
    assert ids(only_lexical) == ["y", "x"]
    ignored = score_fusion([{"a": 0.9, "b": 0.1}, {"b": 7.0}], weights=[1.0, 0.0])
    assert ids(ignored) == ["a", "b"]


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match="2 score lists but 1 weights"):
        score_fusion([{"a": 1.0}, {"a": 2.0}], weights=[1.0])
    with pytest.raises(ValueError, match="must not be negative"):
        score_fusion([{"a": 1.0}], weights=[-0.5])


def test_reciprocal_rank_fusion_still_weights_and_orders():
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=20, weights=[1.0, 0.5])
    assert ids(fused) == ["b", "a", "c"]
    assert dict(fused)["a"] == pytest.approx(1 / 21)


def test_mmr_skips_a_near_duplicate_for_a_relevant_different_candidate():
    vectors = np.array([[1.0, 0.0], [0.999, 0.045], [0.6, 0.8]])
    assert mmr_select([0.66, 0.65, 0.55], vectors, k=2, lambda_mult=0.7) == [0, 2]
    assert mmr_select([0.66, 0.65, 0.55], vectors, k=2, lambda_mult=1.0) == [0, 1]
    assert mmr_select([], [], k=3) == []


@pytest.mark.parametrize(
    ("chinese", "heading_led", "expected"),
    [
        (False, False, (0.75, 0.25)),  # alphabetic, best dense match a body: the script's default
        (False, True, (0.9, 0.1)),  # alphabetic, best dense match a heading: dense leans further
        (True, False, (0.25, 0.75)),  # Chinese: lexical leads
        (True, True, (0.25, 0.75)),  # ... whatever the headings say (MiniLM reads Chinese poorly)
    ],
)
def test_fusion_weights_follow_the_script_and_whether_a_heading_leads(chinese, heading_led, expected):
    weights = fusion_weights(chinese=chinese, heading_led=heading_led, primary_share=0.75, heading_share=0.9)
    assert weights == pytest.approx(expected) and sum(weights) == pytest.approx(1.0)


def test_a_heading_led_query_keeps_its_heading_match_against_a_keyword_match():
    # A paraphrase meets its question's heading ("q", cosine 0.80) but shares words with another
    # section ("w"): at the fixed 0.75 BM25 overturns the heading match, at heading_share 0.9 it does not.
    dense = {"q": 0.80, "w": 0.74, "c": 0.55, "d": 0.52, "e": 0.50}
    lexical = {"q": 0.0, "w": 6.0, "c": 1.0, "d": 0.5, "e": 0.0}
    fixed = fusion_weights(chinese=False, heading_led=False, primary_share=0.75, heading_share=0.9)
    adaptive = fusion_weights(chinese=False, heading_led=True, primary_share=0.75, heading_share=0.9)
    assert ids(score_fusion([dense, lexical], weights=fixed))[0] == "w"
    assert ids(score_fusion([dense, lexical], weights=adaptive))[0] == "q"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"primary_share": 1.5}, "primary_share must be between 0 and 1"),
        ({"heading_share": -0.1}, "heading_share must be between 0 and 1"),
        ({"fetch_k": 0}, "fetch_k must be at least 1"),
        ({"fusion": "borda"}, "fusion must be 'score' or 'rrf'"),
        ({"secondary_weight": -1.0}, "must not be negative"),
    ],
)
def test_search_options_refuse_out_of_range_values(options, message):
    with pytest.raises(ValueError, match=message):
        SearchOptions(**options)
