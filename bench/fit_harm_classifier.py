"""Fit the harmful-request classifier, write ``chains/moderation/data/harm_classifier.npz``, and
print its figures beside the lexicon's (the previous method), measured in the same run.

    nice -n 10 .venv/bin/python bench/fit_harm_classifier.py [--dry-run] [--no-loso]

Data: :func:`bench.harm_data.harm_rows` (fitted on ``train``; ``untouched`` is never fitted or
tuned on). The threshold printed as "suggested" lets 2 % of the out-of-fold benign training
prompts through as blocked; ``config/moderation.yaml`` sets each surface's own threshold.
Leave one source out: refit without one source family and score that family's rows.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harm_data import HarmRow, family, harm_rows  # noqa: E402
from chains.moderation import Moderator  # noqa: E402
from chains.moderation.harm_classifier import (  # noqa: E402
    DEFAULT_PATH,
    FEATURES_VERSION,
    HarmClassifier,
    harm_tokens,
    second_look_text,
)
from chains.moderation.policy import load_config  # noqa: E402
from models.embeddings import local_embeddings  # noqa: E402

C = 16.0
EMBEDDING_C = 4.0
SECOND_LOOK = (0.15, 0.97, 0.5)
"""The second look's band (low, high) and mix: the first values tried, not tuned."""
BENIGN_OOF_RATE = 0.02
PREVIOUS_COMMIT = "2f197cb"
"""The classifier before the PyRIT data, word stems and the Chinese glossary: its code and weights
are read from this commit and scored in the same run."""


def previous_classifier() -> Callable[[str], float]:
    """The score function of the classifier at :data:`PREVIOUS_COMMIT` (its own code and weights)."""
    import importlib.util
    import io
    import subprocess
    import tempfile

    def show(path: str) -> bytes:
        return subprocess.run(
            ["git", "show", f"{PREVIOUS_COMMIT}:{path}"], cwd=ROOT, capture_output=True, check=True
        ).stdout

    folder = Path(tempfile.mkdtemp(prefix="harm-previous-"))
    (folder / "previous_harm_classifier.py").write_bytes(show("chains/moderation/harm_classifier.py"))
    spec = importlib.util.spec_from_file_location("previous_harm_classifier", folder / "previous_harm_classifier.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    with np.load(io.BytesIO(show("chains/moderation/data/harm_classifier.npz")), allow_pickle=False) as data:
        previous = module.HarmClassifier.from_arrays({name: data[name] for name in data.files})
    return previous.score  # type: ignore[no-any-return]


def _vocabulary(texts: list[str]) -> tuple[list[str], np.ndarray]:
    df = Counter(token for text in texts for token in set(harm_tokens(text)))
    kept = sorted(t for t, n in df.items() if n >= 2)
    n = len(texts)
    return kept, np.array([math.log((1 + n) / (1 + df[t])) + 1 for t in kept], dtype=np.float32)


def _matrix(texts: list[str], index: dict[str, int], idf: np.ndarray):  # type: ignore[no-untyped-def]
    from scipy.sparse import csr_matrix

    rows, cols, vals = [], [], []
    for r, text in enumerate(texts):
        counts = Counter(harm_tokens(text))
        entries = [(index[t], (1 + math.log(tf)) * idf[index[t]]) for t, tf in counts.items() if t in index]
        norm = math.sqrt(sum(v * v for _, v in entries)) or 1.0
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v / norm)
    return csr_matrix((vals, (rows, cols)), shape=(len(texts), len(index)), dtype=np.float32)


class PromptVectors(Embeddings):
    """MiniLM vectors of the prompts, computed once per text (the real model, cached)."""

    def __init__(self) -> None:
        self.vectors: dict[str, list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = sorted({t for t in texts if t not in self.vectors})
        if missing:
            self.vectors.update(zip(missing, local_embeddings().embed_documents(missing), strict=True))
        return [self.vectors[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


VECTORS = PromptVectors()


def model(arrays: dict[str, np.ndarray]) -> HarmClassifier:
    """The classifier of ``arrays``, its second look embedding through :data:`VECTORS`."""
    return HarmClassifier.from_arrays(arrays, VECTORS)


def fit(rows: list[HarmRow]) -> dict[str, np.ndarray]:
    """The arrays of a model file fitted on ``rows``: the n-gram model and the second look's head."""
    from sklearn.linear_model import LogisticRegression

    texts = [r.prompt for r in rows]
    labels = np.array([r.harmful for r in rows])
    vocabulary, idf = _vocabulary(texts)
    index = {t: i for i, t in enumerate(vocabulary)}
    ngrams = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
    ngrams.fit(_matrix(texts, index, idf), labels)
    looked = [(second_look_text(t), harmful) for t, harmful in zip(texts, labels, strict=True)]
    looked = [(t, harmful) for t, harmful in looked if t]
    head = LogisticRegression(C=EMBEDDING_C, max_iter=3000, class_weight="balanced")
    head.fit(np.array(VECTORS.embed_documents([t for t, _ in looked])), np.array([h for _, h in looked]))
    return {
        "features_version": np.array(FEATURES_VERSION),
        "vocabulary": np.array(vocabulary),
        "idf": idf,
        "weights": ngrams.coef_[0].astype(np.float32),
        "bias": np.array(ngrams.intercept_[0], dtype=np.float32),
        "embedding_weights": head.coef_[0].astype(np.float32),
        "embedding_bias": np.array(head.intercept_[0], dtype=np.float32),
        "second_look": np.array(SECOND_LOOK, dtype=np.float32),
    }


def suggested_threshold(rows: list[HarmRow]) -> float:
    """Score that 2 % of out-of-fold benign training prompts reach (5 folds)."""
    rng = np.random.default_rng(0)
    folds = rng.integers(0, 5, len(rows))
    benign_scores = []
    for k in range(5):
        fold_model = model(fit([r for r, f in zip(rows, folds, strict=True) if f != k]))
        benign_scores += [
            fold_model.score(r.prompt) for r, f in zip(rows, folds, strict=True) if f == k and not r.harmful
        ]
    return float(np.quantile(benign_scores, 1 - BENIGN_OOF_RATE))


def _rates(rows: list[HarmRow], blocked: list[bool]) -> str:
    parts = []
    for lang in ("en", "zh"):
        for harmful, what in ((True, "harmful blocked"), (False, "benign blocked")):
            picked = [b for r, b in zip(rows, blocked, strict=True) if r.lang == lang and r.harmful == harmful]
            if picked:
                parts.append(f"{lang} {what} {sum(picked) / len(picked):.3f} ({len(picked)})")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--no-loso", action="store_true")
    args = parser.parse_args()
    rows = harm_rows()
    train = [r for r in rows if r.split == "train"]
    untouched = [r for r in rows if r.split == "untouched"]
    threshold = suggested_threshold(train)
    configured = load_config().policies["default"].classifier.threshold or threshold
    arrays = {**fit(train), "suggested_threshold": np.array(threshold, dtype=np.float32)}
    print(
        f"{len(train)} training rows ({sum(r.harmful for r in train)} harmful), {len(arrays['vocabulary'])} n-grams; "
        f"suggested threshold {threshold:.3f}"
    )
    if not args.dry_run:
        DEFAULT_PATH.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(DEFAULT_PATH, **arrays)
        print(f"wrote {DEFAULT_PATH} ({DEFAULT_PATH.stat().st_size / 1024:.0f} KiB)")
    VECTORS.embed_documents([t for r in rows if (t := second_look_text(r.prompt))])  # one batch for all below
    shipped = model(arrays)
    moderator = Moderator(load_config(), harm=shipped)
    moderator.harm = None  # the method before any classifier: lexicon only
    lexicon = [moderator.screen(r.prompt, "default", find_pii=False) for r in untouched]
    scores = [shipped.score(r.prompt) for r in untouched]
    ngram_scores = [shipped.ngram_score(r.prompt) for r in untouched]
    second = shipped.second_look
    assert second is not None
    looked = [second.applies(r.prompt, s) for r, s in zip(untouched, ngram_scores, strict=True)]
    previous = previous_classifier()
    previous_scores = [previous(r.prompt) for r in untouched]
    print(f"\n== untouched ({len(untouched)} prompts; nothing fitted or tuned on them), default policy threshold")
    print("lexicon only:                  " + _rates(untouched, [x.blocked for x in lexicon]))
    print("previous classifier ≥ 0.80:    " + _rates(untouched, [s >= 0.8 for s in previous_scores]))
    print(f"n-grams alone ≥ {configured:.2f}:        " + _rates(untouched, [s >= configured for s in ngram_scores]))
    print(f"classifier ≥ {configured:.2f}:           " + _rates(untouched, [s >= configured for s in scores]))
    benign_looked = [x for x, r in zip(looked, untouched, strict=True) if not r.harmful]
    print(
        f"    second look taken for {sum(looked) / len(looked):.3f} of them "
        f"(of the benign ones {sum(benign_looked) / len(benign_looked):.3f})"
    )
    both = [x.blocked or s >= configured for x, s in zip(lexicon, scores, strict=True)]
    print("lexicon or classifier:         " + _rates(untouched, both))
    for name in sorted({family(r) for r in untouched}):
        idx = [i for i, r in enumerate(untouched) if family(r) == name]
        print(
            f"    {name:<28} {len(idx):4d} rows, flagged by classifier {sum(scores[i] >= configured for i in idx)}, "
            f"previous {sum(previous_scores[i] >= 0.8 for i in idx)}, lexicon {sum(lexicon[i].blocked for i in idx)}"
        )
    if args.no_loso:
        return
    print(
        "\n== leave one source out (refit without the family, its rows scored: "
        "at the 2 % rule and at the default policy's threshold)"
    )
    for name in sorted({family(r) for r in rows}):
        kept = [r for r in train if family(r) != name]
        refit = model(fit(kept))
        cut = suggested_threshold(kept)
        for harmful in (True, False):
            scored = [r for r in rows if family(r) == name and r.harmful == harmful]
            if not scored:
                continue
            refit_scores = [refit.score(r.prompt) for r in scored]
            flagged = sum(s >= cut for s in refit_scores) / len(scored)
            at_default = sum(s >= configured for s in refit_scores) / len(scored)
            ngram_only = sum(refit.ngram_score(r.prompt) >= configured for r in scored) / len(scored)
            lex = sum(moderator.screen(r.prompt, "default", find_pii=False).blocked for r in scored)
            print(
                f"{name:<28} {'harmful' if harmful else 'benign':8} {len(scored):4d} rows: classifier flags "
                f"{flagged:.3f} (threshold {cut:.2f}), {at_default:.3f} at {configured:.2f} "
                f"(n-grams alone {ngram_only:.3f}); lexicon blocks {lex / len(scored):.3f}"
            )


if __name__ == "__main__":
    main()
