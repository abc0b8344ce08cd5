"""Fit one experiment's model on processed data: scikit-learn directly, Keras through tf.data.

Keras runs can resume: with `backup_dir` (see `backup_dir_for`), a run killed mid-training restarts
from its last completed epoch, with the history of the epochs already done.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.backends.fit_result import FitResult
from pipeline.config import Experiment
from pipeline.datasets.processed import ProcessedData
from pipeline.models import building, families


def backup_dir_for(root: Path, experiment: Experiment, data_hash: str) -> Path:
    """root/<experiment>/<fingerprint of its config and data>: a changed config never resumes stale state."""
    config = experiment.model_dump(mode="json", exclude={"mlflow", "n_jobs"})  # neither changes the model
    document = json.dumps({"config": config, "data": data_hash}, sort_keys=True)
    return Path(root) / experiment.name / hashlib.sha256(document.encode()).hexdigest()[:16]


def fit(
    experiment: Experiment,
    data: ProcessedData,
    *,
    backup_dir: Path | None = None,
    callbacks: Sequence[Any] = (),
) -> FitResult:
    """Build and fit the experiment's model on data.train (Keras validates on data.val)."""
    building.check_compatible(experiment.model, data.schema, name=experiment.model_name)
    if experiment.backend == "keras":
        from pipeline.backends.keras.fit import fit_keras

        def build() -> Any:  # called inside the device strategy's scope
            return building.build(experiment.model, data.schema, experiment.seed, name=experiment.model_name)

        every_step = families.trains_every_step(experiment.model, data.schema)
        return fit_keras(
            experiment, data, build, every_step=every_step, backup_dir=backup_dir, callbacks=callbacks
        )
    from pipeline.backends.sklearn.fit import fit_sklearn

    model = building.build(
        experiment.model, data.schema, experiment.seed, name=experiment.model_name, n_jobs=experiment.n_jobs
    )
    target = families.get(experiment.model.family).target(data.train)
    return fit_sklearn(experiment, model, data.train.x, target)
