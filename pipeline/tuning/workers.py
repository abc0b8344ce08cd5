"""Running a study: `make tune` creates it and starts its workers; `join` is one worker, anywhere.

Every worker is a process of its own running Optuna's loop on the shared study (SQLite for one
machine, PostgreSQL for many); the study stops starting trials once its finished and running trials
reach `n_trials` (failed ones do not count, up to `n_trials` failures) or `timeout_minutes` passes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline import config
from pipeline.core.errors import PipelineError
from pipeline.tracking import studies
from pipeline.tuning import report, space, study
from pipeline.tuning.trials import TrialFailed, Worker
from pipeline.workflow.environment import child_env

logger = logging.getLogger(__name__)

FAILS_IN_A_ROW = 3
MISSING_OUTPUTS = "Is your cache up to date?"  # dvc exp apply's checkout found outputs it has no copy of
STORAGE_ENV = "PIPELINE_STUDY_STORAGE"  # the default storage (`make services` writes the team's)


def storage_url(project: Path, given: str | None) -> str:
    return given or os.environ.get(STORAGE_ENV) or study.default_storage(project)


def head_commit(project: Path) -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, text=True, capture_output=True)
    if result.returncode != 0:
        raise PipelineError(
            f"{project} has no git commit: trials are DVC experiments of a commit; commit first"
        )
    return result.stdout.strip()


def start(
    project: Path, experiment_name: str, *, study_name: str | None, url: str, trials: int | None,
    workers: int, heartbeat: int,
) -> Any:  # fmt: skip
    """Create (or resume) the study, run `workers` workers on it until its budget is spent, write and log
    its report; the study. A trial whose worker died is failed at the end (stale past the heartbeat's
    grace period) and its point stays queued for the study's next run."""
    import optuna

    params = config.load(project / config.DEFAULT_PARAMS)
    if experiment_name not in params.tune:
        known = ", ".join(sorted(params.tune)) or "none yet"
        raise PipelineError(
            f"no `tune.{experiment_name}` section in params.yaml (tuned experiments: {known}): add its "
            "search space and objective (docs/tuning.md)"
        )
    experiment = config.experiment(params, experiment_name)  # one that params.yaml still has
    spec = params.tune[experiment_name]
    if trials is not None:
        spec = spec.model_copy(update={"n_trials": trials})
    name = study_name or experiment_name
    record = study.Record(experiment_name, spec, params.seed, head_commit(project))
    raw = params.model_dump(mode="json", by_alias=True)
    created = study.create(url, name, record, space.baseline(spec.space, raw, experiment_name))
    with studies.study_run(experiment, name, study.record_of(created).mlflow_run_id) as run:
        # this commit's settings, the study's MLflow run (kept when resumed), the budget from now
        deadline = time.time() + spec.timeout_minutes * 60 if spec.timeout_minutes else 0.0
        study.update_record(created, replace(record, mlflow_run_id=run.run_id or "", deadline=deadline))
        run.log_params({"study": name, "space": spec.model_dump(mode="json", by_alias=True)})
        _run_workers(project, name, url, workers, heartbeat)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study.join(url, name, heartbeat_seconds=heartbeat))
        joined = study.join(url, name)
        files = report.write(joined, report.folder(project, name))
        best = _best(joined)
        if best is not None:
            objective = spec.objective
            run.log_metrics({f"best_{objective.split}_{objective.metric}": best.value, **_counts(joined)})
            run.set_tags(
                {"pipeline.best_trial": best.number, "pipeline.best_dvc_exp": best.user_attrs["dvc_exp"]}
            )
        run.log_artifacts(files, artifact_path="tune")
    return joined


def _run_workers(project: Path, name: str, url: str, count: int, heartbeat: int) -> None:
    command = [
        sys.executable,
        "-m",
        "pipeline.tuning",
        "join",
        "--study",
        name,
        "--heartbeat",
        str(heartbeat),
    ]
    env = child_env(**{STORAGE_ENV: url})  # not on the command line, where `ps` shows a password
    processes = [
        subprocess.Popen([*command, "--worker", str(index)], cwd=project, env=env) for index in range(count)
    ]
    codes = [process.wait() for process in processes]
    lost = [code for code in codes if code]
    if len(lost) == count:
        raise PipelineError(f"every worker failed (exit codes {codes}); see above")
    if lost:  # the study went on without them: a dead worker's trial fails and its point runs again
        logger.warning(
            "%d of %d workers stopped early (exit codes %s); the others finished the study",
            len(lost),
            count,
            codes,
        )


def work(project: Path, name: str, url: str, heartbeat: int, worker: int) -> None:
    """Worker number `worker`: trials of study `name` until its budget is spent."""
    import optuna

    joined = study.join(url, name, heartbeat_seconds=heartbeat, worker=worker)
    record = study.record_of(joined)
    commit = head_commit(project)
    if commit != record.commit:
        raise PipelineError(
            f"study {name!r} runs at commit {record.commit[:12]}, this clone is at {commit[:12]}: "
            f"`git checkout {record.commit[:12]}` to join it"
        )
    if _budget_spent(joined, record.spec.n_trials):
        logger.info("study %s has its %d trials", name, record.spec.n_trials)
        return

    timeout = record.deadline - time.time() if record.deadline else None  # the study's budget, not ours
    if timeout is not None and timeout <= 0:
        logger.info("study %s is past its %s-minute budget", name, record.spec.timeout_minutes)
        return
    worker = Worker(project, name, url, record, config.read_yaml(project / config.DEFAULT_PARAMS))
    stopper = _Stopper(record.spec.n_trials)
    optuna.logging.set_verbosity(optuna.logging.INFO)
    for handler in logging.getLogger("optuna").handlers:
        handler.addFilter(_one_line_for_failed_trials)
    joined.optimize(worker.objective, timeout=timeout, callbacks=[stopper], catch=(TrialFailed,))
    if stopper.gave_up:
        raise PipelineError(
            f"{FAILS_IN_A_ROW} trials in a row failed, the last with: {stopper.gave_up}. Fix that, then "
            "`make tune` again resumes the study"
        )


class _Stopper:
    """Ends a worker's loop once the study's budget is spent, or after FAILS_IN_A_ROW failed trials of
    its own in a row (a broken set-up, not a bad point: every trial would fail the same way)."""

    def __init__(self, n_trials: int) -> None:
        self.n_trials, self.failed_in_a_row, self.gave_up = n_trials, 0, ""

    def __call__(self, current: Any, trial: Any) -> None:
        self.failed_in_a_row = self.failed_in_a_row + 1 if trial.state.name == "FAIL" else 0
        if self.failed_in_a_row >= FAILS_IN_A_ROW:
            self.gave_up = trial.user_attrs.get("error", "see its log")
            current.stop()
        elif _budget_spent(current, self.n_trials):
            current.stop()


def _one_line_for_failed_trials(record: logging.LogRecord) -> bool:
    """Optuna logs a caught exception with its traceback: a failed trial's message says it all."""
    if record.exc_info and isinstance(record.exc_info[1], TrialFailed):
        record.exc_info = None
    return True


def _budget_spent(current: Any, n_trials: int) -> bool:
    states = Counter(trial.state.name for trial in current.get_trials(deepcopy=False))
    return states["COMPLETE"] + states["PRUNED"] + states["RUNNING"] >= n_trials or states["FAIL"] >= n_trials


def _best(current: Any) -> Any:
    try:
        return current.best_trial
    except ValueError:
        return None


def _counts(current: Any) -> dict[str, int]:
    states = Counter(trial.state.name.lower() for trial in current.get_trials(deepcopy=False))
    return {f"trials_{state}": states[state] for state in ("complete", "pruned", "fail")}


def best_exp(current: Any) -> str:
    """The DVC experiment of the study's best trial ("" before any finished)."""
    best = _best(current)
    return best.user_attrs["dvc_exp"] if best is not None else ""


def apply_best(project: Path, name: str, url: str) -> str:
    """`dvc exp apply` the study's best trial into the workspace; its DVC experiment name."""
    best = _best(study.join(url, name))
    if best is None:
        raise PipelineError(f"study {name!r} has no finished trial to apply yet")
    exp = best.user_attrs["dvc_exp"]
    result = subprocess.run(
        ["dvc", "exp", "apply", exp], cwd=project, env=child_env(), text=True, capture_output=True
    )
    said = (result.stderr + result.stdout).strip()
    if result.returncode != 0 and MISSING_OUTPUTS in said:  # params and dvc.lock are applied already
        logger.warning(
            "applied %s's params and dvc.lock; the DVC cache lacks outputs of stages no trial ran (no "
            "committed baseline run): `dvc repro` makes them",
            exp,
        )
    elif result.returncode != 0:
        raise PipelineError(f"dvc exp apply {exp} failed: {said}")
    return exp
