"""params.yaml validation: every bad value is named with what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
import yaml
from pydantic import ValidationError

from pipeline import config
from pipeline.core import metrics
from pipeline.core.errors import PipelineError

ROOT = Path(__file__).resolve().parents[1]
PARAMS_FILES = [ROOT / suite / "params.yaml" for suite in (".", "fashion", "mnist", "cifar", "text", "co2")]


@pytest.mark.parametrize("path", PARAMS_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_params_are_valid(path):
    params = config.load(path)
    for name in params.experiments:
        assert config.experiment(params, name).name == name


def write(tmp_path: Path, edit) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    edit(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["datasets"]["digits"].update(source="parquet"), r"datasets.digits.*'sklearn', 'idx'"),
        (
            lambda p: p["train"]["keras"].update(epochs=0),
            r"train.keras.epochs: Input should be greater than 0 \(got 0\)",
        ),
        (
            lambda p: p["models"]["keras"]["dnn"].update(dropout_rate=1.0),
            r"\n  models\.keras\.dnn\.dropout_rate: Input should be less than 1",
        ),
        (
            lambda p: p["datasets"]["iris"]["split"].update(test_size=1.5),
            r"\n  datasets\.iris\.split\.test_size: .*less than 1",
        ),
        (lambda p: p["train"]["keras"]["optimizer"].update(name="adamw2"), r"optimizer.name.*'adam', 'sgd'"),
        (
            lambda p: p["experiments"].update(x={"dataset": "nope", "backend": "keras", "model": "cnn"}),
            r"unknown dataset 'nope'",
        ),
        (
            lambda p: p["experiments"].update(x={"dataset": "iris", "backend": "keras", "model": "nope"}),
            r"unknown keras model 'nope'",
        ),
        (
            lambda p: p["models"]["keras"]["cnn"].update(filterz=[1]),
            r"\n  models\.keras\.cnn\.filterz: Extra inputs",
        ),
        (lambda p: p["train"]["keras"].update(epochs="many"), r"train.keras.epochs.*valid integer"),
        (lambda p: p["experiments"]["digits-svc"].update(train={"epochs": 3}), r"only Keras experiments"),
        (lambda p: p["experiments"]["digits-svc"].update(backend="torch"), r"backend.*'keras' or 'sklearn'"),
        (lambda p: p["experiments"]["digits-cnn"].update(backend="sklearn"), r"unknown sklearn model 'cnn'"),
        (
            lambda p: p["train"]["keras"].update(epochs=True),
            r"train.keras.epochs: Input should be a valid integer",
        ),
        (lambda p: p.update(seed=1.0), r"seed: Input should be a valid integer"),
        (lambda p: p.update(seed=2**64), r"seed: Input should be less than 4294967296"),
        (
            lambda p: p["train"]["keras"]["optimizer"].update(learning_rate=float("inf")),
            r"learning_rate: Input should be a finite number",
        ),
        (
            lambda p: p["promote"].update(margin=float("nan")),
            r"promote.margin: Input should be a finite number",
        ),
        (lambda p: p["train"]["sklearn"].update(n_jobs=0), r"train.sklearn.n_jobs: .*0 workers"),
        (lambda p: p.update(sede=1), r"sede: Extra inputs"),
        (lambda p: p.update(gate="strict"), r"gate: Input should be a valid dictionary"),
        (
            lambda p: p["gate"]["tolerance"].update(accuracy=-1),
            r"gate.tolerance.accuracy: .*greater than or equal",
        ),
        (lambda p: p["gate"]["tolerance"].update(acuracy=0.1), r"gate.tolerance: .*no test metric acuracy"),
        (
            lambda p: p["promote"]["metrics"].update(classification="bogus_metric"),
            r"promote.metrics: .*classification: no test metric 'bogus_metric'.*accuracy",
        ),
        (
            lambda p: p["models"]["sklearn"].update(net={"family": "dnn"}),
            r"models.sklearn.net: Input tag 'dnn'",
        ),
        (
            lambda p: p["models"]["sklearn"]["logreg"].update(estimator="logistc_regression"),
            r"\n  models\.sklearn\.logreg\.estimator: Input should be 'logistic_regression'",
        ),
        (lambda p: p["models"]["keras"]["dnn"].update(activation="banana"), r"activation: Input should be"),
        (
            lambda p: p["models"]["keras"]["lstm"].update(units=[]),
            r"\n  models\.keras\.lstm\.units: List should have at least 1",
        ),
        (lambda p: p["models"]["sklearn"]["tfidf_words"].update(ngram_range=[2, 1]), r"min_n <= max_n"),
        (
            lambda p: p["experiments"].update({"x;touch f": p["experiments"]["digits-svc"]}),
            r"experiments.x;touch f \(a key\): String should match pattern",
        ),
        (lambda p: p["datasets"].update({"a b": p["datasets"]["iris"]}), r"datasets.a b \(a key\)"),
        (lambda p: p["mlflow"].update(experiment_prefix="p" * 10_000), r"experiment_prefix: .*at most 32"),
        (lambda p: p["mlflow"].update(experiment_prefix="☃/../"), r"experiment_prefix: String should match"),
        (
            lambda p: p["datasets"]["fortunes"]["categories"].append("../etc"),
            r"categories: '../etc' is not a file or folder name",
        ),
    ],
    ids=[
        "source",
        "epochs",
        "dropout",
        "test-share",
        "optimizer",
        "dataset",
        "model",
        "unknown-key",
        "type",
        "sklearn-overrides",
        "backend",
        "wrong-backend",
        "bool-for-int",
        "float-for-int",
        "seed-range",
        "infinite",
        "nan",
        "no-workers",
        "unknown-top-level-key",
        "section-not-a-map",
        "negative-tolerance",
        "unknown-gated-metric",
        "unknown-promote-metric",
        "keras-model-under-sklearn",
        "estimator-typo",
        "activation",
        "no-units",
        "ngram-order",
        "shell-in-experiment-name",
        "space-in-dataset-name",
        "long-prefix",
        "path-in-prefix",
        "path-in-category",
    ],
)
def test_bad_params_are_named(tmp_path, edit, message):
    with pytest.raises(PipelineError, match=message):
        config.load(write(tmp_path, edit))


def test_experiment_overrides_only_the_given_train_keys():
    params = config.load(ROOT / "params.yaml")
    resolved = config.experiment(params, "iris-dnn")
    assert resolved.train.epochs == 300
    assert resolved.train.optimizer == params.train.keras.optimizer


def test_an_experiment_without_backend_is_one_error_naming_the_key(tmp_path):
    path = write(tmp_path, lambda p: p["experiments"]["digits-svc"].pop("backend"))
    with pytest.raises(PipelineError, match=r"params:\n  experiments\.digits-svc\.backend: Field required$"):
        config.load(path)
    resolved = config.experiment(config.load(ROOT / "params.yaml"), "digits-svc").model_dump()
    del resolved["backend"]
    with pytest.raises(ValidationError, match=r"for Experiment\nbackend\n  Field required"):
        config.Experiment.model_validate(resolved)


def test_unknown_names_list_the_known_ones():
    params = config.load(ROOT / "params.yaml")
    with pytest.raises(PipelineError, match="unknown experiment 'x'; known: .*digits-cnn"):
        config.experiment(params, "x")
    with pytest.raises(
        PipelineError, match="unknown dataset 'x'; known: digits, fortunes, fortunes_chars, iris, sunspots"
    ):
        config.dataset(params, "x")


def test_not_yaml_and_missing_file(tmp_path):
    (tmp_path / "bad.yaml").write_text("seed: [1\n")
    with pytest.raises(PipelineError, match="not valid YAML"):
        config.load(tmp_path / "bad.yaml")
    with pytest.raises(PipelineError, match="not found"):
        config.load(tmp_path / "missing.yaml")


def test_a_promote_metrics_map_keeps_the_defaults_it_leaves_out(tmp_path):
    params = config.load(
        write(tmp_path, lambda p: p["promote"].update(metrics={"classification": "macro_f1"}))
    )
    assert params.promote.metrics == {**config.PROMOTE_METRICS, "classification": "macro_f1"}


@pytest.mark.parametrize(
    "text",
    [
        "seed:\t7\ndatasets: {}\n",
        "seed: 0x10\ndatasets: {}\n",
        "seed: 7\ndatasets: {}\nx: 1e309\n",
        "y: yes\n",
    ],
)
def test_the_params_file_is_read_by_dvc_rules(tmp_path, text):
    """A tab after `seed:` or 1e309 (a float in YAML 1.2) mean to the project what they mean to DVC."""
    from dvc.utils.serialize import parse_yaml

    path = tmp_path / "params.yaml"
    path.write_text(text)
    assert config.read_yaml(path) == parse_yaml(text, str(path))


def test_the_estimator_names_are_the_backends_registries():
    from pipeline.backends.sklearn import baselines, face_completion

    assert set(get_args(config.SKLEARN_ESTIMATORS)) == set(baselines.ESTIMATORS)
    assert set(get_args(config.FACE_COMPLETION_ESTIMATORS)) == set(face_completion.estimator_names())


def test_the_activation_names_are_keras_own():
    import keras

    names = {name for name in dir(keras.activations) if not name.startswith("_")} - {
        "get",
        "serialize",
        "deserialize",
    }
    assert set(get_args(config.ACTIVATIONS)) == names


def test_each_tasks_default_promote_metric_is_one_it_writes():
    """What evaluation writes per task is checked against the registry in tests/test_metrics.py."""
    for task, metric in config.PROMOTE_METRICS.items():
        assert metric in {spec.name for spec in metrics.for_task(task)}
