"""Rejected params never open an MLflow run: the stage stops with one message before tracking starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stages import download, preprocess, train
from tests.conftest import ROOT, in_process


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """iris preprocessed, one logistic regression whose C is out of range, a SQLite store of its own."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["datasets"] = {"iris": params["datasets"]["iris"]}
    params["models"]["sklearn"]["logreg"]["hyperparameters"]["C"] = -1.0
    params["experiments"] = {"iris-logreg": {"dataset": "iris", "backend": "sklearn", "model": "logreg"}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / ".dvc").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    download.main(["iris"])
    preprocess.main(["iris"])
    return tmp_path


def test_an_out_of_range_hyperparameter_stops_train_before_a_run_opens(project: Path) -> None:
    code, errors = in_process(train.main, ["iris-logreg"])
    assert code == 2
    (message,) = [record.getMessage() for record in errors]
    assert "'C' parameter of LogisticRegression" in message and "Got -1.0" in message
    assert not (project / "mlflow.db").exists()  # tracking never started: no store, no run
