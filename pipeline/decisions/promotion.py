"""When a challenger replaces the champion: pure decisions, no MLflow (the registry is registry.py's job)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.core.errors import PipelineError
from pipeline.core.metrics import MetricSpec, finite


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def champion_value(
    on_new_data: float | None, stored: float | None, note: str | None
) -> tuple[float | None, str]:
    """(the champion's value a challenger must beat, what it is): its score on this run's test split
    when it could be re-scored there, else the value stored when it was promoted (and why)."""
    if on_new_data is not None:
        return on_new_data, "the champion re-scored on this run's test split"
    return stored, f"the champion's stored value ({note or 'not re-scored'})"


def decide(
    challenger_value: float,
    champion_value: float | None,
    *,
    metric: MetricSpec,
    margin: float,
    champion_exists: bool = False,
) -> Decision:
    """Promote when there is no champion, or the challenger beats it by MORE than `margin`.

    `champion_exists` with no `champion_value`: a champion judged on another metric, which the
    challenger replaces.

    A tie (or a gain within the margin) keeps the champion: re-running the same model never
    flips the alias back and forth on noise.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if finite(challenger_value) is None:
        return Decision(False, f"challenger value {challenger_value!r} is not a finite number")
    if champion_value is None and champion_exists:
        return Decision(
            True,
            f"the champion has no test {metric.name} to compare (it was promoted on another metric): "
            f"the challenger ({challenger_value:.6g}) replaces it",
        )
    if champion_value is None:
        return Decision(True, f"first promotion: no champion yet (challenger {challenger_value:.6g})")
    if finite(champion_value) is None:
        return Decision(True, f"champion value {champion_value!r} is not a finite number; replacing it")
    gain = metric.gain(challenger_value, champion_value)
    comparison = (
        f"challenger {challenger_value:.6g} vs champion {champion_value:.6g} "
        f"({metric.direction} is better, gain {gain:.6g}, margin {margin:g})"
    )
    # a gain equal to the margin up to float rounding (0.81 - 0.80 vs 0.01) is not "more than" it
    if gain > margin and not math.isclose(gain, margin, rel_tol=1e-9, abs_tol=1e-12):
        return Decision(True, f"{comparison}: the challenger wins")
    return Decision(False, f"{comparison}: the champion stays (a gain must exceed the margin)")


def best_experiment(results: Mapping[str, Mapping[str, Any]], metric: MetricSpec) -> str:
    """The experiment with the best test `metric`; ties go to the first name in sorted order.

    `results` maps experiment names to their metrics.json: {"test": {metric: value}, ...}
    (a flat {metric: value} mapping is accepted too). The leaderboard ranks by the same `metric.rank`.
    """
    values = {name: _test_section(metrics).get(metric.name) for name, metrics in results.items()}
    ranked = metric.rank(values)
    if not ranked or finite(values[ranked[0]]) is None:
        available = sorted({key for metrics in results.values() for key in _test_section(metrics)})
        raise PipelineError(
            f"no experiment among {sorted(results) or 'none'} has a finite test metric {metric.name!r} "
            f"(test metrics found: {', '.join(available) or 'none'}): set promote.metrics in "
            "params.yaml to one of them, or run `dvc repro` so every experiment is evaluated"
        )
    return ranked[0]


def _test_section(metrics: Mapping[str, Any]) -> Mapping[str, Any]:
    test = metrics.get("test")
    return test if isinstance(test, Mapping) else metrics
