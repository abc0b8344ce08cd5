"""End to end: the default pipeline's text experiments, shrunk, on a tiny fortune corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core import storage
from tests.conftest import make_project, run, shrink_params
from tests.test_text import write_fortunes

pytestmark = pytest.mark.e2e

EXPERIMENTS = ("fortunes-bow", "fortunes-conv1d", "fortunes-charlstm")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    corpus = write_fortunes(tmp_path_factory.mktemp("corpus") / "fortunes", per_topic=20)

    def shrink(params: dict) -> None:
        real = params["experiments"]
        shrink_params(params, {name: real[name] for name in EXPERIMENTS}, epochs=1)
        params["datasets"]["fortunes"].update(path=str(corpus), categories=None)
        params["datasets"]["fortunes_chars"].update(path=str(corpus), categories=["food", "law"], window=8)
        for spec in params["experiments"].values():
            spec.pop("train", None)

    root = make_project(tmp_path_factory.mktemp("text_e2e") / "project", shrink)
    run(["dvc", "repro"], root)
    return root


def test_text_experiments_write_metrics_samples_and_leaderboard_rows(project):
    for name in EXPERIMENTS:
        metrics = storage.read_json(project / "results" / name / "metrics.json")
        assert set(metrics) >= {"train", "val", "test", "model_size_bytes"}
        assert (project / "results" / name / "samples.txt").read_text().strip()
    language_model = storage.read_json(project / "results" / "fortunes-charlstm" / "metrics.json")["test"]
    assert {"bits_per_char", "perplexity", "unigram_bits_per_char"} <= set(language_model)
    samples = (project / "results" / "fortunes-charlstm" / "samples.txt").read_text()
    assert samples.count("--- temperature") == 3
    bow_samples = (project / "results" / "fortunes-bow" / "samples.txt").read_text()
    assert "true " in bow_samples and "predicted " in bow_samples
    leaderboard = (project / "reports" / "leaderboard.md").read_text()
    assert "fortunes_chars" in leaderboard and "bits_per_char" in leaderboard
    promotion = storage.read_json(project / "reports" / "promotion.json")
    assert promotion["fortunes_chars"]["experiment"] == "fortunes-charlstm"
    assert (project / "data" / "processed" / "fortunes" / "vocabulary.json").exists()


def test_editing_the_text_encoding_reruns_only_that_data_set(project):
    import json

    import yaml

    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["datasets"]["fortunes"]["encoding"]["max_length"] = 16
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    stale = set(json.loads(run(["dvc", "status", "--json"], project).stdout))
    # downstream follows once data changes; `fingerprint` checks the params file first and `sources`
    # tracks the datasets section (its link stays the same)
    chain = {"download@fortunes", "validate@fortunes", "preprocess@fortunes"}
    assert stale == {"fingerprint", "sources", *chain}
