"""Metrics, confusion tables, speed and size measurements, and figures for one model's predictions.

Metric functions are pure (arrays in, plain Python numbers out). Only `write_*` and `plot_*`
touch paths, and they write atomically through `pipeline.core.storage`. Matplotlib is imported inside the
plotting functions, with the Agg backend, so importing this module stays fast.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    root_mean_squared_error,
)

from pipeline.core import storage
from pipeline.evaluation import figures

PROBABILITY_FLOOR = 1e-15  # keeps log(p) finite when a model gives a class probability of exactly 0


# --- metrics -------------------------------------------------------------------------------


def classification_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float | int]:
    """Accuracy, macro F1 and log loss of class probabilities `proba` (n_samples, n_classes).

    A single column (or 1-D array) is read as the probability of class 1 of a binary problem.
    """
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    proba = _class_probabilities(proba)
    if len(y_true) != len(proba):
        raise ValueError(f"y_true has {len(y_true)} samples but proba has {len(proba)}")
    n_classes = proba.shape[1]
    y_pred = proba.argmax(axis=1)
    clipped = np.clip(proba, PROBABILITY_FLOOR, 1.0)
    clipped /= clipped.sum(axis=1, keepdims=True)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            f1_score(y_true, y_pred, average="macro", labels=range(n_classes), zero_division=0)
        ),
        "log_loss": float(log_loss(y_true, clipped, labels=range(n_classes))),
        "n_samples": int(len(y_true)),
    }


def _class_probabilities(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1:
        proba = proba[:, None]
    if proba.ndim != 2:
        raise ValueError(f"proba must be (n_samples, n_classes), got shape {proba.shape}")
    if proba.shape[1] == 1:
        proba = np.hstack([1.0 - proba, proba])
    return proba


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | int]:
    """RMSE, MAE and R² in the targets' own units; multi-output scores are averaged over outputs."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_pred.ndim == 2 and y_pred.shape[1] == 1 and y_true.ndim == 1:
        y_pred = y_pred.ravel()  # Keras regression heads predict a column
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    return {
        "rmse": float(root_mean_squared_error(y_true, y_pred)),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
        "n_samples": int(len(y_true)),
    }


def language_model_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float | int]:
    """Next-character accuracy and log loss, with perplexity and bits per character (log loss in bits)."""
    metrics = classification_metrics(y_true, proba)
    metrics["perplexity"] = float(math.exp(metrics["log_loss"]))
    metrics["bits_per_char"] = float(metrics["log_loss"] / math.log(2))
    return metrics


def unigram_bits_per_char(train_y: np.ndarray, y_true: np.ndarray, n_classes: int) -> float:
    """Bits per character of the baseline that ignores context: training character frequencies
    (add-one smoothed) scored on `y_true`. A language model must beat it."""
    counts = np.bincount(np.asarray(train_y, dtype=np.int64), minlength=n_classes) + 1.0
    probabilities = counts / counts.sum()
    return float(-np.log2(probabilities[np.asarray(y_true, dtype=np.int64)]).mean())


def persistence_rmse(last_values: np.ndarray, y_true: np.ndarray) -> float:
    """RMSE of the naive one-step-ahead forecast "next value = last observed value".

    `last_values` is the target variable at the last step of each input window (for windows
    `x` of shape (n, steps, features) that is `x[:, -1, target_column]`), in the same units as
    `y_true`. A model that cannot beat this number has learnt nothing about the series.
    """
    last_values = np.asarray(last_values, dtype=np.float64).ravel()
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    if last_values.shape != y_true.shape:
        raise ValueError(f"got {len(last_values)} last values for {len(y_true)} targets")
    return float(np.sqrt(np.mean((y_true - last_values) ** 2)))


def confusion_rows(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]) -> pd.DataFrame:
    """One row per sample with columns `actual` and `predicted` (class names): DVC's confusion layout."""
    names = np.asarray([str(name) for name in class_names], dtype=object)
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    return pd.DataFrame({"actual": names[y_true], "predicted": names[y_pred]})


def confusion_matrix_frame(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> pd.DataFrame:
    """Counts with actual classes as rows and predicted classes as columns, every class present."""
    names = [str(name) for name in class_names]
    counts = confusion_matrix(
        np.asarray(y_true).ravel(), np.asarray(y_pred).ravel(), labels=range(len(names))
    )
    return pd.DataFrame(
        counts,
        index=pd.Index(names, name="actual"),
        columns=pd.Index(names, name="predicted"),
    )


def per_class_report(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """scikit-learn's classification report as a dict: precision, recall, f1-score, support per class."""
    names = [str(name) for name in class_names]
    return classification_report(
        np.asarray(y_true).ravel(),
        np.asarray(y_pred).ravel(),
        labels=range(len(names)),
        target_names=names,
        output_dict=True,
        zero_division=0,
    )


def measure_throughput(predict: Callable[[np.ndarray], Any], x: np.ndarray, *, repeats: int = 3) -> float:
    """Samples per second of `predict(x)`: the median of `repeats` timed passes after one warm-up."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if len(x) == 0:
        raise ValueError("x is empty: cannot measure throughput on zero samples")
    predict(x)  # warm-up: lazy initialisation, graph tracing and caches are not throughput
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(x)
        durations.append(time.perf_counter() - start)
    seconds = max(statistics.median(durations), 1e-9)  # a clock tick can read 0 on tiny inputs
    return len(x) / seconds


def directory_size_bytes(path: Path | str) -> int:
    """Total size of the files under `path` (or of `path` itself if it is a file), not following links."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        raise ValueError(f"{path} does not exist")
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            total += os.lstat(os.path.join(root, name)).st_size
    return total


# --- writers -------------------------------------------------------------------------------


def write_confusion_csv(path: Path | str, frame: pd.DataFrame) -> None:
    """Write `confusion_rows` output as CSV for `dvc plots` (template `confusion`, x=actual, y=predicted)."""
    storage.write_text(path, frame.to_csv(index=False))


def plot_confusion_matrix(
    path: Path | str, y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> None:
    """Confusion-matrix heat map with a count in every cell."""
    frame = confusion_matrix_frame(y_true, y_pred, class_names)
    n_classes = len(frame)
    side = min(max(4.0, 0.5 * n_classes + 2.0), 12.0)
    with figures.figure(path, figsize=(side, side)) as (figure, ax):
        image = ax.imshow(frame.to_numpy(), cmap="Blues")
        figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        ax.set_xticks(range(n_classes), frame.columns, rotation=45, ha="right")
        ax.set_yticks(range(n_classes), frame.index)
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        threshold = frame.to_numpy().max() / 2
        for (row, column), count in np.ndenumerate(frame.to_numpy()):
            color = "white" if count > threshold else "black"
            ax.text(column, row, str(count), ha="center", va="center", color=color, fontsize=8)


def plot_learning_curves(path: Path | str, history_rows: Sequence[Mapping[str, Any]]) -> None:
    """One panel per metric of a training history (rows with `epoch`), its `val_` twin on the same axes."""
    if not history_rows:
        raise ValueError("history_rows is empty: nothing to plot")
    keys = list(dict.fromkeys(key for row in history_rows for key in row if key != "epoch"))
    metrics = [key for key in keys if not key.startswith("val_") or key.removeprefix("val_") not in keys]
    epochs = [_as_float(row.get("epoch", index)) for index, row in enumerate(history_rows)]
    figsize = (6.0, 2.6 * len(metrics))
    with figures.figure(path, nrows=len(metrics), ncols=1, figsize=figsize, squeeze=False) as (_, axes):
        for ax, metric in zip(axes[:, 0], metrics, strict=True):
            for key in (metric, f"val_{metric}"):
                if key in keys:
                    values = [_as_float(row.get(key)) for row in history_rows]
                    ax.plot(epochs, values, marker=".", label=key)
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
            ax.legend()
        axes[-1, 0].set_xlabel("epoch")


def _as_float(value: Any) -> float:
    """A history value as float; empty or missing cells (CSV rows read as text) become NaN."""
    if value is None or value == "":
        return math.nan
    return float(value)


def plot_forecast(path: Path | str, y_true: np.ndarray, y_pred: np.ndarray) -> None:
    """Actual and predicted series over the test steps."""
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    with figures.figure(path, figsize=(10, 4)) as (_, ax):
        ax.plot(y_true, label="actual", color="black", linewidth=1.2)
        ax.plot(y_pred, label="predicted", color="tab:orange", linewidth=1.2)
        ax.set_xlabel("test step")
        ax.set_ylabel("value")
        ax.grid(alpha=0.3)
        ax.legend()


def plot_completions(
    path: Path | str,
    upper: np.ndarray,
    true_lower: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    image_shape: tuple[int, ...],
) -> None:
    """scikit-learn's face-completion figure: per sample, the true image, then each estimator's completion.

    `upper` (n, upper_pixels) and every lower half (n, lower_pixels) are flattened pixel rows that
    stack, upper first, into an image of `image_shape`.
    """
    upper = np.asarray(upper)
    true_lower = np.asarray(true_lower)
    if upper.shape[1] + true_lower.shape[1] != math.prod(image_shape):
        raise ValueError(
            f"upper ({upper.shape[1]} pixels) and lower ({true_lower.shape[1]} pixels) halves "
            f"do not make an image of shape {image_shape}"
        )
    n_rows, n_columns = len(upper), 1 + len(predictions)
    columns = [("true image", true_lower), *predictions.items()]
    figsize = (2.0 * n_columns, 2.26 * n_rows)
    with figures.figure(path, nrows=n_rows, ncols=n_columns, figsize=figsize, squeeze=False) as (_, axes):
        for row in range(n_rows):
            truth = np.hstack([upper[row], true_lower[row]])
            for column, (title, lower) in enumerate(columns):
                image = np.hstack([upper[row], np.asarray(lower)[row]]).reshape(image_shape)
                ax = axes[row, column]
                ax.imshow(image, cmap="gray", interpolation="nearest", vmin=truth.min(), vmax=truth.max())
                ax.axis("off")
                if row == 0:
                    ax.set_title(title, fontsize=9)
