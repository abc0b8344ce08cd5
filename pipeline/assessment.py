"""Score one fitted model on every split of its data: the metrics and figures `evaluate` writes.

Ties models (predict) to evaluation (metrics, figures); the stage only chooses paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline import evaluation, models
from pipeline.datasets.processed import SPLITS, ProcessedData, Split
from pipeline.sklearn_backend import face_completion

N_PREVIEW = 8  # images in the face-completion figure
MAX_SCORED_TRAIN = 10_000  # train-split scores on a seeded sample: an SVC predicts 60,000 images slowly
THROUGHPUT_SAMPLES = 2_000  # enough for a stable rate; timing all of a large test split costs minutes


def _scored(data: ProcessedData, split: str) -> Split:
    """The split to score: all of val / test, a fixed random sample of a large train split."""
    part = data.split(split)
    if split != "train" or len(part.x) <= MAX_SCORED_TRAIN:
        return part
    keep = np.sort(np.random.default_rng(0).choice(len(part.x), MAX_SCORED_TRAIN, replace=False))
    return Split(part.x[keep], part.y[keep])


def assess(model: Any, data: ProcessedData, *, figures_dir: Path, history: list[dict]) -> tuple[dict, dict]:
    """(metrics by split, details) for `model`; writes the task's figures and tables into `figures_dir`."""
    schema = data.schema
    if face_completion.is_face_completion(model):
        return _assess_completion(model, data, figures_dir)
    metrics, details = {}, {}
    for split in SPLITS:
        part = _scored(data, split)
        predicted = models.predict(model, part.x, schema)
        if schema.task == "classification":
            metrics[split] = evaluation.classification_metrics(part.y, predicted)
        else:
            metrics[split] = evaluation.regression_metrics(
                schema.unscale_targets(part.y), schema.unscale_targets(predicted)
            )
    test = data.test
    predicted = models.predict(model, test.x, schema)
    if schema.task == "classification":
        labels = predicted.argmax(axis=1)
        evaluation.write_confusion_csv(
            figures_dir / "confusion.csv", evaluation.confusion_rows(test.y, labels, schema.class_names)
        )
        evaluation.plot_confusion_matrix(figures_dir / "confusion.png", test.y, labels, schema.class_names)
        details["per_class"] = evaluation.per_class_report(test.y, labels, schema.class_names)
    else:
        actual, forecast = schema.unscale_targets(test.y), schema.unscale_targets(predicted)
        evaluation.plot_forecast(figures_dir / "predictions.png", actual, forecast)
        if schema.task == "forecast":  # the naive baseline every forecaster must beat
            last_values = schema.unscale_targets(test.x[:, -1, 0])
            metrics["test"]["persistence_rmse"] = evaluation.persistence_rmse(last_values, actual)
    if history:
        evaluation.plot_learning_curves(figures_dir / "learning_curves.png", history)
    return metrics, details


def _assess_completion(model: Any, data: ProcessedData, figures_dir: Path) -> tuple[dict, dict]:
    """Face completion: pixel errors of the predicted lower halves, and the classic figure."""
    metrics = {}
    for split in SPLITS:
        x = _scored(data, split).x
        _, true_lower = face_completion.split_halves(x)
        _, predicted_lower = face_completion.split_halves(models.predict(model, x, data.schema))
        metrics[split] = evaluation.regression_metrics(true_lower, predicted_lower)
    preview = data.test.x[:N_PREVIEW]
    upper, true_lower = face_completion.split_halves(preview)
    _, predicted_lower = face_completion.split_halves(models.predict(model, preview, data.schema))
    evaluation.plot_completions(
        figures_dir / "completions.png", upper, true_lower, {"prediction": predicted_lower}, preview.shape[1:]
    )
    return metrics, {"task": "face_completion", "n_preview": len(preview)}


def inference_stats(model: Any, data: ProcessedData, model_dir: Path) -> dict[str, float]:
    """Prediction throughput on (up to THROUGHPUT_SAMPLES of) the test split and the model's size on disk."""
    x = np.ascontiguousarray(data.test.x[:THROUGHPUT_SAMPLES])
    return {
        "samples_per_second": evaluation.measure_throughput(
            lambda batch: models.predict(model, batch, data.schema), x
        ),
        "model_size_bytes": evaluation.directory_size_bytes(model_dir),
    }
