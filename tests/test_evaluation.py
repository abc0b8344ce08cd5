"""Tests for pipeline.evaluation.scores: metric values, confusion layouts, measurements and PNG writers."""

from __future__ import annotations

import ast
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation import plots, scores, speed

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CLASS_NAMES = ("cat", "dog", "bird")
HEAVY_LIBRARIES = {"matplotlib", "tensorflow", "keras", "mlflow"}  # imported lazily or not at all


def assert_only_png(directory, path):
    """`path` is a PNG and the only file in `directory` (no temp file left behind)."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert sorted(p.name for p in directory.iterdir()) == [path.name]


# --- classification ------------------------------------------------------------------------


def test_perfect_probabilities_score_accuracy_and_f1_one():
    y_true = np.array([0, 1, 2, 1])
    metrics = scores.classification_metrics(y_true, np.eye(3)[y_true])
    assert (metrics["accuracy"], metrics["macro_f1"]) == (pytest.approx(1.0), pytest.approx(1.0))


def test_classification_metrics_match_hand_computed_values():
    y_true = np.array([0, 0, 1, 1])
    proba = np.array([[0.8, 0.2], [0.4, 0.6], [0.3, 0.7], [0.1, 0.9]])
    expected_log_loss = -np.mean(np.log([0.8, 0.4, 0.7, 0.9]))
    # predictions 0,1,1,1: class 0 has f1 2/3, class 1 has f1 0.8
    assert scores.classification_metrics(y_true, proba) == {
        "accuracy": pytest.approx(0.75),
        "macro_f1": pytest.approx((2 / 3 + 0.8) / 2),
        "log_loss": pytest.approx(expected_log_loss),
        "n_samples": 4,
    }


def test_log_loss_is_finite_when_the_true_class_has_probability_zero():
    metrics = scores.classification_metrics(np.array([0, 1]), np.array([[0.0, 1.0], [0.0, 1.0]]))
    assert math.isfinite(metrics["log_loss"])


def test_log_loss_counts_classes_absent_from_the_sample():
    # only class 0 occurs, but proba has three columns: labels=range(n_classes) keeps log_loss defined
    metrics = scores.classification_metrics(np.array([0, 0]), np.array([[0.5, 0.25, 0.25]] * 2))
    assert metrics["log_loss"] == pytest.approx(-math.log(0.5))


def test_single_probability_column_is_read_as_the_positive_class():
    metrics = scores.classification_metrics(np.array([0, 1, 1]), np.array([[0.1], [0.9], [0.8]]))
    assert metrics["accuracy"] == pytest.approx(1.0)


def test_classification_metrics_are_plain_python_numbers():
    metrics = scores.classification_metrics(np.array([0, 1]), np.array([[0.6, 0.4], [0.3, 0.7]]))
    assert {type(value) for value in metrics.values()} <= {float, int}


def test_classification_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="3 samples but proba has 2"):
        scores.classification_metrics(np.array([0, 1, 1]), np.array([[0.6, 0.4], [0.3, 0.7]]))


# --- regression and forecast ---------------------------------------------------------------


def test_regression_metrics_match_hand_computed_values():
    y_true = np.array([1.0, 2.0, 3.0, 4.0])
    y_pred = np.array([1.0, 2.0, 3.0, 6.0])  # one error of 2: squared errors sum to 4
    assert scores.regression_metrics(y_true, y_pred) == {
        "rmse": pytest.approx(1.0),
        "mae": pytest.approx(0.5),
        "r2": pytest.approx(1 - 4 / 5),  # total sum of squares is 5
        "n_samples": 4,
    }


def test_regression_metrics_accept_a_prediction_column():
    metrics = scores.regression_metrics(np.array([1.0, 2.0]), np.array([[1.0], [4.0]]))
    assert metrics["rmse"] == pytest.approx(math.sqrt(2.0))


def test_multi_output_regression_averages_over_outputs():
    y_true = np.array([[0.0, 0.0], [0.0, 0.0]])
    y_pred = np.array([[1.0, 3.0], [1.0, 3.0]])  # per-output rmse 1 and 3
    assert scores.regression_metrics(y_true, y_pred)["rmse"] == pytest.approx(2.0)


def test_regression_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        scores.regression_metrics(np.zeros(3), np.zeros((3, 2)))


def test_persistence_rmse_uses_the_last_value_as_the_forecast():
    last_values = np.array([1.0, 2.0, 3.0])
    y_true = np.array([2.0, 2.0, 6.0])  # errors 1, 0, 3
    assert scores.persistence_rmse(last_values, y_true) == pytest.approx(math.sqrt(10 / 3))


def test_persistence_rmse_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 last values for 3 targets"):
        scores.persistence_rmse(np.zeros(2), np.zeros(3))


# --- confusion and per-class report --------------------------------------------------------


def test_confusion_rows_have_one_named_row_per_sample():
    frame = scores.confusion_rows(np.array([0, 2, 1]), np.array([0, 1, 1]), CLASS_NAMES)
    assert frame.to_dict("list") == {"actual": ["cat", "bird", "dog"], "predicted": ["cat", "dog", "dog"]}


def test_confusion_csv_reads_back_in_the_layout_dvc_plots_expect(tmp_path):
    path = tmp_path / "results" / "confusion.csv"
    y_true, y_pred = np.array([0, 1, 2, 2, 1]), np.array([0, 2, 2, 2, 1])
    plots.write_confusion_csv(path, scores.confusion_rows(y_true, y_pred, CLASS_NAMES))
    read_back = pd.read_csv(path)
    assert (list(read_back.columns), len(read_back)) == (["actual", "predicted"], 5)


def test_write_confusion_csv_leaves_no_temp_file(tmp_path):
    path = tmp_path / "confusion.csv"
    plots.write_confusion_csv(path, scores.confusion_rows([0], [1], CLASS_NAMES))
    assert [p.name for p in tmp_path.iterdir()] == ["confusion.csv"]


def test_confusion_matrix_frame_counts_every_class():
    frame = scores.confusion_matrix_frame(np.array([0, 0, 1]), np.array([0, 1, 1]), CLASS_NAMES)
    assert frame.to_numpy().tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]


def test_per_class_report_has_every_class_and_the_averages():
    report = scores.per_class_report(np.array([0, 1, 1]), np.array([0, 1, 0]), CLASS_NAMES)
    assert set(report) == {"cat", "dog", "bird", "accuracy", "macro avg", "weighted avg"}


def test_per_class_report_scores_an_unpredicted_class_zero():
    report = scores.per_class_report(np.array([0, 1, 1]), np.array([0, 1, 0]), CLASS_NAMES)
    assert report["bird"]["precision"] == 0


# --- measurements --------------------------------------------------------------------------


def test_throughput_is_positive_and_calls_predict_after_a_warm_up():
    calls = []
    throughput = speed.measure_throughput(lambda x: calls.append(len(x)), np.zeros((8, 2)), repeats=3)
    assert (throughput > 0, calls) == (True, [8, 8, 8, 8])


def test_throughput_rejects_zero_repeats():
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        speed.measure_throughput(lambda x: x, np.zeros((2, 2)), repeats=0)


def test_directory_size_sums_nested_files(tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "a.bin").write_bytes(b"x" * 100)
    (tmp_path / "config.json").write_bytes(b"y" * 23)
    assert speed.directory_size_bytes(tmp_path) == 123


def test_directory_size_of_a_missing_path_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        speed.directory_size_bytes(tmp_path / "missing")


# --- figures -------------------------------------------------------------------------------


def test_plot_confusion_matrix_writes_a_png(tmp_path):
    path = tmp_path / "confusion.png"
    plots.plot_confusion_matrix(path, np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]), CLASS_NAMES)
    assert_only_png(tmp_path, path)


def test_plot_learning_curves_writes_a_png(tmp_path):
    path = tmp_path / "learning_curves.png"
    history = [
        {"epoch": 0, "loss": 1.0, "val_loss": 1.2, "accuracy": 0.5, "val_accuracy": 0.4},
        {"epoch": 1, "loss": 0.6, "val_loss": 0.9, "accuracy": 0.7, "val_accuracy": 0.6},
    ]
    plots.plot_learning_curves(path, history)
    assert_only_png(tmp_path, path)


def test_plot_learning_curves_reads_csv_text_rows(tmp_path):
    path = tmp_path / "learning_curves.png"
    rows = pd.read_csv(io.StringIO("epoch,loss,val_loss\n0,1.0,\n1,0.5,0.7\n"), dtype=str)
    plots.plot_learning_curves(path, rows.fillna("").to_dict("records"))
    assert_only_png(tmp_path, path)


def test_plot_learning_curves_rejects_an_empty_history(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        plots.plot_learning_curves(tmp_path / "curves.png", [])


def test_plot_forecast_writes_a_png(tmp_path):
    path = tmp_path / "forecast.png"
    series = np.sin(np.linspace(0, 6, 40))
    plots.plot_forecast(path, series, series + 0.1)
    assert_only_png(tmp_path, path)


def test_plot_completions_writes_a_png(tmp_path):
    path = tmp_path / "completions.png"
    rng = np.random.default_rng(0)
    images = rng.random((3, 8 * 6))  # three 8x6 images, upper half = first 24 pixels
    upper, lower = images[:, :24], images[:, 24:]
    predictions = {"ridge": lower + 0.05, "knn": lower[::-1]}
    plots.plot_completions(path, upper, lower, predictions, image_shape=(8, 6))
    assert_only_png(tmp_path, path)


def test_plot_completions_rejects_halves_that_do_not_make_the_image(tmp_path):
    with pytest.raises(ValueError, match="do not make an image"):
        plots.plot_completions(tmp_path / "c.png", np.zeros((1, 10)), np.zeros((1, 10)), {}, (8, 6))


def test_a_plot_failing_midway_leaves_no_file_and_no_open_figure(tmp_path):
    import matplotlib.pyplot as plt

    bad_prediction = {"broken": np.zeros((1, 5))}  # 24 + 5 pixels cannot be reshaped to 8x6
    with pytest.raises(ValueError, match="reshape"):
        plots.plot_completions(
            tmp_path / "c.png", np.zeros((1, 24)), np.zeros((1, 24)), bad_prediction, (8, 6)
        )
    assert (list(tmp_path.iterdir()), plt.get_fignums()) == ([], [])


@pytest.mark.parametrize("module", [scores, plots, speed], ids=lambda module: module.__name__)
def test_evaluation_imports_no_heavy_library_at_module_level(module):
    tree = ast.parse(Path(module.__file__).read_text())
    imported = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    assert {name for name in imported if name.split(".")[0] in HEAVY_LIBRARIES} == set()
