"""Save a fitted model with its hyperparameters, and load it back safely."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sklearn.base import BaseEstimator

from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.models import skops_trust

logger = logging.getLogger(__name__)

KERAS_FILE = "model.keras"
SKOPS_FILE = "model.skops"
HYPERPARAMETERS_FILE = "hyperparameters.json"


def save(model: Any, out_dir: Path | str, hyperparameters: dict[str, Any]) -> Path:
    """Write model.keras or model.skops plus hyperparameters.json atomically; return the model file."""
    out_dir = Path(out_dir)
    is_sklearn = isinstance(model, BaseEstimator)
    path = out_dir / (SKOPS_FILE if is_sklearn else KERAS_FILE)
    with storage.atomic_path(path) as tmp:
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
    storage.write_json(out_dir / HYPERPARAMETERS_FILE, hyperparameters)
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
    refused = skops_trust.refused_types(untrusted)
    if refused:
        raise PipelineError(
            f"{path} holds types outside scikit-learn, numpy and pipeline.models: {', '.join(refused)}; "
            "refusing to load it — re-create it with the train stage"
        )
    return skops.io.load(path, trusted=untrusted)
