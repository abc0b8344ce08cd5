"""The current champion scored on THIS run's test split: champion and challenger judged on the same data.

This run's processed inputs go back to raw values with this run's schema (scaler shift and scale)
and into the champion's own input scale with the schema its training run logged (text: token ids
through the two vocabularies); targets are compared in the data's own units and classes by name.
When the inputs cannot be mapped (other columns, categories, classes or input shape) the result
says why and carries no value: the caller falls back to the champion's stored value, marked
NOT_COMPARABLE.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core import paths, storage
from pipeline.core.errors import PipelineError
from pipeline.datasets import processed, vocabulary
from pipeline.datasets.processed import Schema, Split
from pipeline.evaluation import scores
from pipeline.models import prediction
from pipeline.models.backends import BACKENDS
from pipeline.tracking import registry

NOT_COMPARABLE = "not comparable on the new data"


class NotComparable(Exception):
    """The champion cannot take this run's data: the message says why."""


@dataclass(frozen=True)
class Rescored:
    """The champion's test `metric` on this run's test split, or why there is none (`value` None)."""

    metric: str
    value: float | None
    reason: str | None = None


def inputs_for(x: np.ndarray, current: Schema, champion: Schema) -> np.ndarray:
    """This run's processed inputs `x` in the champion's input scale (or vocabulary)."""
    if current.layout != champion.layout:
        raise NotComparable(f"its data is {champion.layout}, this run's is {current.layout}")
    if current.input_shape != champion.input_shape:
        raise NotComparable(
            f"it takes inputs of shape {champion.input_shape}, this run has {current.input_shape}"
        )
    if current.layout == "text":
        return token_ids(x, current.vocabulary or (), champion.vocabulary or ())
    now, then = current.extra.get("columns"), champion.extra.get("columns")
    if now is not None and then is not None and _described(now) != _described(then):
        raise NotComparable(
            f"its input columns {then.get('inputs')} (categories {then.get('categorical')}) differ from "
            f"this run's {now.get('inputs')} (categories {now.get('categorical')})"
        )
    raw = x * _scaler(current, "scale") + _scaler(current, "shift")
    return ((raw - _scaler(champion, "shift")) / _scaler(champion, "scale")).astype(x.dtype)


def _described(columns: dict[str, Any]) -> tuple:
    return columns.get("inputs"), columns.get("categorical")


def _scaler(schema: Schema, part: str) -> np.ndarray:
    scaler = schema.extra.get("scaler")
    if scaler is None:
        raise NotComparable(f"the {schema.dataset} schema records no scaler")
    return np.asarray(scaler[part], dtype=np.float64)


def token_ids(x: np.ndarray, current: tuple[str, ...], champion: tuple[str, ...]) -> np.ndarray:
    """Ids of this run's vocabulary as the champion's ids of the same tokens (or its unknown-token id)."""
    index = {token: i for i, token in enumerate(champion)}
    return np.array([index.get(token, vocabulary.UNKNOWN_ID) for token in current], dtype=x.dtype)[x]


def score(model: Any, champion: Schema, current: Schema, test: Split, metric: str) -> float:
    """The champion's `metric` on this run's `test` split."""
    if champion.task != current.task:
        raise NotComparable(f"it solves {champion.task}, this run {current.task}")
    x = inputs_for(test.x, current, champion)
    predicted = prediction.predict(model, x, champion)
    if current.task == "classification":
        found = scores.classification_metrics(test.y, _by_class(predicted, current, champion))
    elif current.task == "language_model":
        if current.vocabulary != champion.vocabulary:
            raise NotComparable("its vocabulary differs from this run's (the classes of a language model)")
        found = scores.language_model_metrics(test.y, predicted)
    else:
        found = scores.regression_metrics(
            current.unscale_targets(test.y), champion.unscale_targets(predicted)
        )
    if metric not in found:
        raise NotComparable(f"its predictions give no {metric}")
    return float(found[metric])


def _by_class(probabilities: np.ndarray, current: Schema, champion: Schema) -> np.ndarray:
    """The champion's class probabilities, columns in this run's class order."""
    if set(current.class_names or ()) != set(champion.class_names or ()):
        raise NotComparable(
            f"its classes {champion.class_names} differ from this run's {current.class_names}"
        )
    column = {name: i for i, name in enumerate(champion.class_names)}
    return probabilities[:, [column[name] for name in current.class_names]]


def load_model(model_dir: Path) -> Any:
    """The downloaded model, through its backend's own safe loader."""
    for backend in BACKENDS.values():
        found = sorted(model_dir.rglob(backend.model_file))
        if found:
            return backend.fitted().load(found[0])
    raise NotComparable(f"the logged model holds no {' or '.join(b.model_file for b in BACKENDS.values())}")


def champion_on_new_data(
    model_name: str, version: str, run_id: str | None, data_dir: Path, metric: str, *, timeout_seconds: float
) -> Rescored:
    """Download champion `version` of `model_name` and score it on `data_dir`'s test split."""
    if run_id is None:
        return Rescored(metric, None, f"{NOT_COMPARABLE}: the champion has no run holding its data schema")
    current, _ = processed.load_schema(data_dir)
    test = storage.load_arrays(data_dir / "test.npz")
    paths.REPORTS_DIR.mkdir(exist_ok=True)  # the scratch stays in the project: a queued copy's own
    with tempfile.TemporaryDirectory(prefix=".champion-", dir=paths.REPORTS_DIR) as tmp:
        try:
            model_dir, logged_data = registry.download_champion(
                model_name, version, run_id, Path(tmp), timeout_seconds=timeout_seconds
            )
            if not (logged_data / processed.SCHEMA_FILE).exists():
                raise NotComparable(f"its run logged no {processed.ARTIFACT_DIR}/{processed.SCHEMA_FILE}")
            champion, _ = processed.load_schema(logged_data)
            value = score(load_model(model_dir), champion, current, Split(test["x"], test["y"]), metric)
        except (NotComparable, PipelineError) as err:
            return Rescored(metric, None, f"{NOT_COMPARABLE}: {err}")
    return Rescored(metric, value)
