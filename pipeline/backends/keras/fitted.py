"""A fitted Keras model: save it, load it back in safe mode, predict with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.datasets.processed import Schema


def save(model: Any, path: Path) -> None:
    staged = path.with_suffix(".keras")  # Keras insists on the extension
    try:
        model.save(staged)
        staged.replace(path)
    finally:
        staged.unlink(missing_ok=True)


def load(path: Path) -> Any:
    try:
        return keras.models.load_model(path, safe_mode=True)
    except ValueError as err:  # safe mode refuses code in the file (Lambda layers, custom objects)
        raise PipelineError(
            f"{path} cannot be loaded safely ({err}); re-create it with the train stage"
        ) from None


def predict(model: Any, x: np.ndarray, schema: Schema) -> np.ndarray:
    output = np.asarray(model.predict(x, verbose=0))
    return output if schema.is_categorical else output.reshape(-1)
