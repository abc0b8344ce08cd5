"""`make tune` when trials go wrong: a hopeless Keras trial pruned mid-fit, a worker killed mid-trial, a
point that crashes its run. The study records each and goes on; nothing half-written is kept."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import optuna
import psutil
import pytest
from mlflow import MlflowClient

from pipeline.tuning import study as studies
from tests.conftest import make_project, run, shrink_params, subprocess_env

pytestmark = pytest.mark.e2e

LEARNING_RATE = "train.keras.optimizer.learning_rate"
C = "models.sklearn.logreg.hyperparameters.C"
PENALTY = "models.sklearn.logreg.hyperparameters.penalty"


def shrink(params: dict) -> None:
    shrink_params(
        params,
        {
            "iris-dnn": {"dataset": "iris", "backend": "keras", "model": "iris_dnn"},
            "iris-logreg": {"dataset": "iris", "backend": "sklearn", "model": "logreg"},
            "iris-crash": {"dataset": "iris", "backend": "sklearn", "model": "logreg"},
        },
        epochs=8,
    )
    params["train"]["keras"]["optimizer"]["learning_rate"] = 0.01
    params["tune"] = {
        "iris-dnn": {  # three of four rates learn nothing in 8 epochs: worse than the median from epoch 2
            "space": {LEARNING_RATE: {"choice": [0.01, 0.00001, 0.00002, 0.000005]}},
            "objective": {"metric": "log_loss"},
            "n_trials": 3,
            "pruner": {"startup_trials": 1, "warmup_epochs": 1},
        },
        "iris-logreg": {
            "space": {C: {"float": [0.001, 100.0], "log": True}},
            "objective": {"metric": "log_loss"},
        },
        "iris-crash": {
            "space": {PENALTY: {"choice": ["l2", "l1"]}},
            "objective": {"metric": "log_loss"},
            "sampler": {"name": "grid"},
        },
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = make_project(tmp_path_factory.mktemp("tune-faults") / "project", shrink)
    run(["dvc", "repro"], copy)
    run(["git", "add", "-A"], copy)
    run(["git", "commit", "-qm", "baseline"], copy)
    return copy


def tune_command(experiment: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.tuning", "run", experiment, *args]


def trials_of(project: Path, name: str) -> list[optuna.trial.FrozenTrial]:
    return studies.join(studies.default_storage(project), name).get_trials(deepcopy=False)


def test_a_hopeless_keras_trial_is_pruned_and_leaves_nothing(project: Path) -> None:
    said = run(tune_command("iris-dnn", "--study", "prune"), project)
    trials = trials_of(project, "prune")
    pruned = [trial for trial in trials if trial.state == optuna.trial.TrialState.PRUNED]
    assert pruned, said.stderr
    assert all(trial.params[LEARNING_RATE] != 0.01 for trial in pruned)
    assert trials[0].state == optuna.trial.TrialState.COMPLETE and trials[0].params[LEARNING_RATE] == 0.01
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    record = studies.record_of(studies.join(studies.default_storage(project), "prune"))
    for trial in pruned:
        assert trial.user_attrs["pruned_after_epoch"] == 2 and sorted(trial.intermediate_values) == [0, 1]
        (logged,) = client.search_runs(
            [client.get_run(record.mlflow_run_id).info.experiment_id],
            f"tags.`pipeline.trial` = '{trial.number}'",
        )
        assert logged.info.status == "KILLED" and logged.data.tags["pipeline.trial_state"] == "pruned"
        assert f"prune-{trial.number}" not in run(["dvc", "exp", "list", "--names-only"], project).stdout
        assert (
            "pruned after epoch 2"
            in (project / "reports/tune/prune/trials" / f"{trial.number}.log").read_text()
        )
    assert not list((project / "checkpoints").glob("**/*.keras")), "no resumable state of a pruned fit"


def test_a_killed_worker_fails_its_trial_and_another_runs_the_point_again(project: Path) -> None:
    command = tune_command(
        "iris-logreg", "--study", "killed", "--trials", "4", "--workers", "2", "--heartbeat", "2"
    )
    driver = subprocess.Popen(command, cwd=project, env=subprocess_env(), text=True, stderr=subprocess.PIPE)
    victim = wait_for_a_worker_in_a_trial(project, driver)
    for process in [*victim.children(recursive=True), victim]:
        process.kill()  # as the OOM killer or a lost machine would: no clean-up
    _, stderr = driver.communicate(timeout=600)
    assert driver.returncode == 0, stderr
    assert "1 of 2 workers stopped early" in stderr

    trials = trials_of(project, "killed")
    states = [trial.state for trial in trials]
    (failed,) = [trial for trial in trials if trial.state == optuna.trial.TrialState.FAIL]
    retried = [trial for trial in trials if trial.system_attrs.get("failed_trial") == failed.number]
    assert [trial.params for trial in retried] == [failed.params], "the next worker picked the point up"
    assert states.count(optuna.trial.TrialState.COMPLETE) == 4, states
    assert optuna.trial.TrialState.RUNNING not in states


def wait_for_a_worker_in_a_trial(project: Path, driver: subprocess.Popen) -> psutil.Process:
    """A worker process of `driver` once its `dvc exp run` is running."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for worker in psutil.Process(driver.pid).children():
            if any("dvc" in " ".join(child.cmdline()) for child in worker.children(recursive=True)):
                return worker
        time.sleep(0.2)
    driver.kill()
    pytest.fail("no worker started a trial within 120 s")


def test_a_point_that_crashes_its_run_is_recorded_and_the_study_goes_on(project: Path) -> None:
    """penalty l1 is a valid value, but not with the lbfgs solver: the train stage fails at fit time."""
    said = run(tune_command("iris-crash", "--study", "crash"), project)
    trials = trials_of(project, "crash")
    by_penalty = {trial.params[PENALTY]: trial for trial in trials}
    assert sorted(by_penalty) == ["l1", "l2"]
    assert by_penalty["l2"].state == optuna.trial.TrialState.COMPLETE
    assert by_penalty["l1"].state == optuna.trial.TrialState.FAIL
    log = project / "reports/tune/crash/trials" / f"{by_penalty['l1'].number}.log"
    assert "Solver lbfgs supports only 'l2' or None penalties" in said.stderr
    assert f"(log: {log})" in said.stderr and "Solver lbfgs" in log.read_text()
