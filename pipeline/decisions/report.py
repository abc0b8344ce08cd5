"""The leaderboard across experiments: ranked rows, a markdown table per dataset, a bar chart.

Rows are ranked within each dataset by the test metric `promote.metrics` names for its task (by
default accuracy for classification, RMSE for regression and forecasting, bits per character for
language models), with that metric's direction and ranking rule (pipeline.core.metrics), so a
dataset's #1 is the experiment `promote` picks from the same results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config.decisions import PROMOTE_METRICS
from pipeline.core import markdown
from pipeline.core import metrics as registry
from pipeline.evaluation import figures

MISSING = "—"
UNTRACKED = "untracked"  # the run cell of an experiment trained while tracking was down


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


def leaderboard_rows(
    results: Iterable[ResultEntry], ranked_by: Mapping[str, str] = PROMOTE_METRICS
) -> list[dict[str, Any]]:
    """Rows grouped by dataset (alphabetically), best first by the metric `ranked_by` names for the
    dataset's task (`params.promote.metrics`), ranked from 1.

    Experiments without a finite value of that metric come last; ties keep experiment-name order.
    """
    by_dataset: dict[str, list[ResultEntry]] = {}
    for entry in results:
        if entry.task not in ranked_by:
            raise ValueError(
                f"experiment {entry.experiment!r} has unknown task {entry.task!r}; "
                f"known: {', '.join(ranked_by)}"
            )
        by_dataset.setdefault(entry.dataset, []).append(entry)
    rows = []
    for dataset in sorted(by_dataset):
        entries = by_dataset[dataset]
        tasks = sorted({entry.task for entry in entries})
        if len(tasks) > 1:
            raise ValueError(f"dataset {dataset!r} has experiments of different tasks: {', '.join(tasks)}")
        metric = registry.spec(ranked_by[tasks[0]])
        named = {entry.experiment: entry for entry in entries}
        ranked = metric.rank({name: entry.metrics.get(metric.name) for name, entry in named.items()})
        rows.extend(_row(named[name], rank, metric.name) for rank, name in enumerate(ranked, start=1))
    return rows


def _row(entry: ResultEntry, rank: int, metric: str) -> dict[str, Any]:
    return {
        "dataset": entry.dataset,
        "task": entry.task,
        "rank": rank,
        "experiment": entry.experiment,
        "model": entry.model,
        "family": entry.family,
        "primary_metric": metric,
        "primary_value": registry.finite(entry.metrics.get(metric)),
        "metrics": dict(entry.metrics),
        "train_seconds": entry.train_seconds,
        "run_id": entry.run_id,
        "run_url": entry.run_url,
        "experiment_url": entry.experiment_url,
    }


def render_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """A `# Leaderboard` document with one heading and table per dataset; missing numbers show "—"."""
    lines = ["# Leaderboard", ""]
    if not rows:
        return "\n".join([*lines, "No results yet.", ""])
    for dataset, group in _group_by_dataset(rows).items():
        task = group[0]["task"]
        ranked = registry.spec(group[0]["primary_metric"])
        metrics = [spec.name for spec in registry.leaderboard_columns(task, ranked)]
        metric, direction = ranked.label, ranked.direction
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
                *(_format_metric(name, row["metrics"].get(name)) for name in metrics),
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


def _format_metric(name: str, value: Any) -> str:
    """`value` as the spec of metric `name` shows it; "—" when it is not a finite number."""
    number = registry.finite(value)
    return MISSING if number is None else registry.spec(name).format(number)


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
    metric = registry.spec(group[0]["primary_metric"])
    values = [row["primary_value"] for row in group]
    bars = ax.barh(
        [row["experiment"] for row in group],
        [0.0 if value is None else value for value in values],  # missing: no bar, a "—" label
        color="tab:blue",
    )
    ax.bar_label(bars, labels=[_format_metric(metric.name, value) for value in values], padding=3, fontsize=8)
    ax.invert_yaxis()  # rank 1 on top
    ax.margins(x=0.2)
    ax.set_title(f"{dataset}: test {metric.label} ({metric.direction} is better)")
    ax.grid(axis="x", alpha=0.3)
