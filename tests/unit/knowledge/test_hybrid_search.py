"""Hybrid search on the Yardstore sample (English and Chinese), relevance, MMR and freshness."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import KnowledgeBase, SearchOptions, ensure_sample_kb

ON_TOPIC_EN = ["How long does a refund take?", "Do you deliver to Switzerland?", "I forgot my password"]
OFF_TOPIC = [
    "What is the capital of France?",
    "How do I bake sourdough bread?",
    "今天天气怎么样？",
    "什么是量子计算？",
]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How long does a refund take?", "How long does a refund take?"),
        ("Can I send back seeds or live plants?", "Returns and refunds > Conditions"),
        ("Will the freight carrier deliver a shed to a parcel locker?", "Shipping policy > Bulky items"),
        ("Do you sell my personal data?", "Privacy notice > Why we use it"),
    ],
)
def test_english_questions_find_the_right_section(shop_kb, question, expected):
    headings = [hit.heading for hit in shop_kb.search(question, k=3)]
    assert expected in headings


@pytest.mark.parametrize(
    ("question", "must_contain"),
    [
        ("退款需要多久？", "5 个工作日"),
        ("保修期多长？", "2 年保修"),
        ("怎么联系客服", "+31 30 555 0199"),
        ("加急配送运费", "12.95"),
    ],
)
def test_chinese_questions_find_chinese_answers(shop_kb, question, must_contain):
    hits = shop_kb.search(question, k=3)
    assert any(must_contain in hit.text for hit in hits), [hit.text[:40] for hit in hits]
    assert hits[0].score >= 0.35


def test_relevance_separates_answerable_from_unrelated_questions(shop_kb):
    answerable = [shop_kb.search(q, k=1)[0].score for q in ON_TOPIC_EN]
    unrelated = [shop_kb.search(q, k=1)[0].score if shop_kb.search(q, k=1) else 0.0 for q in OFF_TOPIC]
    assert min(answerable) > max(unrelated)
    assert all(not shop_kb.search(q, k=4, min_relevance=0.35) for q in OFF_TOPIC)


def test_each_mode_ranks_on_its_own_signal(shop_kb):
    lexical = shop_kb.search("YardPro spare parts spools", k=3, mode="lexical")
    assert lexical[0].heading == "Warranty > Spare parts" and lexical[0].dense_score is None
    dense = shop_kb.search("my parcel never showed up", k=3, mode="dense")
    assert dense and all(hit.dense_score is not None for hit in dense)
    assert any("Lost or late" in hit.heading or "late" in hit.heading for hit in dense)


def test_hits_serialise_to_the_cli_shape(shop_kb):
    hit = shop_kb.search("return label cost from Switzerland", k=1)[0]
    as_dict = hit.to_dict()
    assert {"source", "heading", "text", "score"} <= set(as_dict)
    assert as_dict["source"].endswith("returns.md") and 0 <= as_dict["score"] <= 1
    document = hit.to_document()
    assert document.metadata["score"] == hit.score and document.id == hit.id


def test_mmr_trades_near_duplicates_for_variety(make_kb, tmp_path):
    folder = tmp_path / "dupes"
    folder.mkdir()
    for i in range(3):
        (folder / f"copy{i}.txt").write_text(f"Lawn mower blades must be sharpened every spring, copy {i}.")
    (folder / "other.txt").write_text("Sharpen hedge trimmer blades and oil them after every use.")
    (folder / "unrelated.txt").write_text("Our privacy notice explains which personal data we keep.")
    kb = make_kb()
    kb.ingest([folder])
    plain = [Path(hit.source).name for hit in kb.search("sharpening mower blades", k=3)]
    diverse = [Path(hit.source).name for hit in kb.search("sharpening mower blades", k=3, mmr=True)]
    assert sorted(plain) == ["copy0.txt", "copy1.txt", "copy2.txt"]
    assert "other.txt" in diverse and len(set(diverse)) == 3


def test_a_searcher_sees_writes_made_through_another_client(make_kb, tmp_path):
    reader = make_kb()
    writer = make_kb()  # another KnowledgeBase object, as another process would have
    assert reader.search("gift cards", k=1) == []
    note = tmp_path / "gift.txt"
    note.write_text("Gift cards are valid for three years from purchase.")
    writer.ingest([note])
    assert "three years" in reader.search("how long are gift cards valid", k=1)[0].text
    writer.delete_document(note)
    assert reader.search("how long are gift cards valid", k=1) == []


def test_sample_kb_is_ingested_idempotently(data_home):
    first = ensure_sample_kb()
    assert len(first.added) == 6 and not first.skipped
    second = ensure_sample_kb()
    assert len(second.unchanged) == 6 and second.chunks_written == 0
    assert KnowledgeBase("shop").stats().documents == 6


def test_empty_query_and_empty_collection_return_nothing(make_kb, shop_kb):
    assert shop_kb.search("   ", k=3) == []
    assert make_kb("empty").search("anything", k=3) == []


def _write(folder: Path, texts: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in texts.items():
        (folder / name).write_text(text)
    return folder


def test_keyword_decoys_do_not_push_the_paraphrased_answer_out(make_kb, tmp_path):
    folder = _write(
        tmp_path / "refunds",
        {
            "answer.txt": "Refunds reach your bank account within five working days of the parcel arriving.",
            "decoy.txt": "Money back? Long story: the back room is where we keep money boxes for a long time.",
            "hedge.txt": "Sharpen hedge trimmer blades and oil them after every use.",
            "privacy.txt": "Our privacy notice explains which personal data we keep.",
            "shed.txt": "Garden sheds are delivered by a freight carrier on a pallet.",
        },
    )
    kb = make_kb()
    kb.ingest([folder])
    question = "How long until I get my money back?"
    assert Path(kb.search(question, k=1, mode="lexical")[0].source).name == "decoy.txt"
    assert Path(kb.search(question, k=1, mode="dense")[0].source).name == "answer.txt"
    hybrid = kb.search(question, k=2)
    assert Path(hybrid[0].source).name == "answer.txt"
    assert all(hit.dense_score is not None for hit in hybrid)  # lexical-only candidates get a cosine too
    assert hybrid[0].lexical_score is None and hybrid[1].lexical_score is not None
    rrf = KnowledgeBase("docs", search_options=SearchOptions(fusion="rrf")).search(question, k=1)
    assert Path(rrf[0].source).name == "decoy.txt"  # the earlier fusion, kept for comparison, does not


GARDEN_FAQ = """# Garden care

## When should I prune roses?

Late winter, just before the buds swell. {long}

## How often do I water a new lawn?

Every morning for the first two weeks, then twice a week.

## Can compost go on vegetables?

Yes, dig well-rotted compost into the beds in autumn.
"""


def test_section_headings_are_matched_on_their_own_vector(make_kb, tmp_path):
    chapter = tmp_path / "garden.md"
    long = " ".join(f"Cut stem number {i} above an outward-facing bud." for i in range(40))
    chapter.write_text(GARDEN_FAQ.format(long=long), encoding="utf-8")
    kb = make_kb()
    kb.ingest([chapter])
    top = kb.search("How often do I water a new lawn?", k=1, mode="dense")[0]
    assert top.heading == "Garden care > How often do I water a new lawn?"
    assert top.heading_score == pytest.approx(1.0, abs=1e-3) and top.dense_score < top.heading_score
    roses = [hit for hit in kb.search("pruning roses", k=10) if "prune roses" in hit.heading]
    assert len(roses) > 1 and sum(hit.heading_score is not None for hit in roses) == 1  # first chunk only
    body_only = KnowledgeBase(kb.name, create=False, search_options=SearchOptions(heading_vectors=False))
    plain = body_only.search("How often do I water a new lawn?", k=3, mode="dense")
    assert all(hit.heading_score is None for hit in plain)
    assert plain[0].id == top.id and plain[0].dense_score == pytest.approx(top.dense_score)
