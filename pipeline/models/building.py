"""Models by config: check one against a dataset, and build it (unfitted) through its family.

TensorFlow/Keras are imported only inside the builders that need them, so stages that merely check
a config or touch scikit-learn models start fast.
"""

from __future__ import annotations

from typing import Any

from pipeline.config import ModelConfig
from pipeline.core.errors import PipelineError
from pipeline.datasets.processed import Schema
from pipeline.models import families


def check_compatible(model_cfg: ModelConfig, schema: Schema, *, name: str | None = None) -> None:
    """Raise PipelineError (with the fix) if the model cannot train on the dataset; never imports TF.

    `name` is the model's name in params.yaml, used in the message.
    """
    problem = families.get(model_cfg.family).problem(model_cfg, schema)
    if problem:
        raise PipelineError(
            f"experiment pairs model {name or model_cfg.family!r} (family {model_cfg.family}) with dataset "
            f"{schema.dataset!r} (layout {schema.layout}, task {schema.task}): {problem}"
        )


def build(
    model_cfg: ModelConfig, schema: Schema, seed: int, *, name: str | None = None, n_jobs: int | None = None
) -> Any:
    """An unfitted sklearn Pipeline or uncompiled keras.Model for the config and dataset.

    `n_jobs` is for scikit-learn estimators that take it. Keras: seeds Python, NumPy and Keras with
    `seed` first, so initial weights are reproducible; a transfer model's pinned weights are fetched
    (or taken from the cache) and verified before anything is built.
    """
    check_compatible(model_cfg, schema, name=name)
    return families.get(model_cfg.family).build(model_cfg, schema, seed, n_jobs)
