"""TF-IDF baselines: token ids -> text -> TF-IDF of word or character n-grams -> linear classifier.

One scikit-learn Pipeline whose first step turns the processed token ids back into text with the
data set's vocabulary (kept in the step), so the saved model scores the same inputs as the Keras
text models and char n-grams see real characters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from pipeline.backends.sklearn import baselines
from pipeline.config import TfidfModel
from pipeline.datasets import vocabulary as vocab


def ids_to_text(x: np.ndarray, vocabulary: Sequence[str], tokens: str) -> np.ndarray:
    """Rows of token ids -> documents (padding and unknown tokens dropped)."""
    return np.asarray(vocab.decode(x, vocabulary, tokens, keep_unknown=False), dtype=object)


def build(
    cfg: TfidfModel, vocabulary: Sequence[str], tokens: str, *, seed: int, n_jobs: int | None = None
) -> Pipeline:
    estimator = baselines.configured(cfg.estimator, cfg.hyperparameters, seed=seed, n_jobs=n_jobs)
    vectorizer = TfidfVectorizer(
        analyzer=cfg.analyzer,
        ngram_range=tuple(cfg.ngram_range),
        max_features=cfg.max_features,
        sublinear_tf=cfg.sublinear_tf,
        lowercase=False,  # the vocabulary already decided about case
        token_pattern=r"\S+" if cfg.analyzer == "word" else None,  # decoded words are tokens already
    )
    decode = FunctionTransformer(ids_to_text, kw_args={"vocabulary": list(vocabulary), "tokens": tokens})
    return Pipeline([("decode", decode), ("tfidf", vectorizer), ("estimator", estimator)])
