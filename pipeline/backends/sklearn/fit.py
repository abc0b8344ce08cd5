"""Fit a scikit-learn experiment: one call to `fit` on the training split."""

from __future__ import annotations

import time

import sklearn

from pipeline.config import Experiment
from pipeline.datasets.processed import ProcessedData
from pipeline.models import building, families
from pipeline.models.fit_result import FitResult


def fit_sklearn(experiment: Experiment, data: ProcessedData) -> FitResult:
    model = building.build(
        experiment.model, data.schema, experiment.seed, name=experiment.model_name, n_jobs=experiment.n_jobs
    )
    x, y = data.train.x, families.get(experiment.model.family).target(data.train)
    start = time.perf_counter()
    model.fit(x, y)
    return FitResult(
        model=model,
        history=[],
        hyperparameters={"model": experiment.model.model_dump(mode="json"), "seed": experiment.seed},
        device={"device_type": "CPU", "framework": "scikit-learn", "sklearn": sklearn.__version__},
        fit_seconds=time.perf_counter() - start,
    )
