"""pipeline.models: builders per family x task, scikit-learn baselines, compatibility, predict, save/load."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from pipeline.backends.sklearn import baselines, face_completion
from pipeline.config import CnnModel, DnnModel, FaceCompletionModel, LstmModel, SklearnModel
from pipeline.core.errors import PipelineError
from pipeline.models import building, persistence, prediction
from tests.conftest import make_data

ROOT = Path(__file__).resolve().parents[1]

TINY_KERAS = {
    "dnn": DnnModel(family="dnn", hidden_units=[8], dropout_rate=0.1, batch_norm=True, l2=1e-4),
    "cnn": CnnModel(family="cnn", filters=[4, 8], dense_units=[8], batch_norm=True, dropout_rate=0.1),
    "lstm": LstmModel(family="lstm", units=[8, 4], bidirectional=True, dropout_rate=0.1),
}


@pytest.mark.parametrize("family", sorted(TINY_KERAS))
@pytest.mark.parametrize("task", ["classification", "regression", "forecast"])
def test_keras_builders_output_shapes(family, task):
    layouts = {"dnn": ["tabular", "image"], "cnn": ["image"], "lstm": ["sequence", "image"]}[family]
    for layout in layouts:
        data = make_data(task, layout)
        model = building.build(TINY_KERAS[family], data.schema, seed=0)
        out = prediction.predict(model, data.test.x, data.schema)
        if task == "classification":
            assert out.shape == (16, 3)
            np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
        else:
            assert out.shape == (16,)


def keras_mnist_cnn():
    """Keras' mnist_cnn example, layer for layer."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )


def keras_mnist_mlp():
    """Keras' mnist_mlp example (which flattens the images before the model)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ]
    )


def tutorial_dense128():
    """The TensorFlow Fashion-MNIST tutorial's net (its logits made probabilities)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


def describe(model) -> list[tuple]:
    """(layer type, output shape, parameters, activation, settings) per layer after the input; a separate
    Activation layer counts as the activation of the layer before it."""
    rows = []
    for layer in model.layers:
        kind, config = type(layer).__name__, layer.get_config()
        if kind == "InputLayer":  # functional models list theirs, Sequential ones do not
            continue
        if kind == "Activation":
            rows[-1][3] = config["activation"]
            continue
        settings = {
            key: config.get(key) for key in ("rate", "kernel_size", "pool_size", "strides", "padding")
        }
        row = [kind, tuple(layer.output.shape), layer.count_params(), config.get("activation"), settings]
        rows.append(row)
    return [tuple(row) for row in rows]


@pytest.mark.parametrize(
    ("suite", "preset", "reference", "n_params"),
    [
        ("mnist", "mnist_cnn", keras_mnist_cnn, 1_199_882),
        ("fashion", "mnist_cnn", keras_mnist_cnn, 1_199_882),
        ("mnist", "mlp512", keras_mnist_mlp, 669_706),
        ("fashion", "mlp512", keras_mnist_mlp, 669_706),
        ("fashion", "dense128", tutorial_dense128, 101_770),
    ],
)
def test_reference_presets_are_exact(suite, preset, reference, n_params):
    from pipeline import config
    from pipeline.datasets.processed import Schema

    params = config.load(ROOT / suite / "params.yaml")
    schema = Schema(
        dataset=suite, task="classification", layout="image", input_shape=(28, 28, 1), n_classes=10
    )
    model, expected = building.build(params.models.keras[preset], schema, seed=0), reference()
    assert describe(model) == describe(expected)
    assert model.count_params() == expected.count_params() == n_params
    model.set_weights(expected.get_weights())  # the same weights in the same order give the same function
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), expected.predict(x, verbose=0), rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize(
    ("suite", "experiment", "optimizer", "learning_rate", "epochs"),
    [
        ("mnist", "mnist-mnist_cnn", "adadelta", 1.0, 12),  # Keras 2's Adadelta default rate
        ("fashion", "fashion_mnist-mnist_cnn", "adadelta", 1.0, 12),
        ("mnist", "mnist-mlp512", "rmsprop", 1e-3, 20),
        ("fashion", "fashion_mnist-mlp512", "rmsprop", 1e-3, 20),
    ],
)
def test_reference_experiments_train_as_the_originals(suite, experiment, optimizer, learning_rate, epochs):
    from pipeline import config

    train = config.experiment(config.load(ROOT / suite / "params.yaml"), experiment).train
    assert (train.optimizer.name, train.optimizer.learning_rate) == (optimizer, learning_rate)
    assert train.epochs == epochs
    assert (train.batch_size, train.schedule.name) == (128, "constant")
    assert train.early_stopping_patience == train.reduce_lr_patience == 0  # all epochs at the one rate


def test_cnn_dropout_rates_and_blocks():
    model_cfg = CnnModel(
        family="cnn",
        filters=[4, 4, 8, 8],
        convs_per_block=2,
        dense_units=[8],
        dropout_rate=0.1,
        dense_dropout_rate=0.3,
    )
    model = building.build(model_cfg, make_data().schema, seed=0)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert [kind for kind in kinds if kind in ("Conv2D", "MaxPooling2D", "Dropout")] == [
        *(["Conv2D", "Conv2D", "MaxPooling2D", "Dropout"] * 2),
        "Dropout",
    ]
    assert [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"] == [0.1, 0.1, 0.3]


def test_cnn_filters_must_fill_whole_blocks():
    with pytest.raises(ValueError, match="3 filters do not make whole blocks of convs_per_block 2"):
        CnnModel(family="cnn", filters=[8, 8, 16], convs_per_block=2)


def test_lstm_reads_an_image_row_by_row():
    model = building.build(TINY_KERAS["lstm"], make_data(layout="image").schema, seed=0)
    reshapes = [layer for layer in model.layers if type(layer).__name__ == "Reshape"]
    assert [layer.output.shape for layer in reshapes] == [(None, 8, 8)]


def test_head_stays_float32_under_mixed_precision():
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = building.build(TINY_KERAS["cnn"], make_data().schema, seed=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.layers[1].compute_dtype == "float16"
    assert model.output.dtype == "float32"


@pytest.mark.parametrize("name", sorted(baselines.ESTIMATORS))
def test_every_sklearn_estimator_builds_and_fits(name):
    task = baselines.ESTIMATORS[name].task
    data = make_data(task, "image")
    model = building.build(SklearnModel(family="sklearn", estimator=name), data.schema, seed=3)
    assert isinstance(model, Pipeline)
    if "random_state" in model[-1].get_params():
        assert model[-1].random_state == 3
    model.fit(data.train.x, data.train.y)
    out = prediction.predict(model, data.test.x, data.schema)
    if task == "classification":
        assert out.shape == (16, 3)
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    else:
        assert out.shape == (16,)


def test_classifier_without_predict_proba_gives_one_hot():
    data = make_data()
    model = building.build(SklearnModel(family="sklearn", estimator="svc"), data.schema, seed=0)
    model.fit(data.train.x, data.train.y)
    out = prediction.predict(model, data.test.x, data.schema)
    assert set(np.unique(out)) <= {0.0, 1.0}
    np.testing.assert_array_equal(out.argmax(axis=1), model.predict(data.test.x))


def test_hyperparameters_reach_the_estimator():
    model = baselines.build("random_forest", {"n_estimators": 7, "max_depth": 2}, seed=0)
    assert (model[-1].n_estimators, model[-1].max_depth) == (7, 2)


def test_n_jobs_applies_where_the_estimator_takes_it():
    assert baselines.build("random_forest", {}, seed=0, n_jobs=2)[-1].n_jobs == 2
    assert baselines.build("random_forest", {"n_jobs": 3}, seed=0, n_jobs=2)[-1].n_jobs == 3
    assert baselines.build("logistic_regression", {}, seed=0, n_jobs=2)[-1].n_jobs is None
    assert "n_jobs" not in baselines.build("svc", {}, seed=0, n_jobs=2)[-1].get_params()


def test_unknown_estimator_lists_valid_names():
    with pytest.raises(PipelineError, match=r"unknown scikit-learn estimator 'forest'.*random_forest"):
        baselines.build("forest", {}, seed=0)


def test_bad_hyperparameter_name_is_named():
    with pytest.raises(PipelineError, match=r"'random_forest' has no hyperparameter 'n_trees'"):
        baselines.build("random_forest", {"n_trees": 10}, seed=0)


def test_random_state_comes_from_the_seed():
    with pytest.raises(PipelineError, match="random_state"):
        baselines.build("random_forest", {"random_state": 1}, seed=0)


@pytest.mark.parametrize(
    ("model_cfg", "task", "layout", "message"),
    [
        (CnnModel(family="cnn"), "classification", "tabular", r"model 'cnn' \(family cnn\).*cnn needs image"),
        (LstmModel(family="lstm"), "regression", "tabular", "lstm needs image or sequence or text data"),
        (
            FaceCompletionModel(family="face_completion", estimator="knn_regressor"),
            "classification",
            "sequence",
            "face_completion needs image data",
        ),
        (
            SklearnModel(family="sklearn", estimator="random_forest"),
            "regression",
            "tabular",
            r"'random_forest' is a classifier: use one of .*random_forest_regressor",
        ),
        (
            SklearnModel(family="sklearn", estimator="ridge"),
            "classification",
            "tabular",
            r"'ridge' is a regressor: use one of .*logistic_regression",
        ),
        (
            SklearnModel(family="sklearn", estimator="ridge"),
            "forecast",
            "sequence",
            None,
        ),
    ],
)
def test_check_compatible(model_cfg, task, layout, message):
    schema = make_data(task, layout).schema
    if message is None:
        building.check_compatible(model_cfg, schema)
        return
    with pytest.raises(PipelineError, match=message) as error:
        building.build(model_cfg, schema, seed=0)
    assert f"dataset 'tiny_{layout}' (layout {layout}" in str(error.value)


def test_check_compatible_uses_the_model_name():
    with pytest.raises(PipelineError, match=r"model 'my_cnn' \(family cnn\) with dataset 'tiny_tabular'"):
        building.check_compatible(CnnModel(family="cnn"), make_data(layout="tabular").schema, name="my_cnn")


def test_a_bad_face_completion_estimator_is_refused_with_the_params():
    expected = "estimator\n  Input should be 'extra_trees_regressor', 'knn_regressor'"
    with pytest.raises(ValueError, match=expected):
        FaceCompletionModel(family="face_completion", estimator="svc")


@pytest.mark.parametrize("height", [8, 7])
def test_split_and_join_halves_round_trip(height):
    images = np.arange(4 * height * 6 * 2, dtype=np.float32).reshape(4, height, 6, 2)
    upper, lower = face_completion.split_halves(images)
    assert upper.shape == (4, (height // 2) * 12)
    assert lower.shape == (4, (height - height // 2) * 12)
    np.testing.assert_array_equal(face_completion.join_halves(upper, lower, images.shape[1:]), images)


@pytest.mark.parametrize("name", face_completion.estimator_names())
def test_face_completion_predicts_the_lower_half(name):
    data = make_data()
    model = building.build(FaceCompletionModel(family="face_completion", estimator=name), data.schema, seed=0)
    model.fit(data.train.x, face_completion.split_halves(data.train.x)[1])
    completed = prediction.predict(model, data.test.x, data.schema)
    assert completed.shape == data.test.x.shape
    np.testing.assert_array_equal(completed[:, :4], data.test.x[:, :4])


@pytest.mark.parametrize(
    "model_cfg",
    [
        SklearnModel(family="sklearn", estimator="hist_gradient_boosting"),
        FaceCompletionModel(
            family="face_completion", estimator="extra_trees_regressor", hyperparameters={"n_estimators": 3}
        ),
    ],
)
def test_sklearn_save_load_round_trip(tmp_path, model_cfg):
    data = make_data()
    model = building.build(model_cfg, data.schema, seed=0)
    y = data.train.y if model_cfg.family == "sklearn" else face_completion.split_halves(data.train.x)[1]
    model.fit(data.train.x, y)
    persistence.save(model, tmp_path, {"seed": 0})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hyperparameters.json", "model.skops"]
    loaded = persistence.load(tmp_path)
    np.testing.assert_array_equal(
        prediction.predict(loaded, data.test.x, data.schema),
        prediction.predict(model, data.test.x, data.schema),
    )


def test_keras_save_load_round_trip(tmp_path):
    data = make_data("regression", "sequence")
    model = building.build(TINY_KERAS["lstm"], data.schema, seed=0)
    persistence.save(model, tmp_path, {"model": TINY_KERAS["lstm"].model_dump()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hyperparameters.json", "model.keras"]
    loaded = persistence.load(tmp_path)
    np.testing.assert_array_equal(
        prediction.predict(loaded, data.test.x, data.schema),
        prediction.predict(model, data.test.x, data.schema),
    )


def test_load_refuses_foreign_types(tmp_path):
    import skops.io

    skops.io.dump(Pipeline([("step", FunctionTransformer(os.path.join))]), tmp_path / "model.skops")
    with pytest.raises(PipelineError, match="refusing to load"):
        persistence.load(tmp_path)


def test_load_without_a_model_says_what_to_run(tmp_path):
    with pytest.raises(PipelineError, match="run the train stage"):
        persistence.load(tmp_path)
