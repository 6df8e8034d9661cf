"""The trained task head: the shipped file, fitting on real MiniLM vectors, loading errors, and the
split between fitted-on and untouched rows. Real embeddings and scikit-learn; no mocks."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import CatalogError
from models.embeddings import local_embeddings
from routers.task import TaskClassifier
from routers.task_config import load_task_config
from routers.task_head import FEATURES_VERSION, TaskHead, TfidfVocabulary, head_features
from routers.task_head_fit import (
    evaluation_rows,
    fit_arrays,
    head_from_arrays,
    save_head,
    training_rows,
    untouched_rows,
)
from routers.task_text import normalise

TINY = {
    "math": ["Solve 3x + 1 = 10", "What is 17 times 23?", "Integrate x squared", "解方程 2x = 8", "计算 5 加 7"],
    "translation": [
        "Translate hello into French",
        "How do you say thanks in German?",
        "把这句话翻译成英文",
        "What is 'cat' in Spanish?",
        "翻译：早上好",
    ],
}


@pytest.fixture(scope="module")
def tiny_arrays() -> dict[str, np.ndarray]:
    texts = [t for examples in TINY.values() for t in examples]
    labels = [task for task, examples in TINY.items() for _ in examples]
    vectors = np.asarray(local_embeddings().embed_documents(texts), dtype=np.float32)
    return fit_arrays(texts, labels, vectors, list(TINY), calibrate=False)


def test_head_features_add_word_prefixes_to_the_lexical_tokens():
    assert head_features("Summarise 翻译") == ["summarise", "翻", "译", "翻译", "~summa"]


def test_tfidf_rows_are_unit_length_and_drop_unknown_tokens():
    vocabulary = TfidfVocabulary.fit(["solve this", "solve that", "translate this"], min_df=2)
    assert set(vocabulary.index) == {"solve", "this"}
    rows = vocabulary.transform(["solve solve this", "nothing known"])
    assert np.isclose(np.linalg.norm(rows[0]), 1.0) and not rows[1].any()


def test_fitted_head_separates_unseen_prompts(tiny_arrays):
    head = head_from_arrays(tiny_arrays, local_embeddings())
    probabilities = head.scores(["Work out 12 divided by 4", "Say good night in Italian"])
    assert [head.tasks[i] for i in probabilities.argmax(axis=1)] == ["math", "translation"]
    assert np.allclose(probabilities.sum(axis=1), 1.0)


def test_fit_refuses_a_task_without_rows():
    vectors = np.zeros((2, 384), dtype=np.float32)
    with pytest.raises(ValueError, match="no training rows for tasks: code"):
        fit_arrays(["a b", "a c"], ["math", "math"], vectors, ["math", "code"])


def test_head_file_round_trip_without_pickle(tmp_path, tiny_arrays):
    path = tmp_path / "head.npz"
    save_head(path, tiny_arrays)
    with np.load(path, allow_pickle=False) as data:
        assert all(data[name].dtype != object for name in data.files)
    loaded = TaskHead.load(path, local_embeddings())
    fresh = head_from_arrays(tiny_arrays, local_embeddings())
    prompt = ["How much is 9 squared?"]
    assert loaded.tasks == list(TINY) and np.allclose(loaded.scores(prompt), fresh.scores(prompt), atol=1e-5)


def test_head_from_other_features_or_a_missing_file_is_a_clear_error(tmp_path, tiny_arrays):
    with pytest.raises(CatalogError, match="task head not found"):
        TaskHead.load(tmp_path / "absent.npz", local_embeddings())
    old = tmp_path / "old.npz"
    save_head(old, {**tiny_arrays, "features_version": np.array(FEATURES_VERSION + 1)})
    with pytest.raises(CatalogError, match="refit"):
        TaskHead.load(old, local_embeddings())


def test_head_fitted_for_other_tasks_is_refused(tmp_path, tiny_arrays):
    path = tmp_path / "tiny.npz"
    save_head(path, tiny_arrays)
    config = load_task_config().model_copy(update={"head": str(path)})
    with pytest.raises(CatalogError, match="not the taxonomy") as error:
        TaskClassifier.from_config(config)
    assert error.value.field == "task.head"


def test_shipped_head_is_the_configured_classifier_with_readable_reasons():
    classifier = TaskClassifier.from_config()
    assert isinstance(classifier.index, TaskHead) and classifier.index.tasks == classifier.taxonomy
    decision = classifier.classify("Who was the first emperor of Rome?")
    assert decision.method == "semantic" and decision.task == "knowledge_qa"
    assert decision.reason.startswith("the task model rates knowledge_qa most likely (")
    assert classifier.index.threshold("knowledge_qa") <= decision.score <= 1


def test_untouched_rows_are_never_fitted_on():
    fitted = {normalise(r.prompt).casefold() for r in training_rows(load_task_config())}
    untouched = untouched_rows()
    assert len(untouched) >= 300 and {r.lang for r in untouched} == {"en", "zh"}
    assert not fitted & {normalise(r.prompt).casefold() for r in untouched}
    evaluation = evaluation_rows()  # other sources than any fitted row (bench/build_routing_evalset.py)
    assert len(evaluation) >= 150 and {r.split for r in evaluation} == {"eval"}
    assert not fitted & {normalise(r.prompt).casefold() for r in evaluation}
    assert not {r.source for r in evaluation} & {r.source for r in training_rows(load_task_config())}
