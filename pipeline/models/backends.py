"""The model backends: the library a family's models belong to, and what it does with a fitted model.

Each backend's `fitted` module (pipeline/backends/<name>/fitted.py) has `save(model, path)`,
`load(path)` and `predict(model, x, schema)`; it is imported only when a model of that backend is
saved, loaded or used, so a scikit-learn stage never loads TensorFlow. Nothing here builds a model:
the stages that only load one (evaluate) never reach the builders.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pipeline.config.base import Backend as BackendName
from pipeline.core.errors import PipelineError


@dataclass(frozen=True)
class Backend:
    """`model_class`: (module, class) every model of the backend is an instance of."""

    name: BackendName
    model_file: str  # its saved model, in the model directory
    model_class: tuple[str, str]
    fitted: Callable[[], ModuleType]

    @property
    def flavor(self) -> str:
        """The MLflow flavor that logs its models: MLflow names them as the backends are named."""
        return self.name

    def owns(self, model: Any) -> bool:
        """Whether `model` is one of this backend's, without importing the library: its models exist
        only once it is loaded."""
        module_name, class_name = self.model_class
        module = sys.modules.get(module_name)
        return module is not None and isinstance(model, getattr(module, class_name))


def _keras_fitted() -> ModuleType:
    from pipeline.backends.keras import fitted

    return fitted


def _sklearn_fitted() -> ModuleType:
    from pipeline.backends.sklearn import fitted

    return fitted


BACKENDS: dict[str, Backend] = {
    "keras": Backend("keras", "model.keras", ("keras", "Model"), _keras_fitted),
    "sklearn": Backend("sklearn", "model.skops", ("sklearn.base", "BaseEstimator"), _sklearn_fitted),
}


def of_model(model: Any) -> Backend:
    """The backend `model` belongs to."""
    for backend in BACKENDS.values():
        if backend.owns(model):
            return backend
    raise PipelineError(
        f"a {type(model).__name__} is no model of a known backend: build it with a family of "
        f"{', '.join(BACKENDS)}"
    )
