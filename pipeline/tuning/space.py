"""A search space from the `tune:` section: Optuna suggestions, `dvc exp run -S` overrides, the baseline."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from pipeline.config.tuning import Choices, Dimension, FloatRange, IntRange


def suggest(trial: Any, space: Mapping[str, Dimension]) -> dict[str, Any]:
    """One value per params path, asked of an Optuna trial. A list-valued choice is suggested as its
    JSON text (Optuna's categories are scalars) and returned as the list."""
    values: dict[str, Any] = {}
    for path, dimension in space.items():
        if isinstance(dimension, FloatRange):
            low, high = dimension.float_
            values[path] = trial.suggest_float(path, low, high, log=dimension.log, step=dimension.step)
        elif isinstance(dimension, IntRange):
            low, high = dimension.int_
            values[path] = trial.suggest_int(path, low, high, step=dimension.step, log=dimension.log)
        else:
            values[path] = json.loads(trial.suggest_categorical(path, _categories(dimension)))
    return values


def _categories(dimension: Choices) -> list[str]:
    return [json.dumps(choice) for choice in dimension.choice]


def grid(space: Mapping[str, Dimension]) -> dict[str, list[Any]]:
    """Every value of each path for Optuna's GridSampler (ranges by their step)."""
    values: dict[str, list[Any]] = {}
    for path, dimension in space.items():
        if isinstance(dimension, Choices):
            values[path] = _categories(dimension)
        elif isinstance(dimension, IntRange):
            low, high = dimension.int_
            values[path] = list(range(low, high + 1, dimension.step))
        else:
            low, high = dimension.float_
            count = math.floor((high - low) / dimension.step + 1e-9) + 1
            values[path] = [round(low + index * dimension.step, 12) for index in range(count)]
    return values


def overrides(values: Mapping[str, Any]) -> list[str]:
    """`dvc exp run` arguments setting each path (`++` adds a key the file does not have yet)."""
    return [arg for path, value in values.items() for arg in ("-S", f"++{path}={json.dumps(value)}")]


def baseline(
    space: Mapping[str, Dimension], params: Mapping[str, Any], experiment: str
) -> dict[str, Any] | None:
    """The params' current value of each path as Optuna params (to enqueue as the first trial), or
    None when one is missing or outside its range: the study then starts from the sampler alone.
    An experiment's unset `train` override has the shared `train.keras` value."""
    point: dict[str, Any] = {}
    override = f"experiments.{experiment}.train."
    for path, dimension in space.items():
        value = _value(params, path)
        if value is None and path.startswith(override):
            value = _value(params, "train.keras." + path.removeprefix(override))
        if isinstance(dimension, Choices):
            if value not in dimension.choice:
                return None
            point[path] = json.dumps(value)
            continue
        low, high = dimension.float_ if isinstance(dimension, FloatRange) else dimension.int_
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            return None
        point[path] = value
    return point


def _value(params: Mapping[str, Any], path: str) -> Any:
    value: Any = params
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value
