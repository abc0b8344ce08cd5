"""The `transfer` family: a keras.applications backbone under a new head, trained in two phases, with
pinned pretrained weights fetched (mirror first), cached and verified."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.backends.keras import fit, transfer
from pipeline.config import Experiment, Mlflow, PretrainedWeights, SklearnSource, Train, TransferModel
from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.datasets.download import ChecksumError
from pipeline.datasets.processed import ProcessedData, Schema, Split
from pipeline.models import building, persistence, prediction, training
from tests.conftest import make_data
from tests.test_training import Interrupted, interrupt_after_epoch

TINY = {"family": "transfer", "alpha": 0.35, "input_size": 32}


@pytest.fixture(autouse=True)
def weights_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(transfer.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv("PIPELINE_MIRROR_KERAS_WEIGHTS", raising=False)
    return tmp_path / "cache"


def grey_images() -> ProcessedData:
    """3 classes x 12 grey 32x32 training images (classes differ in brightness)."""
    rng = np.random.default_rng(0)

    def split(n: int) -> Split:
        y = np.arange(n) % 3
        x = rng.random((n, 32, 32, 1)) * 0.5 + 0.25 * y[:, None, None, None]
        return Split(x.astype(np.float32), y.astype(np.int64))

    schema = Schema(
        dataset="tiny_grey", task="classification", layout="image", input_shape=(32, 32, 1), n_classes=3
    )
    return ProcessedData(schema, split(36), split(6), split(6))


def experiment(model: TransferModel, epochs: int = 1) -> Experiment:
    return Experiment(
        name="tiny-transfer",
        seed=0,
        dataset="tiny_grey",
        dataset_config=SklearnSource(source="sklearn", name="iris"),
        backend="keras",
        model_name="transfer",
        model=model,
        train=Train(epochs=epochs, batch_size=12),
        mlflow=Mlflow(),
    )


@pytest.mark.e2e
def test_two_phases_train_into_one_history_and_the_model_loads_safely(tmp_path):
    data = grey_images()
    model_cfg = TransferModel(**TINY, fine_tune_layers=6, fine_tune_epochs=1, fine_tune_learning_rate=1e-4)
    result = training.fit(experiment(model_cfg), data)
    assert [entry["epoch"] for entry in result.history] == [1, 2]
    assert [entry["lr"] for entry in result.history] == pytest.approx([1e-3, 1e-4])
    backbone = result.model.get_layer(transfer.BACKBONE)
    top = backbone.layers[-6:]
    assert [layer.trainable for layer in top] == [
        type(layer).__name__ != "BatchNormalization" for layer in top
    ]
    assert not any(layer.trainable for layer in backbone.layers[:-6])
    persistence.save(result.model, tmp_path, result.hyperparameters)
    loaded = persistence.load(tmp_path)  # in safe mode: no Lambda layers
    for saved, trained in zip(loaded.weights, result.model.weights, strict=True):
        np.testing.assert_array_equal(saved.numpy(), trained.numpy())
    probabilities = prediction.predict(loaded, data.test.x, data.schema)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.e2e
def test_a_run_killed_while_fine_tuning_resumes_there(tmp_path):
    model_cfg = TransferModel(**TINY, fine_tune_layers=6, fine_tune_epochs=2)
    phases = fit._phases(experiment(model_cfg, 3), tmp_path)
    assert [(phase.initial_epoch, phase.epochs) for phase in phases] == [(0, 3), (3, 5)]
    storage.write_json(tmp_path / "keras-fine-tune" / "training_metadata.json", {"epoch": 4, "batch": -1})
    (resumed,) = fit._phases(experiment(model_cfg, 3), tmp_path)
    assert (resumed.initial_epoch, resumed.epochs, resumed.fine_tune_layers) == (3, 5, 6)
    assert resumed.train.optimizer.learning_rate == model_cfg.fine_tune_learning_rate
    (tmp_path / "keras-fine-tune" / "training_metadata.json").write_text('{"epoch": ')  # torn: start over
    assert len(fit._phases(experiment(model_cfg, 3), tmp_path)) == 2


@pytest.mark.e2e
def test_a_run_killed_in_the_first_phase_resumes_it_then_fine_tunes_every_epoch_once(tmp_path):
    model_cfg = TransferModel(**TINY, fine_tune_layers=6, fine_tune_epochs=2)
    run = experiment(model_cfg, 3)
    with pytest.raises(Interrupted):
        training.fit(run, grey_images(), backup_dir=tmp_path, callbacks=[interrupt_after_epoch(2)])
    result = training.fit(run, grey_images(), backup_dir=tmp_path)
    assert result.resumed_from_epoch == 2
    assert [entry["epoch"] for entry in result.history] == [1, 2, 3, 4, 5]
    fine_tune_rates = [entry["lr"] for entry in result.history][3:]
    assert fine_tune_rates == pytest.approx([model_cfg.fine_tune_learning_rate] * 2)


def save_backbone_weights(path, seed: int = 1):
    """Random weights of the tiny backbone saved to `path`; (the RemoteFile pin of the file, first kernel)."""
    import keras

    keras.utils.set_random_seed(seed)
    backbone = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None, name=transfer.BACKBONE
    )
    backbone.save_weights(path)
    return storage.sha256_file(path), keras.ops.convert_to_numpy(backbone.weights[0])


def test_pinned_weights_come_from_the_mirror_into_the_cache(tmp_path, weights_cache):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    sha256, kernel = save_backbone_weights(mirror / "backbone.weights.h5")
    spec = PretrainedWeights(
        url="http://127.0.0.1:9/nowhere/backbone.weights.h5", sha256=sha256, mirror=str(mirror)
    )
    model_cfg = TransferModel(**TINY, weights=spec)
    model = building.build(model_cfg, grey_images().schema, seed=0)
    np.testing.assert_array_equal(model.get_layer(transfer.BACKBONE).weights[0].numpy(), kernel)
    assert (weights_cache / sha256 / "backbone.weights.h5").exists()
    (mirror / "backbone.weights.h5").unlink()  # from now on only the (verified) cached copy is there
    assert transfer.fetch_weights(spec) == weights_cache / sha256 / "backbone.weights.h5"


def test_a_wrong_digest_stops_before_any_training(tmp_path, weights_cache):
    (tmp_path / "backbone.weights.h5").write_bytes(b"not the pinned bytes")
    spec = PretrainedWeights(url=str(tmp_path / "backbone.weights.h5"), sha256="0" * 64)
    with pytest.raises(ChecksumError, match="checksum mismatch for backbone.weights.h5"):
        training.fit(experiment(TransferModel(**TINY, weights=spec)), grey_images())
    assert not weights_cache.exists() or not any(weights_cache.rglob("*.h5"))


def test_a_file_that_is_no_weights_for_the_backbone_is_refused(tmp_path):
    path = tmp_path / "backbone.weights.h5"
    path.write_bytes(b"pinned, but no HDF5 file")
    spec = PretrainedWeights(url=str(path), sha256=storage.sha256_file(path))
    with pytest.raises(PipelineError, match="does not fit the backbone 'backbone'"):
        building.build(TransferModel(**TINY, weights=spec), grey_images().schema, seed=0)


def test_efficientnet_front_end_applies_keras_correction_for_published_weights():
    """Keras follows the normalisation (x / 255 - mean) / sqrt(var) by a rescaling by 1 / sqrt(stddev)."""
    scale, offset = transfer._efficientnet_imagenet_input()
    x = np.linspace(0, 1, 5)[:, None]
    mean, stddev = np.array(transfer.IMAGENET_MEAN), np.array(transfer.IMAGENET_STDDEV)
    variance = stddev**2
    ours = ((x * np.array(scale) + np.array(offset)) / 255 - mean) / np.sqrt(variance)
    np.testing.assert_allclose(ours, (x - mean) / np.sqrt(variance) / np.sqrt(stddev))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"backbone": "efficientnet_b0", "alpha": 0.5}, "alpha is mobilenet_v2's width multiplier"),
        ({"fine_tune_layers": 10}, "needs both fine_tune_layers and fine_tune_epochs"),
        ({"input_size": 16}, "greater than or equal to 32"),
    ],
)
def test_settings_are_validated(settings, message):
    with pytest.raises(ValueError, match=message):
        TransferModel(family="transfer", **settings)


@pytest.mark.parametrize(
    ("task", "layout", "message"),
    [("classification", "tabular", "transfer needs image data"), ("regression", "image", "softmax head")],
)
def test_transfer_needs_classified_images(task, layout, message):
    with pytest.raises(PipelineError, match=message):
        building.check_compatible(TransferModel(family="transfer"), make_data(task, layout).schema)


def test_transfer_needs_grey_or_rgb_images():
    schema = Schema(dataset="rgba", task="classification", layout="image", input_shape=(8, 8, 4), n_classes=3)
    with pytest.raises(PipelineError, match="grey or RGB images, these have 4 channels"):
        building.check_compatible(TransferModel(family="transfer"), schema)


def test_experiment_json_round_trips():
    spec = PretrainedWeights(url="https://example.com/w.h5", md5="0" * 32)
    dumped = TransferModel(family="transfer", weights=spec).model_dump(mode="json")
    assert TransferModel.model_validate(json.loads(json.dumps(dumped))).weights == spec
