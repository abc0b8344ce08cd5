"""A fitted scikit-learn model: save it with skops, load it back trusting only known types, predict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import skops.io

from pipeline.backends.sklearn import face_completion
from pipeline.core import skops_trust
from pipeline.core.errors import PipelineError
from pipeline.datasets.processed import Schema


def save(model: Any, path: Path) -> None:
    skops.io.dump(model, path)


def load(path: Path) -> Any:
    """The model, if skops finds in the file only types of scikit-learn, numpy and our model steps."""
    untrusted = skops.io.get_untrusted_types(file=path)
    refused = skops_trust.refused_types(untrusted)
    if refused:
        raise PipelineError(
            f"{path} holds types outside scikit-learn, numpy and pipeline.models: {', '.join(refused)}; "
            "refusing to load it — re-create it with the train stage"
        )
    return skops.io.load(path, trusted=untrusted)


def predict(model: Any, x: np.ndarray, schema: Schema) -> np.ndarray:
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
