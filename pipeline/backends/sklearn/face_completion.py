"""Multi-output face completion: predict the lower half of an image from its upper half.

The scikit-learn example "Face completion with multi-output estimators", as a Pipeline that takes
whole NHWC images (its first step keeps the upper half) and predicts the flattened lower half. Its
estimator is any multi-output regressor of the baselines' registry, by the same name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from pipeline.backends.sklearn import baselines
from pipeline.core.errors import PipelineError

FIRST_STEP = "upper_half"


def split_halves(x_images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NHWC images -> (upper rows flattened, lower rows flattened); an odd middle row goes below."""
    x_images = np.asarray(x_images)
    if x_images.ndim != 4:
        raise ValueError(f"split_halves needs NHWC images, got an array of shape {x_images.shape}")
    middle = x_images.shape[1] // 2
    n = len(x_images)
    return x_images[:, :middle].reshape(n, -1), x_images[:, middle:].reshape(n, -1)


def join_halves(upper_flat: np.ndarray, lower_flat: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of `split_halves`: flattened halves -> NHWC images of `image_shape` (H, W, C)."""
    height, width, channels = image_shape
    middle = height // 2
    n = len(upper_flat)
    upper = np.asarray(upper_flat).reshape(n, middle, width, channels)
    lower = np.asarray(lower_flat).reshape(n, height - middle, width, channels)
    return np.concatenate([upper, lower], axis=1)


def upper_half(x_images: np.ndarray) -> np.ndarray:
    """The flattened upper half of NHWC images: the model's input features."""
    return split_halves(x_images)[0]


def estimator_names() -> list[str]:
    """The registry's estimators that fit the whole lower half at once: multi-output regressors."""
    return sorted(
        name
        for name, baseline in baselines.ESTIMATORS.items()
        if baseline.task == "regression" and baseline.multi_output
    )


def build(name: str, hyperparameters: Mapping[str, Any], *, seed: int, n_jobs: int | None = None) -> Pipeline:
    """Unfitted Pipeline: images -> upper half -> estimator; fit it with `split_halves(x)[1]` as target."""
    if name not in estimator_names():
        raise PipelineError(
            f"face completion predicts every pixel of the lower half, which estimator {name!r} cannot: "
            f"use one of {', '.join(estimator_names())}"
        )
    estimator = baselines.configured(name, hyperparameters, seed=seed, n_jobs=n_jobs)
    return Pipeline([(FIRST_STEP, FunctionTransformer(upper_half)), ("estimator", estimator)])


def is_face_completion(model: Any) -> bool:
    return isinstance(model, Pipeline) and FIRST_STEP in model.named_steps


def complete(model: Pipeline, x_images: np.ndarray) -> np.ndarray:
    """Images whose lower half is the model's prediction from their upper half."""
    upper, _ = split_halves(x_images)
    return join_halves(upper, model.predict(x_images), x_images.shape[1:])
