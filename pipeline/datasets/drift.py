"""Drift between two samples of a table: a score per feature and one for the label (PSI or KS, see
pipeline.config.validation), the report validate@<dataset> writes, and its bar chart."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.config import TableFields, Validate
from pipeline.datasets import chronology
from pipeline.datasets.sources import tables

if TYPE_CHECKING:
    import pandas as pd

FLOOR = 1e-4  # the share given to an empty bin, so that PSI stays finite
STATUSES = ("first", "ok", "warn", "block", "skipped")


def psi(reference: np.ndarray, current: np.ndarray, bins: int) -> float:
    """Population stability index over quantile bins of `reference` (numbers)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    return _psi(
        _shares(np.searchsorted(edges, reference, side="right"), len(edges) + 1),
        _shares(np.searchsorted(edges, current, side="right"), len(edges) + 1),
    )


def categorical_shares(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The share of each category (of either sample) in both samples."""
    categories, codes = np.unique(np.concatenate([reference, current]).astype(str), return_inverse=True)
    return _shares(codes[: len(reference)], len(categories)), _shares(
        codes[len(reference) :], len(categories)
    )


def _shares(codes: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes, minlength=n) / max(len(codes), 1)


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected, actual = np.maximum(expected, FLOOR), np.maximum(actual, FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def score(reference: pd.Series, current: pd.Series, *, method: str, bins: int, categorical: bool) -> float:
    """How far `current` is from `reference` (empty values left out): PSI, or the KS statistic (total
    variation distance for categories)."""
    ref, cur = reference.dropna().to_numpy(), current.dropna().to_numpy()
    if not len(ref) or not len(cur):
        return 0.0
    if categorical:
        expected, actual = categorical_shares(ref, cur)
        value = _psi(expected, actual) if method == "psi" else 0.5 * float(np.abs(expected - actual).sum())
    elif method == "psi":
        value = psi(ref.astype(float), cur.astype(float), bins)
    else:
        from scipy import stats

        value = float(stats.ks_2samp(ref.astype(float), cur.astype(float)).statistic)
    return round(value, 6)


def feature_columns(cfg: TableFields, columns: list[str]) -> list[str]:
    """The columns of a table data set that preprocess makes inputs of (a forecast's: only `features`,
    its target being the label)."""
    if cfg.features is not None or cfg.task == "forecast":
        return list(cfg.features or [])
    return [c for c in columns if c not in (cfg.target, cfg.time, *cfg.drop)]


def is_categorical(values: pd.Series) -> bool:
    return values.dtype.kind not in "iuf"


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    features: list[str],
    label: str | None,
    categorical_label: bool,
    settings: Validate,
) -> dict[str, Any]:
    """{"features": {column: {"score", "drifted"}}, "label": {...} or None} of `current` against
    `reference`; features that only one of them has are left out (the schema check names them)."""

    def judged(column: str, categorical: bool, threshold: float) -> dict[str, Any]:
        value = score(
            reference[column],
            current[column],
            method=settings.method,
            bins=settings.bins,
            categorical=categorical,
        )
        return {"score": value, "drifted": value > threshold}

    shared = [c for c in features if c in reference.columns and c in current.columns]
    return {
        "features": {c: judged(c, is_categorical(current[c]), settings.feature_threshold) for c in shared},
        "label": judged(label, categorical_label, settings.target_threshold)
        if label in reference.columns and label in current.columns
        else None,
    }


def newest_rows(name: str, frame: pd.DataFrame, cfg: TableFields) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the rest, the newest rows): train+val and test of the time-aware split preprocess makes."""
    ordered = frame.sort_values(cfg.time, kind="stable", key=tables.time_values)
    times = tables.time_values(ordered[cfg.time]).to_numpy()
    n_test = max(1, chronology.test_rows(name, times, cfg.split))
    return ordered.iloc[:-n_test], ordered.iloc[-n_test:]


def status(drift: dict[str, Any], settings: Validate) -> str:
    return settings.on_drift if drifted(drift) else "ok"


def drifted(drift: dict[str, Any]) -> list[str]:
    """The features (and `label`, for the target) that drifted."""
    names = [name for name, result in drift["features"].items() if result["drifted"]]
    label = drift.get("label")
    return names + (["label"] if label and label["drifted"] else [])


def summary(drift_report: dict[str, Any]) -> dict[str, float]:
    """What a training run logs of the report: how many features drifted, and the largest score."""
    results = drift_report["features"].values()
    return {
        "drift_features_drifted": sum(result["drifted"] for result in results),
        "drift_max_score": max((result["score"] for result in results), default=0.0),
    }


def report(
    dataset: str,
    state: str,
    settings: Validate,
    *,
    drift: dict[str, Any] | None = None,
    train_vs_test: dict[str, Any] | None = None,
    rows: dict[str, int | None] | None = None,
    schema_warnings: list[str] | None = None,
) -> dict[str, Any]:
    """reports/drift/<dataset>.json (see STATUSES)."""
    return {
        "dataset": dataset,
        "status": state,
        "method": settings.method,
        "threshold": settings.feature_threshold,
        "label_threshold": settings.target_threshold,
        "features": (drift or {}).get("features", {}),
        "label": (drift or {}).get("label"),
        "train_vs_test": train_vs_test,
        "rows": rows or {"previous": None, "current": None},
        "schema_warnings": schema_warnings or [],
    }


def draw(drift_report: dict[str, Any], axes: Any) -> None:
    """Horizontal bars: each feature's (and the label's) score against the threshold, drifted ones in
    red; vs the previous snapshot, and the newest rows (test) vs the rest when the table has a time."""
    series = {
        "vs previous snapshot": (_results(drift_report), "tab:blue"),
        "test (newest) vs the rest": (_results(drift_report["train_vs_test"]), "tab:gray"),
    }
    names = list(dict.fromkeys(name for results, _ in series.values() for name in results))
    axes.set_title(f"{drift_report['dataset']}: drift ({drift_report['status']})")
    if not names:
        axes.text(0.5, 0.5, "nothing to compare yet", ha="center", va="center")
        axes.set_axis_off()
        return
    positions, height = np.arange(len(names)), 0.4
    for offset, (label, (results, color)) in enumerate(series.items()):
        if results:
            shown = [results.get(name, {"score": 0.0, "drifted": False}) for name in names]
            colors = ["tab:red" if result["drifted"] else color for result in shown]
            scores = [result["score"] for result in shown]
            axes.barh(positions + offset * height, scores, height=height, color=colors, label=label)
    axes.axvline(drift_report["threshold"], color="black", linestyle="--", label="threshold")
    axes.set_yticks(positions + height / 2, names)
    axes.invert_yaxis()
    axes.set_xlabel(f"{drift_report['method'].upper()} score (red: drifted)")
    axes.legend(loc="lower right", fontsize="small")


def _results(drift: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    if not drift:
        return {}
    return {**drift["features"], **({"(label)": drift["label"]} if drift["label"] else {})}
