"""`make tune` end to end in a project copy: two workers on one study in a real PostgreSQL, every trial a
DVC experiment logged to a live MLflow server under the study's run, and a study run again with the same
seed restored from the run-cache instead of retrained."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient

from pipeline.tuning import study as studies
from tests.conftest import Postgres, make_project, run, shrink_params, subprocess_env

pytestmark = pytest.mark.e2e

EXPERIMENT = "iris-logreg"
C = "models.sklearn.logreg.hyperparameters.C"


def shrink(params: dict) -> None:
    shrink_params(params, {EXPERIMENT: {"dataset": "iris", "backend": "sklearn", "model": "logreg"}})
    params["mlflow"].update(experiment_prefix="tune-", required=True)
    params["tune"] = {
        EXPERIMENT: {
            "space": {C: {"float": [0.001, 100.0], "log": True}},
            "objective": {"metric": "log_loss"},
        }
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, mlflow_server: str) -> Path:
    """A copy whose baseline ran and is committed: trials are experiments of the last commit."""
    copy = make_project(tmp_path_factory.mktemp("tune") / "project", shrink)
    run(["dvc", "repro"], copy, env={**subprocess_env(), "MLFLOW_TRACKING_URI": mlflow_server})
    run(["git", "add", "-A"], copy)
    run(["git", "commit", "-qm", "baseline"], copy)
    return copy


def tune(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline.tuning", "run", EXPERIMENT, *args]
    return run(command, project, env={**subprocess_env(), **env})


def exp_names(project: Path) -> set[str]:
    refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], project).stdout.split()
    return {ref.rsplit("/", 1)[1] for ref in refs}


def test_two_workers_share_a_study_in_postgresql_and_log_every_trial(
    project: Path, postgres: Postgres, mlflow_server: str
) -> None:
    env = {**postgres.env, "MLFLOW_TRACKING_URI": mlflow_server}
    said = tune(
        project, "--study", "pg", "--trials", "6", "--workers", "2", "--storage", postgres.url, env=env
    )
    assert "best trial: DVC experiment pg-" in said.stderr

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PGPASSWORD", postgres.env["PGPASSWORD"])
        done = studies.join(postgres.url, "pg")
    trials = done.get_trials(deepcopy=False)
    assert sorted(trial.number for trial in trials) == list(range(6)), "six trials, none run twice"
    assert {trial.state for trial in trials} == {optuna.trial.TrialState.COMPLETE}
    baseline = trials[0]
    assert baseline.user_attrs["baseline"] and baseline.params[C] == 1.0 and baseline.user_attrs["restored"]
    assert done.best_value <= baseline.value, "the study's best is at least the default point"
    assert {f"pg-{number}" for number in range(6)} <= exp_names(project)

    client = MlflowClient(mlflow_server)
    study_run = client.get_run(studies.record_of(done).mlflow_run_id)
    assert study_run.info.run_name == "tune pg" and study_run.info.status == "FINISHED"
    assert study_run.data.metrics["best_val_log_loss"] == pytest.approx(done.best_value)
    logged = {item.path for item in client.list_artifacts(study_run.info.run_id, "tune")}
    assert {"tune/summary.md", "tune/trials.csv", "tune/history.png"} <= logged
    trained = [trial for trial in trials if not trial.user_attrs["restored"]]
    for trial in trained:
        tags = client.get_run(trial.user_attrs["mlflow_run_id"]).data.tags
        assert (tags["pipeline.study"], tags["pipeline.trial"]) == ("pg", str(trial.number))
        assert tags["mlflow.parentRunId"] == study_run.info.run_id
        assert tags["dvc.exp_name"] == f"pg-{trial.number}"

    assert run(["git", "status", "--porcelain"], project).stdout == "", "the workspace is untouched"
    report = project / "reports" / "tune" / "pg"
    assert sorted(path.name for path in (report / "trials").iterdir()) == [f"{n}.log" for n in range(6)]
    assert "pg" in (report / "summary.md").read_text().splitlines()[0]


def test_a_study_run_again_with_the_same_seed_is_restored_from_the_run_cache(
    project: Path, mlflow_server: str
) -> None:
    env = {"MLFLOW_TRACKING_URI": mlflow_server}
    for name in ("first", "again"):
        tune(project, "--study", name, "--trials", "3", env=env)
    url = studies.default_storage(project)
    first, again = (studies.join(url, name).get_trials(deepcopy=False) for name in ("first", "again"))
    assert [trial.params for trial in again] == [trial.params for trial in first]
    assert [trial.value for trial in again] == [trial.value for trial in first]
    assert all(trial.user_attrs["restored"] for trial in again), "no point was trained twice"
    assert [t.user_attrs["mlflow_run_id"] for t in again] == [t.user_attrs["mlflow_run_id"] for t in first]
