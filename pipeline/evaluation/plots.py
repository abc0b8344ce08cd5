"""The figures and plot data of an evaluation: confusion matrix, learning curves, forecasts, completions.

They write atomically through `pipeline.core.storage`; Matplotlib is imported inside `figures`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.core import storage
from pipeline.evaluation import figures, scores


def write_confusion_csv(path: Path | str, frame: pd.DataFrame) -> None:
    """Write `confusion_rows` output as CSV for `dvc plots` (template `confusion`, x=actual, y=predicted)."""
    storage.write_text(path, frame.to_csv(index=False))


def plot_confusion_matrix(
    path: Path | str, y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> None:
    """Confusion-matrix heat map with a count in every cell."""
    frame = scores.confusion_matrix_frame(y_true, y_pred, class_names)
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
