"""The metric registry: equal to what evaluation writes per task, one ranking rule for the leaderboard
and promotion, and the directions, formats and columns every consumer reads from it."""

from __future__ import annotations

import math
from typing import get_args

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from pipeline import config
from pipeline.core import metrics
from pipeline.datasets.processed import ProcessedData, Schema, Split
from pipeline.decisions import promotion, report
from pipeline.evaluation import assessment

TASKS = get_args(config.Task)
VOCABULARY = ("<pad>", "<unk>", "a", "b", "c")


def tiny_data(task: str) -> ProcessedData:
    """A few samples of `task`'s layout: tabular rows, series windows, or character ids."""
    rng = np.random.default_rng(0)
    shape = {"forecast": (5, 3), "language_model": (5,)}.get(task, (4,))
    categorical = task in ("classification", "language_model")

    def split(n: int) -> Split:
        if task == "language_model":
            return Split(rng.integers(2, len(VOCABULARY), (n, *shape)), rng.integers(2, len(VOCABULARY), n))
        x = rng.normal(size=(n, *shape)).astype(np.float32)
        return Split(x, np.arange(n) % 3 if categorical else rng.normal(size=n))

    schema = Schema(
        dataset="tiny",
        task=task,
        layout={"forecast": "sequence", "language_model": "text"}.get(task, "tabular"),
        input_shape=shape,
        n_classes=len(VOCABULARY) if task == "language_model" else 3 if categorical else None,
        class_names=("x", "y", "z") if task == "classification" else None,
        vocabulary=VOCABULARY if task == "language_model" else None,
        tokens="char" if task == "language_model" else None,
    )
    return ProcessedData(schema, split(24), split(9), split(9))


def fitted_model(task: str, data: ProcessedData):
    """A real model of the task: scikit-learn on flattened inputs, an untrained Keras character model."""
    if task == "language_model":
        import keras

        model = keras.Sequential(
            [
                keras.Input(data.schema.input_shape, dtype="int32"),
                keras.layers.Embedding(len(VOCABULARY), 4),
                keras.layers.Flatten(),
                keras.layers.Dense(len(VOCABULARY), activation="softmax"),
            ]
        )
        return model
    flatten = FunctionTransformer(lambda x: x.reshape(len(x), -1))
    estimator = LogisticRegression() if task == "classification" else Ridge()
    return make_pipeline(flatten, estimator).fit(data.train.x, data.train.y)


@pytest.mark.parametrize("task", TASKS)
def test_the_registry_is_what_evaluation_writes(task, tmp_path):
    data = tiny_data(task)
    written = assessment.assess(fitted_model(task, data), data, figures_dir=tmp_path, history=[])
    assert {spec.name for spec in metrics.for_task(task)} == set(written.metrics["test"]) - {"n_samples"}


def test_every_task_is_a_config_task_and_every_leaderboard_column_is_written():
    assert set().union(*(spec.tasks for spec in metrics.METRICS.values())) == set(TASKS)
    for spec in metrics.METRICS.values():
        assert spec.shown_for <= spec.tasks, spec.name


def test_rank_puts_the_best_first_ties_by_name_and_non_numbers_last():
    values = {"d": math.nan, "c": 0.9, "b": 0.95, "a": 0.9, "e": None, "f": math.inf}
    assert metrics.spec("accuracy").rank(values) == ["b", "a", "c", "d", "e", "f"]
    assert metrics.spec("rmse").rank(values) == ["a", "c", "b", "d", "e", "f"]


def test_direction_gain_and_format():
    accuracy, rmse = metrics.spec("accuracy"), metrics.spec("rmse")
    assert (accuracy.direction, rmse.direction) == ("higher", "lower")
    assert accuracy.gain(0.9, 0.8) == pytest.approx(0.1) and rmse.gain(0.9, 0.8) == pytest.approx(-0.1)
    assert accuracy.format(0.912345) == "0.9123"


def test_an_unknown_metric_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match=r"no test metric 'f1'; use one of accuracy, bits_per_char, .*r2"):
        metrics.spec("f1")


@pytest.mark.parametrize(
    ("name", "task"), [(spec.name, task) for spec in metrics.METRICS.values() for task in sorted(spec.tasks)]
)
def test_the_leaderboards_first_is_promotes_pick_for_every_metric(name, task):
    values = {"a": 0.3, "b": 0.7, "c": 0.5, "d": 0.7, "e": math.nan}
    entries = [report.ResultEntry(e, "set", "m", "f", task, {name: v}) for e, v in values.items()]
    rows = report.leaderboard_rows(entries, ranked_by={task: name})
    results = {experiment: {"test": {name: value}} for experiment, value in values.items()}
    assert rows[0]["experiment"] == promotion.best_experiment(results, metrics.spec(name))
