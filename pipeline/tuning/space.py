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
            choices = {_category(choice): choice for choice in dimension.choice}
            values[path] = choices[trial.suggest_categorical(path, list(choices))]
    return values


def _category(choice: Any) -> Any:
    """A choice as Optuna stores it: scalars as they are, a list as its JSON text."""
    return json.dumps(choice) if isinstance(choice, list) else choice


def grid(space: Mapping[str, Dimension]) -> dict[str, list[Any]]:
    """Every value of each path for Optuna's GridSampler (ranges by their step)."""
    values: dict[str, list[Any]] = {}
    for path, dimension in space.items():
        if isinstance(dimension, Choices):
            values[path] = [_category(choice) for choice in dimension.choice]
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


def changes(values: Mapping[str, Any], params: Mapping[str, Any], experiment: str) -> dict[str, Any]:
    """The values that differ from the params file's (`params`, as read): an override that sets what is
    already there would still change the file, and DVC would retrain a point its run-cache holds."""
    return {path: value for path, value in values.items() if _current(params, path, experiment) != value}


def baseline(
    space: Mapping[str, Dimension], params: Mapping[str, Any], experiment: str
) -> dict[str, Any] | None:
    """The params' current value of each path as Optuna params (to enqueue as the first trial), or
    None when one is missing or outside its range: the study then starts from the sampler alone."""
    point: dict[str, Any] = {}
    for path, dimension in space.items():
        value = _current(params, path, experiment)
        if isinstance(dimension, Choices):
            if value not in dimension.choice:
                return None
            point[path] = _category(value)
            continue
        low, high = dimension.float_ if isinstance(dimension, FloatRange) else dimension.int_
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            return None
        point[path] = value
    return point


def _current(params: Mapping[str, Any], path: str, experiment: str) -> Any:
    """The value at `path`; for an experiment's unset `train` override, the shared `train.keras` one."""
    value = _value(params, path)
    override = f"experiments.{experiment}.train."
    if value is None and path.startswith(override):
        value = _value(params, "train.keras." + path.removeprefix(override))
    return value


def _value(params: Mapping[str, Any], path: str) -> Any:
    value: Any = params
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value
