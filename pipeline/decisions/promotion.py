"""When a challenger replaces the champion: pure decisions, no MLflow (the registry is registry.py's job)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.core.errors import PipelineError

LOWER_IS_BETTER = frozenset(
    {"rmse", "mae", "log_loss", "persistence_rmse", "perplexity", "bits_per_char", "unigram_bits_per_char"}
)


def greater_is_better(metric: str) -> bool:
    """The direction of a test metric: errors and losses are better lower, scores higher."""
    return metric not in LOWER_IS_BETTER


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide(
    challenger_value: float,
    champion_value: float | None,
    *,
    greater_is_better: bool,
    margin: float,
) -> Decision:
    """Promote when there is no champion, or the challenger beats it by MORE than `margin`.

    A tie (or a gain within the margin) keeps the champion: re-running the same model never
    flips the alias back and forth on noise.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if not _finite(challenger_value):
        return Decision(False, f"challenger value {challenger_value!r} is not a finite number")
    if champion_value is None:
        return Decision(True, f"first promotion: no champion yet (challenger {challenger_value:.6g})")
    if not _finite(champion_value):
        return Decision(True, f"champion value {champion_value!r} is not a finite number; replacing it")
    gain = challenger_value - champion_value if greater_is_better else champion_value - challenger_value
    direction = "higher" if greater_is_better else "lower"
    comparison = (
        f"challenger {challenger_value:.6g} vs champion {champion_value:.6g} "
        f"({direction} is better, gain {gain:.6g}, margin {margin:g})"
    )
    # a gain equal to the margin up to float rounding (0.81 - 0.80 vs 0.01) is not "more than" it
    if gain > margin and not math.isclose(gain, margin, rel_tol=1e-9, abs_tol=1e-12):
        return Decision(True, f"{comparison}: the challenger wins")
    return Decision(False, f"{comparison}: the champion stays (a gain must exceed the margin)")


def best_experiment(results: Mapping[str, Mapping[str, Any]], metric: str, greater_is_better: bool) -> str:
    """The experiment with the best test `metric`; ties go to the first name in sorted order.

    `results` maps experiment names to their metrics.json: {"test": {metric: value}, ...}
    (a flat {metric: value} mapping is accepted too).
    """
    scored: dict[str, float] = {}
    for name in sorted(results):
        value = _test_value(results[name], metric)
        if value is not None:
            scored[name] = value
    if not scored:
        available = sorted({key for metrics in results.values() for key in _test_section(metrics)})
        raise PipelineError(
            f"no experiment among {sorted(results) or 'none'} has a finite test metric {metric!r} "
            f"(test metrics found: {', '.join(available) or 'none'}): set promote.metric in "
            "params.yaml to one of them, or run `dvc repro` so every experiment is evaluated"
        )
    pick = max if greater_is_better else min
    return pick(scored, key=lambda name: scored[name])  # max/min return the first of equal values


def _test_section(metrics: Mapping[str, Any]) -> Mapping[str, Any]:
    test = metrics.get("test")
    return test if isinstance(test, Mapping) else metrics


def _test_value(metrics: Mapping[str, Any], metric: str) -> float | None:
    value = _test_section(metrics).get(metric)
    if not _finite(value):
        return None
    return float(value)


def _finite(value: Any) -> bool:
    """A real number (numpy scalars included, bools not) that is neither NaN nor infinite."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
