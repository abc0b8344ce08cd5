"""The champion re-scored on this run's test split: its metric equals scoring it by hand on the same rows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, root_mean_squared_error

from pipeline import config
from pipeline.config import Experiment, Mlflow
from pipeline.core import paths
from pipeline.datasets import processed
from pipeline.datasets.processed import ProcessedData, Schema, Split
from pipeline.decisions import promotion, rescoring
from pipeline.tracking import registry, runs
from stages import promote as promote_stage
from stages import train as train_stage
from tests.conftest import ROOT

RNG = np.random.default_rng(0)
RAW = RNG.normal([10.0, -5.0, 100.0], [2.0, 1.0, 30.0], size=(120, 3))
LABELS = (RAW[:, 0] + RAW[:, 2] / 15 > 16.7).astype(np.int64)
COLUMNS = {"target": "label", "time": None, "inputs": ["a", "b", "c"]}


def schema(shift, scale, *, task="classification", classes=("low", "high"), target_scale=None) -> Schema:
    return Schema(
        dataset="toy",
        task=task,
        layout="tabular",
        input_shape=(3,),
        n_classes=len(classes) if classes else None,
        class_names=classes,
        target_scale=target_scale,
        extra={"scaler": {"shift": list(shift), "scale": list(scale)}, "columns": COLUMNS},
    )


CHAMPION = schema(RAW[:60].mean(axis=0), RAW[:60].std(axis=0))
CURRENT = schema([0.0, 0.0, 0.0], [5.0, 5.0, 50.0], classes=("high", "low"))  # other scaler, class order


def scaled(raw: np.ndarray, of: Schema) -> np.ndarray:
    scaler = of.extra["scaler"]
    return ((raw - np.asarray(scaler["shift"])) / np.asarray(scaler["scale"])).astype(np.float32)


def champion_model() -> LogisticRegression:
    return LogisticRegression().fit(scaled(RAW[:60], CHAMPION), LABELS[:60])


def test_a_sklearn_champion_scores_as_by_hand_across_scalers_and_class_order():
    model = champion_model()
    test = Split(scaled(RAW[60:], CURRENT), 1 - LABELS[60:])  # this run names class 0 "high"
    by_hand = accuracy_score(LABELS[60:], model.predict(scaled(RAW[60:], CHAMPION)))
    value = rescoring.score(model, CHAMPION, CURRENT, test, "accuracy")
    assert value == pytest.approx(by_hand) and value > 0.8


def test_a_keras_regressor_is_compared_in_the_data_units():
    import keras

    y = RAW @ np.array([1.0, 2.0, 0.1]) + 3.0
    champion = schema(
        RAW[:60].mean(axis=0),
        RAW[:60].std(axis=0),
        task="regression",
        classes=None,
        target_scale=(float(y[:60].mean()), float(y[:60].std())),
    )
    current = replace(champion, extra=CURRENT.extra, target_scale=(20.0, 4.0))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(
        scaled(RAW[:60], champion),
        (y[:60] - champion.target_scale[0]) / champion.target_scale[1],
        epochs=3,
        verbose=0,
    )
    test = Split(scaled(RAW[60:], current), ((y[60:] - 20.0) / 4.0).astype(np.float32))
    predicted = model.predict(scaled(RAW[60:], champion), verbose=0).reshape(-1)
    by_hand = root_mean_squared_error(y[60:], champion.unscale_targets(predicted))
    assert rescoring.score(model, champion, current, test, "rmse") == pytest.approx(by_hand, rel=1e-4)


@pytest.mark.parametrize(
    ("current", "why"),
    [
        (replace(CURRENT, input_shape=(4,)), "inputs of shape"),
        (
            replace(CURRENT, extra={**CURRENT.extra, "columns": {**COLUMNS, "inputs": ["a", "b", "d"]}}),
            "columns",
        ),
        (replace(CURRENT, class_names=("high", "mid")), "classes"),
        (replace(CURRENT, task="regression"), "solves classification"),
    ],
)
def test_data_the_champion_cannot_take_says_why(current: Schema, why: str):
    with pytest.raises(rescoring.NotComparable, match=why):
        rescoring.score(
            champion_model(), CHAMPION, current, Split(scaled(RAW[60:], CURRENT), LABELS[60:]), "accuracy"
        )


def test_text_ids_go_through_both_vocabularies():
    champion = ("<pad>", "<unk>", "good", "bad")
    current = ("<pad>", "<unk>", "bad", "new", "good")
    ids = np.array([[4, 2, 3, 0]], dtype=np.int32)
    assert rescoring.token_ids(ids, current, champion).tolist() == [[2, 3, 1, 0]]


def test_the_decision_uses_the_new_data_value_when_there_is_one():
    assert promotion.champion_value(0.7, 0.9, None) == (
        0.7,
        "the champion re-scored on this run's test split",
    )
    value, basis = promotion.champion_value(None, 0.9, "not comparable on the new data: columns")
    assert value == 0.9 and "stored value (not comparable on the new data: columns)" in basis


# --- the champion from a real registry ----------------------------------------------------------


def logged_run(*, with_schema: bool = True) -> str:
    """A training run of the champion's model, logged as stages/train.py logs one (`with_schema`
    False: as runs logged before data/schema.json was); its id. Runs in the project (the cwd)."""
    split = Split(scaled(RAW[:60], CHAMPION), LABELS[:60])
    data = ProcessedData(CHAMPION, split, split, split)
    experiment = Experiment.model_validate(
        {
            "name": "old-logreg",
            "seed": 0,
            "dataset": "old",  # data/processed/old: what the champion was trained on
            "dataset_config": {"source": "sklearn", "name": "iris"},
            "backend": "sklearn",
            "model_name": "logreg",
            "model": {"family": "sklearn", "estimator": "logistic_regression"},
            "mlflow": Mlflow(experiment_prefix="rescore-", required=True),
        }
    )
    processed.save(paths.processed_dir("old"), data)
    summary = {"data_hash": "0", "device": {"device_type": "CPU"}, "fit_seconds": 0.1}
    with runs.run(experiment, stage="train") as run:
        if with_schema:
            train_stage.log_training(run, experiment, summary, {}, [], champion_model(), data)
        else:
            run.log_model(champion_model(), flavor="sklearn", input_example=split.x[:2])
    return run.run_id


def registered_champion(*, with_schema: bool) -> tuple[str, str]:
    """Champion v1 of model `toy`, promoted with a stored accuracy of 0.5; (version, run id)."""
    run_id = logged_run(with_schema=with_schema)
    version = registry.register(run_id, "toy", "accuracy", 0.5)
    registry.set_champion("toy", version)
    return version, run_id


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tracking store and this run's processed data `toy` in the project `tmp_path` (the cwd)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    data_dir = paths.processed_dir("toy")
    test = Split(scaled(RAW[60:], CURRENT), 1 - LABELS[60:])
    processed.save(data_dir, ProcessedData(CURRENT, test, test, test))
    return data_dir


def test_the_registered_champion_is_rescored_on_this_runs_test_split(store: Path):
    import mlflow

    version, run_id = registered_champion(with_schema=True)
    client = mlflow.MlflowClient()
    assert [a.path for a in client.list_artifacts(run_id, "data")] == ["data/schema.json"]  # train logs it
    assert registry.champion("toy") == (version, 0.5, run_id)
    found = rescoring.champion_on_new_data("toy", version, run_id, store, "accuracy", timeout_seconds=5)
    assert found == rescoring.Rescored("accuracy", pytest.approx(by_hand()))


def test_a_champion_without_a_logged_schema_is_not_comparable(store: Path):
    version, run_id = registered_champion(with_schema=False)
    found = rescoring.champion_on_new_data("toy", version, run_id, store, "accuracy", timeout_seconds=5)
    assert found.value is None
    assert found.reason.startswith("not comparable on the new data: ")


# --- the promote stage decides on the new data ----------------------------------------------------


def by_hand() -> float:
    """The champion's accuracy on this run's test split, scored in its own scale."""
    return accuracy_score(LABELS[60:], champion_model().predict(scaled(RAW[60:], CHAMPION)))


def promote(challenger: float, dry_run: str | None = None) -> dict:
    params = config.load(ROOT / "params.yaml")
    params = params.model_copy(update={"mlflow": params.mlflow.model_copy(update={"experiment_prefix": ""})})
    entry = {
        "metrics": {"test": {"accuracy": challenger}},
        "train": {"task": "classification"},
        "run": {"run_id": logged_run()},
    }
    return promote_stage.promote_dataset("toy", {"toy-new": entry}, params, dry_run=dry_run)


def test_a_challenger_must_beat_the_champion_on_the_new_data_not_its_stored_value(store: Path):
    registered_champion(with_schema=True)
    assert 0.8 < by_hand() < 0.95
    record = promote(0.8)  # beats the stored 0.5, not the champion on this test split
    assert record["champion_on_new_data"] == pytest.approx(by_hand())
    assert record["champion_stored"] == 0.5 and record["challenger"] == {
        "experiment": "toy-new",
        "value": 0.8,
    }
    assert (record["decision"], record["promoted"], record["margin"]) == ("keep the champion", False, 0.0)
    assert registry.champion("toy")[0] == "1"
    record = promote(0.95, dry_run="a sweep")
    assert record["would_promote"] and not record["promoted"] and registry.champion("toy")[0] == "1"
    record = promote(0.95)
    assert (
        record["decision"] == "promote"
        and record["promoted"]
        and registry.champion("toy")[0] == record["version"]
    )


def test_without_a_logged_schema_the_stored_value_decides_marked_not_comparable(store: Path):
    registered_champion(with_schema=False)
    record = promote(0.8)
    assert record["champion_on_new_data"] is None and record["promoted"]  # 0.8 beats the stored 0.5
    assert "stored value (not comparable on the new data" in record["champion_basis"]
