"""The stages in-process on a small project: a train + evaluate pair logged to a live `mlflow server`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.core import storage
from pipeline.datasets import processed
from pipeline.models import persistence, prediction
from stages import download, evaluate, preprocess, train
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e  # trains Keras; one test logs to a live `mlflow server`
EPOCHS = 3


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with iris and the Iris DNN at a few epochs, preprocessed."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["datasets"] = {"iris": params["datasets"]["iris"]}
    params["experiments"] = {"iris-dnn": {"dataset": "iris", "backend": "keras", "model": "iris_dnn"}}
    params["train"]["keras"].update(epochs=EPOCHS, batch_size=16, early_stopping_patience=0)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / ".dvc").mkdir()  # marks the project root for the default tracking store
    monkeypatch.chdir(tmp_path)
    download.main(["iris"])
    preprocess.main(["iris"])
    return tmp_path


def test_train_and_evaluate_log_one_complete_run_over_http(project, mlflow_server, monkeypatch, capfd):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    train.main(["iris-dnn"])
    evaluate.main(["iris-dnn"])
    printed = capfd.readouterr()
    assert "━" not in printed.out + printed.err  # no Keras progress bar in the stage logs

    record = storage.read_json(project / "results" / "iris-dnn" / "run.json")
    assert record["status"] == "logged"
    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    logged = client.get_run(record["run_id"])
    assert logged.info.run_name == "iris-dnn"
    assert logged.data.params["model.hidden_units"] == "[10, 20, 10]"
    assert logged.data.params["train.epochs"] == str(EPOCHS)
    assert logged.data.tags["dvc.stages"] == "train@iris-dnn,evaluate@iris-dnn"
    history = sorted(client.get_metric_history(record["run_id"], "val_loss"), key=lambda p: p.step)
    assert [point.step for point in history] == list(range(1, EPOCHS + 1))
    metrics = storage.read_json(project / "results" / "iris-dnn" / "metrics.json")
    assert logged.data.metrics["test_accuracy"] == pytest.approx(metrics["test"]["accuracy"])

    data = processed.load(project / "data" / "processed" / "iris")
    saved = persistence.load(project / "models" / "iris-dnn")
    served = mlflow.pyfunc.load_model(f"runs:/{record['run_id']}/model")
    np.testing.assert_allclose(
        np.asarray(served.predict(data.test.x)),
        prediction.predict(saved, data.test.x, data.schema),
        rtol=1e-5,
    )


def test_same_seed_same_metrics(project, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}")
    outcomes = []
    for _ in range(2):
        shutil.rmtree(project / "results", ignore_errors=True)
        train.main(["iris-dnn"])
        evaluate.main(["iris-dnn"])
        outcomes.append(storage.read_json(project / "results" / "iris-dnn" / "metrics.json"))
    for split in ("train", "val", "test"):
        assert outcomes[0][split] == outcomes[1][split]
