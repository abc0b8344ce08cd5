"""A study's report in reports/tune/<study>/: every trial (trials.csv, summary.md) and Optuna's plots
(optimisation history, parameter importances, parallel coordinates) as PNG."""

from __future__ import annotations

import csv
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

from pipeline.core import markdown, storage
from pipeline.evaluation.figures import DPI

logger = logging.getLogger(__name__)

CELL_CHARS = 100  # a longer error is cut in summary.md (trials.csv has it whole)
PLOTS = {
    "history.png": "plot_optimization_history",
    "importances.png": "plot_param_importances",  # needs 2 finished trials that differ
    "parallel_coordinates.png": "plot_parallel_coordinate",
}


def folder(project: Path, study_name: str) -> Path:
    return project / "reports" / "tune" / study_name


def rows(study: Any) -> list[dict[str, Any]]:
    """One row per trial: number, state, value, its params (list choices back as lists), DVC and MLflow."""
    table = []
    for trial in study.get_trials(deepcopy=False):
        params = {path: _shown(value) for path, value in trial.params.items()}
        table.append({
            "trial": trial.number,
            "state": trial.state.name,
            "value": trial.value,
            **params,
            "dvc_exp": trial.user_attrs.get("dvc_exp", ""),
            "mlflow_run_id": trial.user_attrs.get("mlflow_run_id", ""),
            "restored": trial.user_attrs.get("restored", ""),
            "error": trial.user_attrs.get("error", ""),
        })  # fmt: skip
    return table


def _shown(value: Any) -> Any:
    """A list choice is stored as JSON text: show the list."""
    if isinstance(value, str) and value.startswith("["):
        return json.loads(value)
    return value


def write(study: Any, target: Path) -> list[Path]:
    """Write the report; the files written (plots Optuna cannot draw yet are left out)."""
    table = rows(study)
    columns = list(dict.fromkeys(key for row in table for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    written = [target / "trials.csv", target / "summary.md"]
    storage.write_text(written[0], buffer.getvalue())
    storage.write_text(written[1], summary(study, table, columns))
    written += [path for path in (target / name for name in PLOTS) if _plot(study, path)]
    return written


def summary(study: Any, table: list[dict[str, Any]], columns: list[str]) -> str:
    """The study as markdown: the best trial, then every trial."""
    filled = [column for column in columns if any(row.get(column) not in (None, "") for row in table)]
    shown = [column for column in filled if column not in ("mlflow_run_id", "restored")]
    lines = [f"# Study {study.study_name}", ""]
    if best := _best(study):
        lines += [
            f"Best: trial {best.number}, value {best.value:.4f} (`dvc exp apply {_exp(best)}`)",
            "",
        ]
    body = [[_cell(row.get(column)) for column in shown] for row in table]
    return "\n".join([*lines, markdown.table(shown, body), ""])


def _exp(trial: Any) -> str:
    return trial.user_attrs.get("dvc_exp", "")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = "" if value is None else str(value).replace("|", "/")
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def _best(study: Any) -> Any:
    try:
        return study.best_trial
    except ValueError:  # no trial finished yet
        return None


def _plot(study: Any, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as plots

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            axes = getattr(plots, PLOTS[path.name])(study)
    except (ValueError, RuntimeError) as err:  # too few finished trials for this plot
        logger.info("no %s yet: %s", path.name, err)
        return False
    figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
    try:
        figure.tight_layout()
        with storage.atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=DPI)
    finally:
        plt.close(figure)
    return True
