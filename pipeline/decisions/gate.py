"""The retrain gate: a model whose test metrics got worse than the baseline's is not shipped.

Pure logic, no DVC, git or files: `compare` takes each experiment's baseline and current test metrics
(`{experiment: {metric: value}}`) and the params' `gate` section; `render` draws the result as a
markdown table. Only metrics with a tolerance in `gate` are compared ("tracked"). Which way is better
comes from the metric's spec (pipeline.core.metrics), as for promotion and the leaderboard.

A check fails when the metric worsened by more than its tolerance: `gate.tolerance` in the metric's
own units, `gate.relative_tolerance` as a fraction of the baseline value. An experiment (or metric)
without a baseline is new and passes; a tracked metric the baseline had and the current run lacks, or
a finite baseline turned into NaN, fails.

An experiment whose data changed since the baseline (`data_changed`: the hash of its processed data
in the two dvc.lock files) is not comparable with it: its checks say "new data: reference only" and
never fail; the champion is judged on the new data at promotion instead.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pipeline.config import Gate
from pipeline.core import markdown, metrics
from pipeline.core.metrics import MetricSpec, as_number, finite

NEW, NEW_DATA, BETTER, SAME, WITHIN, REGRESSED, MISSING = (
    "new",
    "new data: reference only",
    "better",
    "same",
    "worse, within tolerance",
    "REGRESSED",
    "MISSING",
)
FAILING = frozenset({REGRESSED, MISSING})


@dataclass(frozen=True)
class Check:
    """One tracked test metric of one experiment: baseline vs current and the verdict."""

    experiment: str
    metric: str
    baseline: float | None
    current: float | None
    allowed: float | None  # the worsening allowed, in the metric's units (None: nothing to compare)
    tolerance: str  # how `allowed` was set, as shown in the table: "0.02" or "5% of baseline"
    verdict: str

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING


@dataclass(frozen=True)
class Result:
    checks: tuple[Check, ...]

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.failed)

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        """One line: the verdict and what failed."""
        n_new = sum(check.verdict == NEW for check in self.checks)
        n_new_data = sum(check.verdict == NEW_DATA for check in self.checks)
        on_new_data = f", {n_new_data} on new data: reference only" if n_new_data else ""
        if self.passed:
            return (
                f"gate passed: {len(self.checks)} tracked metric(s) compared ({n_new} new{on_new_data}), "
                "none worse than its tolerance"
            )
        failed = ", ".join(f"{check.experiment} {check.metric}" for check in self.failures)
        return (
            f"gate FAILED: {len(self.failures)} of {len(self.checks)} tracked metric(s) got worse than "
            f"their tolerance: {failed}"
        )


def tracked_metrics(gate: Gate) -> list[str]:
    return sorted({*gate.tolerance, *gate.relative_tolerance})


def data_changed(baseline_lock: Mapping[str, Any], current_lock: Mapping[str, Any]) -> set[str]:
    """Experiments whose processed data (the `data/processed/...` dep of `train@<experiment>`) has
    another hash in the current dvc.lock than in the baseline's (parsed dvc.lock documents)."""
    before, now = _processed_data(baseline_lock), _processed_data(current_lock)
    return {
        experiment
        for experiment, digest in now.items()
        if experiment in before and before[experiment] != digest
    }


def _processed_data(lock: Mapping[str, Any]) -> dict[str, str | None]:
    """{experiment: md5 of its train stage's processed-data dep}."""
    found = {}
    for stage, body in (lock.get("stages") or {}).items():
        name, _, experiment = stage.partition("@")
        if name != "train" or not experiment:
            continue
        for dep in body.get("deps", []):
            if str(dep.get("path", "")).startswith("data/processed/"):
                found[experiment] = dep.get("md5") or dep.get("hash")
    return found


def compare(
    baseline: Mapping[str, Mapping[str, Any]],
    current: Mapping[str, Mapping[str, Any]],
    gate: Gate,
    new_data: Collection[str] = (),
) -> Result:
    """Check every tracked metric of every experiment in `current` against `baseline`.

    Experiments only in `baseline` (removed since) are not checked; metrics neither side has are skipped.
    Experiments of `new_data` are shown for reference with the verdict NEW_DATA.
    """
    checks = []
    for experiment in sorted(current):
        now, before = current[experiment], baseline.get(experiment, {})
        for metric in tracked_metrics(gate):
            if metric not in now and metric not in before:
                continue
            check = _check(
                experiment, metric, as_number(before.get(metric)), as_number(now.get(metric)), gate
            )
            if experiment in new_data and check.verdict not in (NEW, MISSING):  # a lost metric still fails
                check = replace(check, verdict=NEW_DATA)
            checks.append(check)
    return Result(tuple(checks))


def _check(experiment: str, metric: str, baseline: float | None, current: float | None, gate: Gate) -> Check:
    if metric in gate.relative_tolerance:
        fraction = gate.relative_tolerance[metric]
        tolerance = f"{fraction:.4g} x baseline"
        allowed = fraction * abs(baseline) if finite(baseline) is not None else None
    else:
        allowed = gate.tolerance[metric]
        tolerance = f"{allowed:.4g}"
    if finite(baseline) is None:
        verdict = NEW  # no (finite) baseline to be worse than
    elif current is None:
        verdict = MISSING
    elif finite(current) is None:
        verdict = REGRESSED
    else:
        verdict = _verdict(baseline, current, allowed, metrics.spec(metric))
    return Check(experiment, metric, baseline, current, allowed, tolerance, verdict)


def _verdict(baseline: float, current: float, allowed: float, metric: MetricSpec) -> str:
    worsening = -metric.gain(current, baseline)
    # float noise: 0.95 - 0.93 vs a 0.02 tolerance is "within", and an identical rerun is "same"
    if math.isclose(worsening, 0.0, abs_tol=1e-12) or math.isclose(baseline, current, rel_tol=1e-12):
        return SAME
    if worsening < 0:
        return BETTER
    if worsening <= allowed or math.isclose(worsening, allowed, rel_tol=1e-9, abs_tol=1e-12):
        return WITHIN
    return REGRESSED


def render(result: Result) -> str:
    """A markdown table of every compared metric (failed verdicts in bold), then the one-line summary."""
    if not result.checks:
        return "No tracked test metric to compare (set `gate.tolerance` in params.yaml).\n"
    header = ["experiment", "metric", "better", "baseline", "current", "change", "tolerance", "verdict"]
    rows = [
        [
            check.experiment,
            check.metric,
            metrics.spec(check.metric).direction,
            _format(check.baseline),
            _format(check.current),
            _format(check.change, signed=True),
            check.tolerance,
            f"**{check.verdict}**" if check.failed else check.verdict,
        ]
        for check in result.checks
    ]
    return markdown.table(header, rows, "lllrrrll") + f"\n\n{result.summary()}\n"


def _format(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:+.4g}" if signed else f"{value:.4g}"
