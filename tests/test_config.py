"""params.yaml validation: every bad value is named with what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline import config
from pipeline.errors import PipelineError

ROOT = Path(__file__).resolve().parents[1]
PARAMS_FILES = [ROOT / "params.yaml", ROOT / "fashion" / "params.yaml", ROOT / "mnist" / "params.yaml"]


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
            r"models.keras.dnn.dnn.dropout_rate.*less than 1",
        ),
        (lambda p: p["datasets"]["iris"]["split"].update(test_size=1.5), r"test_size.*less than 1"),
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
            r"models.keras.cnn.cnn.filterz: Extra inputs",
        ),
        (lambda p: p["train"]["keras"].update(epochs="many"), r"train.keras.epochs.*valid integer"),
        (lambda p: p["experiments"]["digits-svc"].update(train={"epochs": 3}), r"only Keras experiments"),
        (lambda p: p["experiments"]["digits-svc"].update(backend="torch"), r"backend.*'keras' or 'sklearn'"),
        (lambda p: p["experiments"]["digits-cnn"].update(backend="sklearn"), r"unknown sklearn model 'cnn'"),
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
