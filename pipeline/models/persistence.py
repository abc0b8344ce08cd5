"""Save a fitted model with its hyperparameters, and load it back safely, through its backend."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.models.backends import BACKENDS, of_model

logger = logging.getLogger(__name__)

KERAS_FILE = BACKENDS["keras"].model_file
SKOPS_FILE = BACKENDS["sklearn"].model_file
HYPERPARAMETERS_FILE = "hyperparameters.json"


def save(model: Any, out_dir: Path | str, hyperparameters: dict[str, Any]) -> Path:
    """Write the backend's model file plus hyperparameters.json atomically; return the model file."""
    out_dir = Path(out_dir)
    backend = of_model(model)
    path = out_dir / backend.model_file
    with storage.atomic_path(path) as tmp:
        backend.fitted().save(model, tmp)
    for other in BACKENDS.values():  # a stale model of another backend
        if other is not backend:
            (out_dir / other.model_file).unlink(missing_ok=True)
    storage.write_json(out_dir / HYPERPARAMETERS_FILE, hyperparameters)
    logger.info("saved %s", path)
    return path


def load(out_dir: Path | str) -> Any:
    """Load what `save` wrote: Keras in safe mode; skops trusting only sklearn/numpy/our own types."""
    out_dir = Path(out_dir)
    for backend in BACKENDS.values():
        if (out_dir / backend.model_file).exists():
            return backend.fitted().load(out_dir / backend.model_file)
    files = " or ".join(backend.model_file for backend in BACKENDS.values())
    raise PipelineError(f"no {files} in {out_dir}: run the train stage for this experiment first")
