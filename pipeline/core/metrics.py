"""The test metrics: one `MetricSpec` per metric evaluation writes, and metric values read back.

Config validation (`promote.metrics`, `gate` keys), the leaderboard, promotion and the retrain gate
all look a metric up here (`spec(name)`): its direction, how it is shown, which tasks write it.
Adding a metric is one entry in `METRICS` plus the code in pipeline.evaluation that computes it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MetricSpec:
    """A test metric: its key in metrics.json, which way is better, how it is shown, who writes it."""

    name: str
    label: str  # in prose and chart titles: "macro F1"
    higher_is_better: bool
    tasks: frozenset[str]  # the tasks whose evaluation writes it
    shown_for: frozenset[str] = frozenset()  # the tasks whose leaderboard has a column for it
    digits: int = 4  # decimals shown

    @property
    def direction(self) -> str:
        """ "higher" or "lower", as in "(higher is better)"."""
        return "higher" if self.higher_is_better else "lower"

    def gain(self, value: float, reference: float) -> float:
        """How much better `value` is than `reference` (negative: worse), in the metric's units."""
        return value - reference if self.higher_is_better else reference - value

    def format(self, value: float) -> str:
        return f"{value:.{self.digits}f}"

    def rank(self, values: Mapping[str, Any]) -> list[str]:
        """The keys of `values` (e.g. experiment -> value), best first; ties in key order; keys whose
        value is not a finite number come last, in key order."""

        def key(name: str) -> tuple[bool, float, str]:
            value = finite(values[name])
            return (value is None, 0.0 if value is None else -self.gain(value, 0.0), name)

        return sorted(values, key=key)


# Which tasks write a metric, and which leaderboards show it; which way is better
_CLASS_SCORES = frozenset({"classification", "language_model"})  # scored on predicted class probabilities
_ERRORS = frozenset({"regression", "forecast"})  # scored on predicted numbers
_CLASSIFICATION = frozenset({"classification"})
_LANGUAGE_MODEL = frozenset({"language_model"})
_FORECAST = frozenset({"forecast"})
_HIGHER, _LOWER = True, False

# name, label, higher is better, tasks that write it, tasks whose leaderboard shows it.
# The order is the leaderboard's column order (after the metric a table is ranked by).
METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("bits_per_char", "bits per character", _LOWER, _LANGUAGE_MODEL, _LANGUAGE_MODEL),
        MetricSpec("perplexity", "perplexity", _LOWER, _LANGUAGE_MODEL, _LANGUAGE_MODEL),
        MetricSpec("unigram_bits_per_char", "unigram bits per character", _LOWER, _LANGUAGE_MODEL),
        MetricSpec("accuracy", "accuracy", _HIGHER, _CLASS_SCORES, _CLASS_SCORES),
        MetricSpec("macro_f1", "macro F1", _HIGHER, _CLASS_SCORES, _CLASSIFICATION),
        MetricSpec("log_loss", "log loss", _LOWER, _CLASS_SCORES, _CLASSIFICATION),
        MetricSpec("rmse", "RMSE", _LOWER, _ERRORS, _ERRORS),
        MetricSpec("mae", "MAE", _LOWER, _ERRORS, _ERRORS),
        MetricSpec("r2", "R²", _HIGHER, _ERRORS, _ERRORS),
        MetricSpec("persistence_rmse", "persistence RMSE", _LOWER, _FORECAST),
    )
}


def spec(name: str) -> MetricSpec:
    """The spec of test metric `name`; a ValueError names the known ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"no test metric {name!r}; use one of {', '.join(sorted(METRICS))}") from None


def for_task(task: str) -> tuple[MetricSpec, ...]:
    """The test metrics evaluation writes for `task`."""
    return tuple(metric for metric in METRICS.values() if task in metric.tasks)


def leaderboard_columns(task: str, ranked_by: MetricSpec) -> tuple[MetricSpec, ...]:
    """A task's leaderboard columns: the metric it is ranked by first, then the ones shown for it."""
    shown = (metric for metric in METRICS.values() if task in metric.shown_for and metric != ranked_by)
    return (ranked_by, *shown)


def as_number(value: Any) -> float | None:
    """A metric value as float, or None for what is not a number (strings, lists, None, booleans)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def finite(value: Any) -> float | None:
    """A metric value as float when it is a finite real number (numpy scalars too), else None: missing,
    NaN, infinite, a boolean or a string."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        return None
    return float(value)
