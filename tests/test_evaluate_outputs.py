"""`evaluate` in-process on iris + logistic regression: what goes into metrics.json and what does not."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.core import storage
from stages import download, evaluate, preprocess, train
from tests.conftest import ROOT, shrink_params


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with iris preprocessed and a logistic regression trained on it."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    shrink_params(params, {"iris-logreg": {"dataset": "iris", "backend": "sklearn", "model": "logreg"}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / ".dvc").mkdir()  # marks the project root for the default tracking store
    monkeypatch.chdir(tmp_path)
    download.main(["iris"])
    preprocess.main(["iris"])
    train.main(["iris-logreg"])
    return tmp_path


def test_re_evaluating_a_model_rewrites_metrics_json_byte_for_byte(project):
    results = project / "results" / "iris-logreg"
    evaluate.main(["iris-logreg"])
    first = (results / "metrics.json").read_bytes()
    evaluate.main(["iris-logreg"])

    assert (results / "metrics.json").read_bytes() == first
    assert storage.read_json(results / "details.json")["inference"]["samples_per_second"] > 0


def test_inference_speed_still_reaches_mlflow(project):
    import mlflow

    evaluate.main(["iris-logreg"])
    results = project / "results" / "iris-logreg"
    logged = mlflow.MlflowClient().get_run(storage.read_json(results / "run.json")["run_id"]).data.metrics
    assert logged["inference_samples_per_second"] > 0
    assert logged["model_size_bytes"] == storage.read_json(results / "metrics.json")["model_size_bytes"]
