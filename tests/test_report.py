"""Tests for pipeline.decisions.report: ranking, the markdown leaderboard and its bar chart."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline import config
from pipeline.decisions import report
from pipeline.decisions.report import ResultEntry

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def classifier(experiment, accuracy, dataset="digits", **fields):
    metrics = {"accuracy": accuracy, "macro_f1": accuracy - 0.01, "log_loss": 0.3}
    return ResultEntry(experiment, dataset, "model", "sklearn", "classification", metrics, **fields)


def regressor(experiment, rmse, dataset="diabetes", task="regression"):
    return ResultEntry(experiment, dataset, "model", "dnn", task, {"rmse": rmse, "mae": rmse / 2, "r2": 0.5})


def ranking(rows):
    return [(row["dataset"], row["rank"], row["experiment"]) for row in rows]


# --- ranking -------------------------------------------------------------------------------


def test_classification_ranks_by_descending_accuracy():
    rows = report.leaderboard_rows([classifier("a", 0.80), classifier("b", 0.95), classifier("c", 0.90)])
    assert ranking(rows) == [("digits", 1, "b"), ("digits", 2, "c"), ("digits", 3, "a")]


def test_regression_ranks_by_ascending_rmse():
    rows = report.leaderboard_rows([regressor("a", 3.0), regressor("b", 1.0), regressor("c", 2.0)])
    assert ranking(rows) == [("diabetes", 1, "b"), ("diabetes", 2, "c"), ("diabetes", 3, "a")]


def test_forecast_ranks_by_ascending_rmse():
    rows = report.leaderboard_rows(
        [regressor("lstm", 20.0, "sunspots", "forecast"), regressor("ar", 19.4, "sunspots", "forecast")]
    )
    assert [row["experiment"] for row in rows] == ["ar", "lstm"]


def test_rows_are_grouped_by_dataset_alphabetically_with_ranks_per_dataset():
    entries = [
        classifier("wine-svc", 0.9, "wine"),
        regressor("diabetes-ridge", 50.0),
        classifier("digits-cnn", 0.99),
        classifier("wine-rf", 0.95, "wine"),
    ]
    assert ranking(report.leaderboard_rows(entries)) == [
        ("diabetes", 1, "diabetes-ridge"),
        ("digits", 1, "digits-cnn"),
        ("wine", 1, "wine-rf"),
        ("wine", 2, "wine-svc"),
    ]


def test_experiment_without_the_primary_metric_ranks_last():
    missing = ResultEntry("broken", "digits", "model", "cnn", "classification", {})
    rows = report.leaderboard_rows([missing, classifier("a", 0.5)])
    assert [row["experiment"] for row in rows] == ["a", "broken"]


def test_ties_keep_experiment_name_order():
    rows = report.leaderboard_rows([classifier("b", 0.9), classifier("a", 0.9)])
    assert [row["experiment"] for row in rows] == ["a", "b"]


def test_row_names_its_primary_metric_and_value():
    (row,) = report.leaderboard_rows([regressor("a", 2.5)])
    assert (row["primary_metric"], row["primary_value"]) == ("rmse", pytest.approx(2.5))


def test_each_dataset_ranks_by_the_metric_promote_judges_its_task_on():
    """accuracy and macro F1 disagree: ranked by macro F1 (as promote would be), a is first."""
    a, b = classifier("a", 0.90), classifier("b", 0.92)
    entries = [a, replace(b, metrics={**b.metrics, "macro_f1": 0.80})]
    rows = report.leaderboard_rows(
        entries, ranked_by={**config.PROMOTE_METRICS, "classification": "macro_f1"}
    )
    assert [(row["rank"], row["experiment"], row["primary_metric"]) for row in rows] == [
        (1, "a", "macro_f1"),
        (2, "b", "macro_f1"),
    ]
    assert ranking(report.leaderboard_rows(entries)) == [("digits", 1, "b"), ("digits", 2, "a")]  # accuracy
    text = report.render_markdown(rows)
    assert "classification, ranked by test macro F1 (higher is better)." in text
    assert "| rank | experiment | model | family | macro_f1 | accuracy | log_loss |" in text  # ranked first


def test_a_metric_without_a_default_column_is_shown_when_it_ranks():
    entry = ResultEntry(
        "lm", "chars", "model", "lstm", "language_model", {"log_loss": 1.234567, "accuracy": 0.5}
    )
    rows = report.leaderboard_rows([entry], ranked_by={"language_model": "log_loss"})
    text = report.render_markdown(rows)
    assert "| log_loss | bits_per_char | perplexity | accuracy | train seconds |" in text
    assert "| 1 | lm | model | lstm | 1.2346 | — | — | 0.5000 |" in text


@pytest.mark.parametrize(
    ("task", "columns"),
    [
        ("language_model", "| bits_per_char | perplexity | accuracy |"),
        ("forecast", "| rmse | mae | r2 |"),
    ],
)
def test_markdown_default_columns(task, columns):
    text = report.render_markdown(report.leaderboard_rows([ResultEntry("a", "d", "m", "f", task, {})]))
    assert f"| rank | experiment | model | family {columns} train seconds | MLflow run |" in text


def test_unknown_task_is_rejected():
    entry = ResultEntry("a", "text", "model", "dnn", "translation", {})
    with pytest.raises(ValueError, match="unknown task 'translation'"):
        report.leaderboard_rows([entry])


def test_a_dataset_mixing_tasks_is_rejected():
    with pytest.raises(ValueError, match="different tasks"):
        report.leaderboard_rows([classifier("a", 0.9, "mixed"), regressor("b", 1.0, "mixed")])


# --- markdown ------------------------------------------------------------------------------


def test_markdown_has_a_heading_and_table_per_dataset():
    text = report.render_markdown(report.leaderboard_rows([classifier("a", 0.9), regressor("b", 1.0)]))
    assert [line for line in text.splitlines() if line.startswith("## ")] == ["## diabetes", "## digits"]


def test_markdown_classification_columns():
    text = report.render_markdown(report.leaderboard_rows([classifier("a", 0.9)]))
    assert (
        "| rank | experiment | model | family | accuracy | macro_f1 | log_loss | train seconds | MLflow run |"
        in text
    )


def test_markdown_regression_columns():
    text = report.render_markdown(report.leaderboard_rows([regressor("a", 1.0)]))
    assert "| rank | experiment | model | family | rmse | mae | r2 | train seconds | MLflow run |" in text


def test_markdown_formats_numbers_to_four_decimals():
    text = report.render_markdown(report.leaderboard_rows([classifier("a", 0.912345, train_seconds=3.5)]))
    assert "| 1 | a | model | sklearn | 0.9123 | 0.9023 | 0.3000 | 3.5000 | untracked |" in text


def test_markdown_shows_a_dash_for_missing_metrics():
    entry = ResultEntry("a", "digits", "model", "cnn", "classification", {"accuracy": 0.9})
    text = report.render_markdown(report.leaderboard_rows([entry]))
    assert "| 1 | a | model | cnn | 0.9000 | — | — | — | untracked |" in text


def test_markdown_shows_a_dash_for_nan_metrics():
    entry = ResultEntry("a", "digits", "model", "cnn", "classification", {"accuracy": float("nan")})
    text = report.render_markdown(report.leaderboard_rows([entry]))
    assert "| 1 | a | model | cnn | — | — | — | — | untracked |" in text


def test_markdown_links_the_mlflow_run():
    entry = classifier("a", 0.9, run_id="abc123", run_url="http://127.0.0.1:5000/#/experiments/1/runs/abc123")
    text = report.render_markdown(report.leaderboard_rows([entry]))
    assert "[abc123](http://127.0.0.1:5000/#/experiments/1/runs/abc123)" in text


def test_markdown_links_each_datasets_mlflow_runs_in_the_training_view():
    from pipeline.tracking.ui_links import experiment_link

    record = {"experiment_id": "3", "url": "http://mlflow:5000/#/experiments/3/runs/abc?workflowType=x"}
    local = experiment_link({"experiment_id": "4", "url": None})
    rows = report.leaderboard_rows(
        [
            classifier("a", 0.9, experiment_url=experiment_link(record)),
            classifier("b", 0.8, dataset="iris", experiment_url=local),
        ]
    )
    text = report.render_markdown(rows)
    assert "MLflow: [runs](http://mlflow:5000/#/experiments/3/runs?workflowType=machine_learning)" in text
    assert "MLflow: [runs](http://127.0.0.1:5000/#/experiments/4/runs?workflowType=machine_learning)" in text


def test_markdown_shows_a_run_id_without_a_link():
    text = report.render_markdown(report.leaderboard_rows([classifier("a", 0.9, run_id="abc123")]))
    assert "| `abc123` |" in text
    assert "Untracked" not in text


def test_markdown_marks_untracked_experiments_and_says_how_to_back_fill():
    entries = [classifier("a", 0.9, run_id="abc123"), classifier("b", 0.8)]
    text = report.render_markdown(report.leaderboard_rows(entries))
    assert "| 2 | b | model | sklearn |" in text and text.count("| untracked |") == 1
    assert "Untracked (no MLflow run, trained while tracking was unavailable): b." in text
    assert "`make backfill`" in text


def test_markdown_escapes_pipes_in_names():
    entry = ResultEntry("a|b", "digits", "model", "cnn", "classification", {"accuracy": 0.9})
    text = report.render_markdown(report.leaderboard_rows([entry]))
    assert r"| a\|b |" in text


def test_markdown_without_results_says_so():
    assert "No results yet." in report.render_markdown([])


# --- chart ---------------------------------------------------------------------------------


def test_plot_leaderboard_writes_a_png_and_no_temp_file(tmp_path):
    path = tmp_path / "results" / "leaderboard.png"
    unscored = ResultEntry("d", "diabetes", "model", "dnn", "regression", {})
    rows = report.leaderboard_rows(
        [classifier("a", 0.9), classifier("b", 0.8), regressor("c", 1.0), unscored]
    )
    report.plot_leaderboard(path, rows)
    assert (path.read_bytes()[:8], [p.name for p in path.parent.iterdir()]) == (
        PNG_SIGNATURE,
        ["leaderboard.png"],
    )


def test_plot_leaderboard_without_rows_writes_a_png(tmp_path):
    path = tmp_path / "leaderboard.png"
    report.plot_leaderboard(path, [])
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_report_imports_no_heavy_library_at_module_level():
    tree = ast.parse(Path(report.__file__).read_text())
    imported = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    heavy = {"matplotlib", "tensorflow", "keras", "mlflow", "sklearn"}
    assert {name for name in imported if name.split(".")[0] in heavy} == set()
