"""Metrics and confusion tables of one model's predictions: pure functions, arrays in, plain numbers out.

Figures are in `plots`, speed and size in `speed`; none of them imports Matplotlib or TensorFlow at
module level, so importing them stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
