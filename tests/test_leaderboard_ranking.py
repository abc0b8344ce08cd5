"""The leaderboard ranks each dataset by the metric `promote.metrics` names for its task, so its #1 is
the experiment `promote` picks from the same results: the `report` and `promote` stages on written
results, and `dvc repro` re-ranking when `promote.metrics` changes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from pipeline.core import paths, storage
from stages import promote as promote_stage
from stages import report as report_stage
from tests.conftest import ROOT, make_project, run, shrink_params

EXPERIMENTS = {
    "digits-logreg": {"dataset": "digits", "backend": "sklearn", "model": "logreg"},
    "digits-svc": {"dataset": "digits", "backend": "sklearn", "model": "svc"},
}
# svc has the better accuracy, logreg the better macro F1 (svc never predicts a rare class)
TEST_METRICS = {
    "digits-logreg": {"accuracy": 0.90, "macro_f1": 0.89, "log_loss": 0.30},
    "digits-svc": {"accuracy": 0.92, "macro_f1": 0.80, "log_loss": 0.25},
}


def edit_params(params: dict, ranked_by: str = "macro_f1") -> None:
    shrink_params(params, EXPERIMENTS)
    params["promote"]["metrics"]["classification"] = ranked_by


def write_results(project: Path) -> None:
    """What `train` and `evaluate` write for each experiment (untracked: no MLflow run)."""
    for name, spec in EXPERIMENTS.items():
        results = project / paths.results_dir(name)
        trained = {**spec, "family": "sklearn", "task": "classification", "fit_seconds": 1.0}
        storage.write_json(results / "train.json", trained)
        storage.write_json(results / "metrics.json", {"test": TEST_METRICS[name]})
        storage.write_json(results / "run.json", {"run_id": None})


def leaderboard_first(project: Path) -> str:
    """The experiment in rank 1 of the leaderboard's (only) table."""
    text = (project / paths.REPORTS_DIR / "leaderboard.md").read_text()
    return re.search(r"^\| 1 \| ([^|]+) \|", text, flags=re.MULTILINE).group(1).strip()


def test_the_leaderboards_first_is_the_experiment_promote_picks(tmp_path, monkeypatch):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    edit_params(params)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    write_results(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIPELINE_PROMOTE_DRY_RUN", "1")
    report_stage.main([])
    promote_stage.main([])
    picked = storage.read_json(paths.REPORTS_DIR / "promotion.json")["digits"]
    assert (picked["experiment"], picked["metric"]) == ("digits-logreg", "macro_f1")
    assert leaderboard_first(tmp_path) == "digits-logreg"
    text = (tmp_path / paths.REPORTS_DIR / "leaderboard.md").read_text()
    assert "ranked by test macro F1 (higher is better)" in text


@pytest.mark.e2e
def test_dvc_reranks_the_leaderboard_when_promote_metrics_change(tmp_path):
    project = make_project(tmp_path / "project", edit_params=lambda p: edit_params(p, "accuracy"))
    write_results(project)
    run(["dvc", "repro", "--single-item", "fingerprint", "report"], project)
    assert leaderboard_first(project) == "digits-svc"

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["promote"]["metrics"]["classification"] = "macro_f1"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = json.loads(run(["dvc", "status", "--json", "report"], project).stdout)
    assert "report" in status
    run(["dvc", "repro", "--single-item", "report"], project)
    assert leaderboard_first(project) == "digits-logreg"
