"""Score one fitted model on every split of its data: the metrics and figures `evaluate` writes.

Ties models (predict) to evaluation (metrics, figures); the stage only chooses paths.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.datasets import vocabulary
from pipeline.datasets.processed import SPLITS, ProcessedData, Schema, Split
from pipeline.evaluation import generation, plots, scores, speed
from pipeline.models import prediction

N_PREVIEW = 8  # images in the face-completion figure
MAX_SCORED_TRAIN = 10_000  # train-split scores on a seeded sample: an SVC predicts 60,000 images slowly
N_SAMPLES = 20  # test predictions in samples.txt
SAMPLE_CHARS = 200  # of each document shown there
THROUGHPUT_SAMPLES = 2_000  # enough for a stable rate; timing all of a large test split costs minutes


def _scored(data: ProcessedData, split: str) -> Split:
    """The split to score: all of val / test, a fixed random sample of a large train split."""
    part = data.split(split)
    if split != "train" or len(part.x) <= MAX_SCORED_TRAIN:
        return part
    keep = np.sort(np.random.default_rng(0).choice(len(part.x), MAX_SCORED_TRAIN, replace=False))
    return Split(part.x[keep], part.y[keep])


@dataclass(frozen=True)
class Assessment:
    metrics: dict[str, dict[str, Any]]  # by split
    details: dict[str, Any]
    samples: str  # a readable look at the model's output: predictions, or generated text


def assess(model: Any, data: ProcessedData, *, figures_dir: Path, history: list[dict]) -> Assessment:
    """Score `model` on every split; writes the task's figures and tables into `figures_dir`."""
    schema = data.schema
    if prediction.is_face_completion(model):
        return _assess_completion(model, data, figures_dir)
    scored = {split: _scored(data, split) for split in SPLITS}
    predictions = {split: prediction.predict(model, part.x, schema) for split, part in scored.items()}
    metrics = {split: _metrics(schema, scored[split].y, predictions[split]) for split in SPLITS}
    details: dict[str, Any] = {}
    test, predicted = data.test, predictions["test"]  # the test split is scored whole
    if schema.task == "language_model":
        metrics["test"]["unigram_bits_per_char"] = scores.unigram_bits_per_char(
            data.train.y, test.y, schema.n_classes
        )
        samples = generation.samples_text(
            model, test.x[0], schema.vocabulary, seed=schema.extra.get("seed", 0)
        )
    elif schema.task == "classification":
        labels = predicted.argmax(axis=1)
        plots.write_confusion_csv(
            figures_dir / "confusion.csv", scores.confusion_rows(test.y, labels, schema.class_names)
        )
        plots.plot_confusion_matrix(figures_dir / "confusion.png", test.y, labels, schema.class_names)
        details["per_class"] = scores.per_class_report(test.y, labels, schema.class_names)
        samples = _classified_samples(schema, test, predicted)
    else:
        actual, forecast = schema.unscale_targets(test.y), schema.unscale_targets(predicted)
        plots.plot_forecast(figures_dir / "predictions.png", actual, forecast)
        if schema.task == "forecast":  # the naive baseline every forecaster must beat
            last_values = schema.unscale_targets(test.x[:, -1, 0])
            metrics["test"]["persistence_rmse"] = scores.persistence_rmse(last_values, actual)
        samples = "".join(
            f"actual {a:.4g}  predicted {f:.4g}\n" for a, f in zip(actual, forecast, strict=True)
        )
    if history:
        plots.plot_learning_curves(figures_dir / "learning_curves.png", history)
    return Assessment(metrics, details, samples)


def _metrics(schema: Schema, y: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    if schema.task == "language_model":
        return scores.language_model_metrics(y, predicted)
    if schema.task == "classification":
        return scores.classification_metrics(y, predicted)
    return scores.regression_metrics(schema.unscale_targets(y), schema.unscale_targets(predicted))


def _classified_samples(schema: Schema, test: Split, probabilities: np.ndarray) -> str:
    """The first N_SAMPLES test examples: true and predicted class (documents shown as text)."""
    shown = (
        vocabulary.decode(test.x[:N_SAMPLES], schema.vocabulary, schema.tokens)
        if schema.layout == "text"
        else [f"test example {i}" for i in range(min(N_SAMPLES, len(test.x)))]
    )
    lines = []
    for item, truth, row in zip(shown, test.y, probabilities, strict=False):
        guess = int(row.argmax())
        mark = "ok" if guess == truth else "WRONG"
        lines.append(
            f"[{mark}] true {schema.class_names[truth]}, predicted {schema.class_names[guess]} "
            f"(p={row[guess]:.2f}): {textwrap.shorten(item, SAMPLE_CHARS)}"
        )
    return "\n".join(lines) + "\n"


def _assess_completion(model: Any, data: ProcessedData, figures_dir: Path) -> Assessment:
    """Face completion: pixel errors of the predicted lower halves, and the classic figure."""
    from pipeline.backends.sklearn import face_completion  # a Keras model's evaluation never loads it

    metrics = {}
    for split in SPLITS:
        x = _scored(data, split).x
        _, true_lower = face_completion.split_halves(x)
        _, predicted_lower = face_completion.split_halves(prediction.predict(model, x, data.schema))
        metrics[split] = scores.regression_metrics(true_lower, predicted_lower)
    preview = data.test.x[:N_PREVIEW]
    upper, true_lower = face_completion.split_halves(preview)
    _, predicted_lower = face_completion.split_halves(prediction.predict(model, preview, data.schema))
    plots.plot_completions(
        figures_dir / "completions.png", upper, true_lower, {"prediction": predicted_lower}, preview.shape[1:]
    )
    errors = np.sqrt(((true_lower - predicted_lower) ** 2).reshape(len(preview), -1).mean(axis=1))
    samples = "".join(f"test image {i}: lower-half pixel RMSE {e:.4g}\n" for i, e in enumerate(errors))
    return Assessment(metrics, {"task": "face_completion", "n_preview": len(preview)}, samples)


def inference_speed(model: Any, data: ProcessedData) -> dict[str, float]:
    """Prediction throughput on (up to THROUGHPUT_SAMPLES of) the test split: wall-clock, not a DVC metric."""
    x = np.ascontiguousarray(data.test.x[:THROUGHPUT_SAMPLES])
    return {
        "samples_per_second": speed.measure_throughput(
            lambda batch: prediction.predict(model, batch, data.schema), x
        )
    }
