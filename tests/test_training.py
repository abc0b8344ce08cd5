"""pipeline.models.training: real fits on tiny data (scikit-learn and Keras), seeds, schedules and resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import (
    CnnModel,
    DnnModel,
    Experiment,
    FaceCompletionModel,
    LstmModel,
    Mlflow,
    ModelConfig,
    Optimizer,
    Schedule,
    SklearnModel,
    SklearnSource,
    Train,
)
from pipeline.core.errors import PipelineError
from pipeline.models import persistence, prediction, training
from tests.conftest import make_data

ROOT = Path(__file__).resolve().parents[1]


def make_experiment(model: ModelConfig, n_jobs: int = 1, **train: object) -> Experiment:
    return Experiment(
        name="tiny",
        seed=0,
        dataset="tiny",
        dataset_config=SklearnSource(source="sklearn", name="iris"),
        backend=model.backend,
        model_name="tiny_model",
        model=model,
        train=Train(**{"epochs": 1, "batch_size": 16, **train}),
        n_jobs=n_jobs,
        mlflow=Mlflow(),
    )


class Interrupted(Exception):
    pass


def interrupt_after_epoch(n_epochs: int):
    import keras

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == n_epochs:
                raise Interrupted(f"stopped after epoch {n_epochs}")

    return Interrupt()


def test_sklearn_fit_result():
    data = make_data("regression", "tabular")
    result = training.fit(make_experiment(SklearnModel(family="sklearn", estimator="ridge")), data)
    assert result.history == []
    assert result.resumed_from_epoch == 0
    assert result.device["framework"] == "scikit-learn"
    assert result.hyperparameters == {
        "model": {"family": "sklearn", "estimator": "ridge", "hyperparameters": {}, "features": None},
        "seed": 0,
    }
    assert prediction.predict(result.model, data.test.x, data.schema).shape == (16,)


def test_sklearn_fit_uses_the_experiments_n_jobs():
    model_cfg = SklearnModel(family="sklearn", estimator="extra_trees", hyperparameters={"n_estimators": 4})
    result = training.fit(make_experiment(model_cfg, n_jobs=2), make_data(layout="tabular"))
    assert result.model[-1].n_jobs == 2


def test_face_completion_fits_on_halves():
    data = make_data()
    model_cfg = FaceCompletionModel(family="face_completion", estimator="ridge_cv")
    result = training.fit(make_experiment(model_cfg), data)
    assert prediction.predict(result.model, data.test.x, data.schema).shape == data.test.x.shape


def test_incompatible_pair_fails_before_training():
    with pytest.raises(PipelineError, match="cnn needs image data"):
        training.fit(make_experiment(CnnModel(family="cnn")), make_data(layout="tabular"))


@pytest.mark.e2e
def test_one_epoch_writes_a_history():
    data = make_data()
    result = training.fit(make_experiment(DnnModel(family="dnn", hidden_units=[8])), data)
    assert len(result.history) == 1
    entry = result.history[0]
    assert entry["epoch"] == 1
    assert set(entry) == {"epoch", "loss", "val_loss", "accuracy", "val_accuracy", "lr"}
    assert entry["lr"] == pytest.approx(1e-3)
    assert result.device["device_type"] == "CPU"
    assert result.hyperparameters["train"]["epochs"] == 1
    assert result.hyperparameters["model"]["hidden_units"] == [8]
    json.dumps([result.history, result.hyperparameters, result.device])
    assert result.fit_seconds > 0


@pytest.mark.e2e
def test_same_seed_gives_identical_predictions():
    data = make_data()
    model_cfg = CnnModel(family="cnn", filters=[4], dense_units=[8], dropout_rate=0.2)
    first, second = (training.fit(make_experiment(model_cfg, epochs=2), data) for _ in range(2))
    np.testing.assert_array_equal(
        prediction.predict(first.model, data.test.x, data.schema),
        prediction.predict(second.model, data.test.x, data.schema),
    )
    assert first.history == second.history


@pytest.mark.e2e
def test_regression_with_cosine_schedule_and_sgd(tmp_path):
    data = make_data("forecast", "sequence")
    experiment = make_experiment(
        LstmModel(family="lstm", units=[4]),
        epochs=2,
        optimizer=Optimizer(name="sgd", learning_rate=0.01, momentum=0.9),
        schedule=Schedule(name="cosine"),
    )
    result = training.fit(experiment, data)
    assert {"rmse", "mae", "val_rmse", "val_mae"} <= set(result.history[0])
    assert result.history[1]["lr"] < result.history[0]["lr"] < 0.01
    # the compiled model, schedule included, loads back in safe mode
    persistence.save(result.model, tmp_path, result.hyperparameters)
    np.testing.assert_array_equal(
        prediction.predict(persistence.load(tmp_path), data.test.x, data.schema),
        prediction.predict(result.model, data.test.x, data.schema),
    )


@pytest.mark.e2e
def test_step_schedule_multiplies_the_rate():
    experiment = make_experiment(
        DnnModel(family="dnn", hidden_units=[4]),
        epochs=3,
        optimizer=Optimizer(name="rmsprop", learning_rate=0.01),
        schedule=Schedule(name="step", step_epochs=2, step_factor=0.1),
    )
    result = training.fit(experiment, make_data("regression", "tabular"))
    assert [entry["lr"] for entry in result.history] == pytest.approx([0.01, 0.01, 0.001])


@pytest.mark.e2e
def test_step_schedule_preset_drops_the_rate_in_the_history():
    from pipeline import config

    params = config.load(ROOT / "fashion" / "params.yaml")
    preset = config.experiment(params, "fashion_mnist-mnist_cnn_step")  # its own model and schedule
    schedule, rate = preset.train.schedule, preset.train.optimizer.learning_rate
    result = training.fit(preset, make_data(n_train=16))  # the preset's epochs, one tiny batch each
    expected = [
        rate * schedule.step_factor ** (epoch // schedule.step_epochs) for epoch in range(preset.train.epochs)
    ]
    assert schedule.name == "step" and len(set(expected)) > 1
    assert [entry["lr"] for entry in result.history] == pytest.approx(expected)


def test_backup_dir_is_specific_to_config_and_data(tmp_path):
    experiment = make_experiment(DnnModel(family="dnn"))
    backup = training.backup_dir_for(tmp_path, experiment, "data-1")
    assert backup.parent == tmp_path / "tiny"
    assert backup == training.backup_dir_for(tmp_path, experiment, "data-1")
    assert backup != training.backup_dir_for(tmp_path, experiment, "data-2")
    assert backup != training.backup_dir_for(
        tmp_path, make_experiment(DnnModel(family="dnn"), epochs=2), "data-1"
    )
    changed_model = make_experiment(DnnModel(family="dnn", dropout_rate=0.5))
    assert backup != training.backup_dir_for(tmp_path, changed_model, "data-1")
    same_model = make_experiment(DnnModel(family="dnn"), n_jobs=4)  # sklearn parallelism: no effect here
    assert backup == training.backup_dir_for(tmp_path, same_model, "data-1")


@pytest.mark.e2e
def test_interrupted_run_resumes_from_its_last_epoch(tmp_path):
    data = make_data("regression", "tabular")
    experiment = make_experiment(DnnModel(family="dnn", hidden_units=[8]), epochs=4)
    backup = training.backup_dir_for(tmp_path, experiment, "data")
    with pytest.raises(Interrupted):
        training.fit(experiment, data, backup_dir=backup, callbacks=[interrupt_after_epoch(2)])
    assert backup.exists()

    result = training.fit(experiment, data, backup_dir=backup)
    assert result.resumed_from_epoch == 2
    assert [entry["epoch"] for entry in result.history] == [1, 2, 3, 4]
    assert not backup.exists()  # finished: nothing to resume


@pytest.mark.e2e
def test_fresh_run_with_backup_dir_starts_at_zero(tmp_path):
    experiment = make_experiment(DnnModel(family="dnn", hidden_units=[4]))
    backup = training.backup_dir_for(tmp_path, experiment, "data")
    result = training.fit(experiment, make_data("regression", "tabular"), backup_dir=backup)
    assert result.resumed_from_epoch == 0
    assert len(result.history) == 1
