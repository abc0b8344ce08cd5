"""The leaderboard across experiments: ranked rows, a markdown table per dataset, a bar chart.

Rows are ranked within each dataset by its task's primary test metric: accuracy (higher is
better) for classification, RMSE (lower is better) for regression and forecasting, bits per
character (lower is better) for language models.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core import markdown
from pipeline.evaluation import figures

MISSING = "—"
UNTRACKED = "untracked"  # the run cell of an experiment trained while tracking was down
PRIMARY_METRIC = {  # task -> (metric, higher is better)
    "classification": ("accuracy", True),
    "regression": ("rmse", False),
    "forecast": ("rmse", False),
    "language_model": ("bits_per_char", False),
}
TABLE_METRICS = {
    "classification": ("accuracy", "macro_f1", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
    "forecast": ("rmse", "mae", "r2"),
    "language_model": ("bits_per_char", "perplexity", "accuracy"),
}


@dataclass(frozen=True)
class ResultEntry:
    """One evaluated experiment: what it trained, its test-section metrics and where it is tracked."""

    experiment: str
    dataset: str
    model: str
    family: str
    task: str
    metrics: Mapping[str, Any] = field(default_factory=dict)
    train_seconds: float | None = None
    run_id: str | None = None
    run_url: str | None = None
    experiment_url: str | None = None  # the MLflow experiment's runs, in the UI's model-training view


def leaderboard_rows(results: Iterable[ResultEntry]) -> list[dict[str, Any]]:
    """Rows grouped by dataset (alphabetically), best first by the primary metric, ranked from 1.

    Experiments without a primary metric come last; ties keep experiment-name order.
    """
    by_dataset: dict[str, list[ResultEntry]] = {}
    for entry in results:
        if entry.task not in PRIMARY_METRIC:
            raise ValueError(
                f"experiment {entry.experiment!r} has unknown task {entry.task!r}; "
                f"known: {', '.join(PRIMARY_METRIC)}"
            )
        by_dataset.setdefault(entry.dataset, []).append(entry)
    rows = []
    for dataset in sorted(by_dataset):
        entries = by_dataset[dataset]
        tasks = sorted({entry.task for entry in entries})
        if len(tasks) > 1:
            raise ValueError(f"dataset {dataset!r} has experiments of different tasks: {', '.join(tasks)}")
        metric, higher_is_better = PRIMARY_METRIC[tasks[0]]
        ranked = sorted(entries, key=lambda entry: _rank_key(entry, metric, higher_is_better))
        rows.extend(_row(entry, rank, metric) for rank, entry in enumerate(ranked, start=1))
    return rows


def _rank_key(entry: ResultEntry, metric: str, higher_is_better: bool) -> tuple[bool, float, str]:
    value = _metric_value(entry.metrics, metric)
    if value is None:
        return (True, 0.0, entry.experiment)
    return (False, -value if higher_is_better else value, entry.experiment)


def _row(entry: ResultEntry, rank: int, metric: str) -> dict[str, Any]:
    return {
        "dataset": entry.dataset,
        "task": entry.task,
        "rank": rank,
        "experiment": entry.experiment,
        "model": entry.model,
        "family": entry.family,
        "primary_metric": metric,
        "primary_value": _metric_value(entry.metrics, metric),
        "metrics": dict(entry.metrics),
        "train_seconds": entry.train_seconds,
        "run_id": entry.run_id,
        "run_url": entry.run_url,
        "experiment_url": entry.experiment_url,
    }


def _metric_value(metrics: Mapping[str, Any], name: str) -> float | None:
    """The metric as a float, or None when it is absent or NaN."""
    value = metrics.get(name)
    if value is None or math.isnan(float(value)):
        return None
    return float(value)


def render_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """A `# Leaderboard` document with one heading and table per dataset; missing numbers show "—"."""
    lines = ["# Leaderboard", ""]
    if not rows:
        return "\n".join([*lines, "No results yet.", ""])
    for dataset, group in _group_by_dataset(rows).items():
        task = group[0]["task"]
        metric, higher_is_better = PRIMARY_METRIC[task]
        metrics = TABLE_METRICS[task]
        direction = "higher" if higher_is_better else "lower"
        header = ["rank", "experiment", "model", "family", *metrics, "train seconds", "MLflow run"]
        align = "rlll" + "r" * len(metrics) + "rl"
        lines += [f"## {dataset}", "", f"{task}, ranked by test {metric} ({direction} is better).", ""]
        if links := sorted({row["experiment_url"] for row in group if row.get("experiment_url")}):
            lines += [f"MLflow: {', '.join(f'[runs]({link})' for link in links)}", ""]
        cells = [
            [
                str(row["rank"]),
                _escape(row["experiment"]),
                _escape(row["model"]),
                _escape(row["family"]),
                *(_format_number(_metric_value(row["metrics"], name)) for name in metrics),
                _format_number(row["train_seconds"]),
                _run_cell(row["run_id"], row["run_url"]),
            ]
            for row in group
        ]
        lines += [markdown.table(header, cells, align), ""]
    if untracked := [row["experiment"] for row in rows if not row["run_id"]]:
        lines += [
            f"Untracked (no MLflow run, trained while tracking was unavailable): {', '.join(untracked)}. "
            "`make backfill` logs their runs from these outputs.",
            "",
        ]
    return "\n".join(lines)


def _group_by_dataset(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["dataset"], []).append(row)
    return groups


def _escape(text: str) -> str:
    return str(text).replace("|", r"\|")


def _format_number(value: float | None) -> str:
    return MISSING if value is None else f"{value:.4f}"


def _run_cell(run_id: str | None, run_url: str | None) -> str:
    if run_url:
        return f"[{_escape(run_id or 'run')}]({run_url})"
    return f"`{run_id}`" if run_id else UNTRACKED


def plot_leaderboard(path: Path | str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Horizontal bars of the primary metric per experiment, one panel per dataset, best on top."""
    groups = _group_by_dataset(rows)
    heights = [0.45 * len(group) + 1.2 for group in groups.values()]
    with figures.figure(
        path,
        nrows=max(len(groups), 1),
        ncols=1,
        figsize=(8, max(sum(heights), 1.5)),
        squeeze=False,
        gridspec_kw={"height_ratios": heights or [1]},
    ) as (_, axes):
        if groups:
            for ax, (dataset, group) in zip(axes[:, 0], groups.items(), strict=True):
                _draw_panel(ax, dataset, group)
        else:
            axes[0, 0].text(0.5, 0.5, "No results yet", ha="center", va="center")
            axes[0, 0].axis("off")


def _draw_panel(ax: Any, dataset: str, group: Sequence[Mapping[str, Any]]) -> None:
    metric, higher_is_better = PRIMARY_METRIC[group[0]["task"]]
    values = [row["primary_value"] for row in group]
    bars = ax.barh(
        [row["experiment"] for row in group],
        [0.0 if value is None else value for value in values],  # missing: no bar, a "—" label
        color="tab:blue",
    )
    ax.bar_label(bars, labels=[_format_number(value) for value in values], padding=3, fontsize=8)
    ax.invert_yaxis()  # rank 1 on top
    ax.margins(x=0.2)
    ax.set_title(f"{dataset}: test {metric} ({'higher' if higher_is_better else 'lower'} is better)")
    ax.grid(axis="x", alpha=0.3)
