"""Models by config: build, check against a dataset, predict, save and load.

TensorFlow/Keras are imported only inside the functions that need them, so stages that merely
check a config or touch scikit-learn models start fast.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from pipeline import io
from pipeline.config import ModelConfig
from pipeline.datasets.processed import Schema
from pipeline.errors import PipelineError

logger = logging.getLogger(__name__)

KERAS_FILE = "model.keras"
SKOPS_FILE = "model.skops"
HYPERPARAMETERS_FILE = "hyperparameters.json"
# skops loads only scikit-learn and numpy types and our own pipeline steps; anything else is refused
TRUSTED_PREFIXES = ("sklearn.", "numpy.")
OWN_FUNCTIONS = (
    "pipeline.sklearn_backend.baselines.flatten",
    "pipeline.sklearn_backend.face_completion.upper_half",
)
LAYOUTS_NEEDED = {
    "cnn": ("image",),
    "lstm": ("image", "sequence"),
    "face_completion": ("image",),
}


def _incompatible(model_cfg: ModelConfig, schema: Schema, name: str | None, problem: str) -> PipelineError:
    label = name or model_cfg.family
    return PipelineError(
        f"experiment pairs model {label!r} (family {model_cfg.family}) with dataset {schema.dataset!r} "
        f"(layout {schema.layout}, task {schema.task}): {problem}"
    )


def check_compatible(model_cfg: ModelConfig, schema: Schema, *, name: str | None = None) -> None:
    """Raise PipelineError (with the fix) if the model cannot train on the dataset; never imports TF.

    `name` is the model's name in params.yaml, used in the message.
    """
    family = model_cfg.family
    needed = LAYOUTS_NEEDED.get(family)
    if needed and schema.layout not in needed:
        raise _incompatible(
            model_cfg,
            schema,
            name,
            f"{family} needs {' or '.join(needed)} data: pair it with such a dataset, "
            "or use a dnn or sklearn model for this one",
        )
    if family not in ("sklearn", "face_completion"):
        return
    from pipeline.sklearn_backend import baselines, face_completion

    if family == "face_completion":
        face_completion.build(model_cfg.estimator, model_cfg.hyperparameters, seed=0)
    if family == "sklearn":
        baseline = baselines.lookup(model_cfg.estimator)
        serves = "classification" if schema.task == "classification" else "regression"
        if baseline.task != serves:
            kind = "classifier" if baseline.task == "classification" else "regressor"
            fitting = sorted(k for k, v in baselines.ESTIMATORS.items() if v.task == serves)
            raise _incompatible(
                model_cfg,
                schema,
                name,
                f"estimator {model_cfg.estimator!r} is a {kind}: use one of {', '.join(fitting)}",
            )
        baselines.build(model_cfg.estimator, model_cfg.hyperparameters, seed=0)


def build(
    model_cfg: ModelConfig, schema: Schema, seed: int, *, name: str | None = None, n_jobs: int | None = None
) -> Any:
    """An unfitted sklearn Pipeline or uncompiled keras.Model for the config and dataset.

    `n_jobs` is for scikit-learn estimators that take it. Keras: seeds Python, NumPy and Keras with
    `seed` first, so initial weights are reproducible.
    """
    check_compatible(model_cfg, schema, name=name)
    if model_cfg.family in ("sklearn", "face_completion"):
        from pipeline.sklearn_backend import baselines, face_completion
    if model_cfg.family == "sklearn":
        return baselines.build(model_cfg.estimator, model_cfg.hyperparameters, seed=seed, n_jobs=n_jobs)
    if model_cfg.family == "face_completion":
        return face_completion.build(model_cfg.estimator, model_cfg.hyperparameters, seed=seed, n_jobs=n_jobs)
    import keras

    from pipeline.keras_backend.builders import BUILDERS

    keras.utils.set_random_seed(seed)
    n_classes = schema.n_classes if schema.task == "classification" else None
    hyperparameters = model_cfg.model_dump(exclude={"family"})
    return BUILDERS[model_cfg.family](tuple(schema.input_shape), n_classes, **hyperparameters)


def predict(model: Any, x: np.ndarray, schema: Schema) -> np.ndarray:
    """Classification: (n, n_classes) probabilities; regression/forecast: (n,) predictions.

    A face-completion model returns the images (n, H, W, C) with their lower half predicted.
    """
    if not isinstance(model, BaseEstimator):
        output = np.asarray(model.predict(x, verbose=0))
        return output if schema.task == "classification" else output.reshape(-1)
    from pipeline.sklearn_backend import face_completion

    if face_completion.is_face_completion(model):
        return face_completion.complete(model, x)
    if schema.task != "classification":
        return np.asarray(model.predict(x)).reshape(-1)
    probabilities = np.zeros((len(x), schema.n_classes), dtype=np.float64)
    classes = np.asarray(model.classes_, dtype=np.int64)  # a class missing from train gets no column
    if hasattr(model, "predict_proba"):
        probabilities[:, classes] = model.predict_proba(x)
    else:
        probabilities[np.arange(len(x)), np.asarray(model.predict(x), dtype=np.int64)] = 1.0
    return probabilities


def save(model: Any, out_dir: Path | str, hyperparameters: dict[str, Any]) -> Path:
    """Write model.keras or model.skops plus hyperparameters.json atomically; return the model file."""
    out_dir = Path(out_dir)
    is_sklearn = isinstance(model, BaseEstimator)
    path = out_dir / (SKOPS_FILE if is_sklearn else KERAS_FILE)
    with io.atomic_path(path) as tmp:
        if is_sklearn:
            import skops.io  # imports all of scikit-learn: only when needed

            skops.io.dump(model, tmp)
        else:
            staged = tmp.with_suffix(".keras")  # Keras insists on the extension
            try:
                model.save(staged)
                staged.replace(tmp)
            finally:
                staged.unlink(missing_ok=True)
    (out_dir / (KERAS_FILE if is_sklearn else SKOPS_FILE)).unlink(missing_ok=True)  # a stale other format
    io.write_json(out_dir / HYPERPARAMETERS_FILE, hyperparameters)
    logger.info("saved %s", path)
    return path


def load(out_dir: Path | str) -> Any:
    """Load what `save` wrote: Keras in safe mode; skops trusting only sklearn/numpy/our own types."""
    out_dir = Path(out_dir)
    if (out_dir / KERAS_FILE).exists():
        import keras

        try:
            return keras.models.load_model(out_dir / KERAS_FILE, safe_mode=True)
        except ValueError as err:  # safe mode refuses code in the file (Lambda layers, custom objects)
            raise PipelineError(
                f"{out_dir / KERAS_FILE} cannot be loaded safely ({err}); re-create it with the train stage"
            ) from None
    path = out_dir / SKOPS_FILE
    if not path.exists():
        raise PipelineError(
            f"no {KERAS_FILE} or {SKOPS_FILE} in {out_dir}: run the train stage for this experiment first"
        )
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=path)
    refused = [
        name for name in untrusted if not name.startswith(TRUSTED_PREFIXES) and name not in OWN_FUNCTIONS
    ]
    if refused:
        raise PipelineError(
            f"{path} holds types outside scikit-learn, numpy and pipeline.models: {', '.join(refused)}; "
            "refusing to load it — re-create it with the train stage"
        )
    return skops.io.load(path, trusted=untrusted)
