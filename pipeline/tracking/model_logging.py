"""A fitted model logged to a run: its MLflow flavor, serialization, signature and pinned requirements."""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pipeline.core import skops_trust

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

MODEL_NAME = "model"  # the name every run logs its model under: runs:/<run_id>/model


def log_model(
    client: Any, uri: str, run_id: str, experiment_id: str, model: Any, flavor: str, input_example: np.ndarray
) -> None:
    """Log `model` to the run as `model`, with a signature inferred on `input_example`."""
    import mlflow
    from mlflow.models import Model, infer_signature

    mlflow.set_tracking_uri(uri)  # Model.log uses MLflow's global URI
    if flavor == "keras":
        import mlflow.keras

        prediction = model.predict(input_example, verbose=0)
        module, kwargs = _keras_flavor(), {"model": model}
        requirements = _keras_requirements()
    elif flavor == "sklearn":
        import mlflow.sklearn

        prediction = model.predict(input_example)
        module = mlflow.sklearn
        kwargs = {"sk_model": model, **sklearn_serialization(model)}
        requirements = mlflow.sklearn.get_default_pip_requirements(
            include_cloudpickle=kwargs["serialization_format"] == "cloudpickle",
            include_skops=kwargs["serialization_format"] == "skops",
        )
    else:
        raise ValueError(f"flavor must be 'keras' or 'sklearn', got {flavor!r}")
    # Model.log is what mlflow.keras/mlflow.sklearn.log_model call; it takes the run id explicitly
    # rather than relying on the fluent API's thread-local active run.
    # A LoggedModel created by Model.log itself lands in the fluent API's current experiment
    # (Default), not the run's, and `runs:/<run_id>/model` then fails to resolve: create it here.
    logged = mlflow.initialize_logged_model(
        name=MODEL_NAME,
        source_run_id=run_id,
        experiment_id=experiment_id,
        params=client.get_run(run_id).data.params,
    )
    with _quiet_keras(flavor):  # MLflow loads the logged model back and predicts: a progress bar
        Model.log(
            artifact_path=None,
            name=MODEL_NAME,
            flavor=module,
            run_id=run_id,
            model_id=logged.model_id,
            signature=infer_signature(input_example, prediction),
            input_example=input_example,
            pip_requirements=requirements,  # pinned here: skips a subprocess that re-imports TF
            **kwargs,
        )


@contextlib.contextmanager
def _quiet_keras(flavor: str) -> Iterator[None]:
    """Keras' interactive logging (progress bars) off while `flavor` is keras, then as it was."""
    if flavor != "keras":
        yield
        return
    import keras

    was_on = keras.utils.is_interactive_logging_enabled()
    keras.utils.disable_interactive_logging()
    try:
        yield
    finally:
        if was_on:
            keras.utils.enable_interactive_logging()


def _keras_flavor() -> Any:
    """mlflow.keras whose save_model first creates the model directory.

    mlflow.keras.save_model (3.17 and earlier) writes input_example.json before it creates the
    directory, so logging a Keras model with an input example fails with FileNotFoundError
    (mlflow/mlflow#16183, still open). Creating it first is harmless once that is fixed.
    """
    import types

    import mlflow.keras

    def save_model(path: str, **kwargs: Any) -> None:
        os.makedirs(path, exist_ok=True)
        mlflow.keras.save_model(path=path, **kwargs)

    return types.SimpleNamespace(__name__=mlflow.keras.__name__, save_model=save_model)


def _keras_requirements() -> list[str]:
    import mlflow.keras

    requirements = mlflow.keras.get_default_pip_requirements()
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        requirements.append(f"tensorflow=={importlib.metadata.version('tensorflow')}")
    return requirements


def sklearn_serialization(model: Any) -> dict[str, Any]:
    """skops with the project's trusted types when they cover the model, else cloudpickle."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    unknown = skops_trust.refused_types(untrusted)
    if not unknown:
        return {"serialization_format": "skops", "skops_trusted_types": untrusted}
    logger.warning(
        "model holds types skops does not trust (%s): logging it with cloudpickle; load it only from a "
        "trusted store",
        ", ".join(unknown),
    )
    return {"serialization_format": "cloudpickle"}
