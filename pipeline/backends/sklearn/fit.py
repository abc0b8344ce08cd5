"""Fit a scikit-learn experiment: one call to `fit` on the training split."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import sklearn

from pipeline.backends.fit_result import FitResult
from pipeline.config import Experiment


def fit_sklearn(experiment: Experiment, model: Any, x: np.ndarray, y: np.ndarray) -> FitResult:
    """Fit the unfitted `model` on (x, y) with one call."""
    start = time.perf_counter()
    model.fit(x, y)
    return FitResult(
        model=model,
        history=[],
        hyperparameters={"model": experiment.model.model_dump(mode="json"), "seed": experiment.seed},
        device={"device_type": "CPU", "framework": "scikit-learn", "sklearn": sklearn.__version__},
        fit_seconds=time.perf_counter() - start,
    )
