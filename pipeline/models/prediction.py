"""Predictions of a fitted model, whichever backend fitted it."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.datasets.processed import Schema
from pipeline.models import backends


def is_face_completion(model: Any) -> bool:
    """A face-completion pipeline (scikit-learn); a Keras model never is one."""
    if not backends.BACKENDS["sklearn"].owns(model):
        return False
    from pipeline.backends.sklearn import face_completion

    return face_completion.is_face_completion(model)


def predict(model: Any, x: np.ndarray, schema: Schema) -> np.ndarray:
    """Classification: (n, n_classes) probabilities; regression/forecast: (n,) predictions.

    A face-completion model returns the images (n, H, W, C) with their lower half predicted.
    """
    return backends.of_model(model).fitted().predict(model, x, schema)
