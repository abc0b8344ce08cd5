"""The test metrics: one `MetricSpec` per metric evaluation writes, and metric values read back.

Config validation (`promote.metrics`, `gate` keys), the leaderboard, promotion and the retrain gate
all look a metric up here (`spec(name)`): its direction, how it is shown, which tasks write it.
Adding a metric is one entry in `METRICS` plus the code in pipeline.evaluation that computes it.
"""

from __future__ import annotations

import math
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
        """"higher" or "lower", as in "(higher is better)"."""
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


# Which tasks write a metric, and which leaderboards show it
CLASS_SCORES = frozenset({"classification", "language_model"})  # scored on predicted class probabilities
ERRORS = frozenset({"regression", "forecast"})  # scored on predicted numbers
CLASSIFICATION = frozenset({"classification"})
LANGUAGE_MODEL = frozenset({"language_model"})

# The order is the leaderboard's column order (after the metric a table is ranked by).
METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("bits_per_char", "bits per character", False, LANGUAGE_MODEL, LANGUAGE_MODEL),
        MetricSpec("perplexity", "perplexity", False, LANGUAGE_MODEL, LANGUAGE_MODEL),
        MetricSpec("unigram_bits_per_char", "unigram bits per character", False, LANGUAGE_MODEL),
        MetricSpec("accuracy", "accuracy", True, CLASS_SCORES, CLASS_SCORES),
        MetricSpec("macro_f1", "macro F1", True, CLASS_SCORES, CLASSIFICATION),
        MetricSpec("log_loss", "log loss", False, CLASS_SCORES, CLASSIFICATION),
        MetricSpec("rmse", "RMSE", False, ERRORS, ERRORS),
        MetricSpec("mae", "MAE", False, ERRORS, ERRORS),
        MetricSpec("r2", "R²", True, ERRORS, ERRORS),
        MetricSpec("persistence_rmse", "persistence RMSE", False, frozenset({"forecast"})),
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
    """A metric value as float when it is a finite number, else None (missing, NaN, infinite)."""
    number = as_number(value)
    return number if number is not None and math.isfinite(number) else None
