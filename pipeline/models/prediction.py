"""Predictions of a fitted model, whichever backend fitted it."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from pipeline.datasets.processed import Schema


def is_face_completion(model: Any) -> bool:
    """A face-completion pipeline (scikit-learn); a Keras model never is one."""
    if not isinstance(model, BaseEstimator):
        return False
    from pipeline.backends.sklearn import face_completion

    return face_completion.is_face_completion(model)


def predict(model: Any, x: np.ndarray, schema: Schema) -> np.ndarray:
    """Classification: (n, n_classes) probabilities; regression/forecast: (n,) predictions.

    A face-completion model returns the images (n, H, W, C) with their lower half predicted.
    """
    if not isinstance(model, BaseEstimator):
        output = np.asarray(model.predict(x, verbose=0))
        return output if schema.is_categorical else output.reshape(-1)
    from pipeline.backends.sklearn import face_completion

    if face_completion.is_face_completion(model):
        return face_completion.complete(model, x)
    if not schema.is_categorical:
        return np.asarray(model.predict(x)).reshape(-1)
    probabilities = np.zeros((len(x), schema.n_classes), dtype=np.float64)
    classes = np.asarray(model.classes_, dtype=np.int64)  # a class missing from train gets no column
    if hasattr(model, "predict_proba"):
        probabilities[:, classes] = model.predict_proba(x)
    else:
        probabilities[np.arange(len(x)), np.asarray(model.predict(x), dtype=np.int64)] = 1.0
    return probabilities
