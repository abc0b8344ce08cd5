"""One trial: its point as a `dvc exp run --temp` of the experiment, judged on the metric evaluate@ wrote.

`--temp` runs each point in its own copy, so several workers share one clone; only `evaluate@<e>` and
what it needs run (never report or promote), and a point the run-cache holds is restored, not
retrained. The DVC output of each trial goes to reports/tune/<study>/trials/<number>.log.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core import storage
from pipeline.core.errors import PipelineError
from pipeline.core.trial_env import TrialEnv
from pipeline.tuning import space
from pipeline.tuning.pruning import PRUNED_AFTER
from pipeline.tuning.study import Record
from pipeline.workflow.environment import child_env

logger = logging.getLogger(__name__)

_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): ")


class TrialFailed(Exception):
    """The point's run failed (a bad point, out of memory, a bug): recorded, and the study goes on."""


@dataclass(frozen=True)
class Worker:
    """What a worker's trials share: the project, the study and where trial logs go."""

    project: Path
    study: str
    storage_url: str
    record: Record
    params: dict[str, Any]  # the params file as read: what the trials' overrides change

    @property
    def log_dir(self) -> Path:
        return self.project / "reports" / "tune" / self.study / "trials"

    def objective(self, trial: Any) -> float:
        import optuna

        values = space.suggest(trial, self.record.spec.space)
        name = f"{self.study}-{trial.number}"
        trial.set_user_attr("dvc_exp", name)
        env = TrialEnv(self.storage_url, self.study, trial.number, trial._trial_id, self.record.mlflow_run_id)
        output = self._run(name, space.changes(values, self.params, self.record.experiment), env)
        if output.returncode != 0:
            epochs = _stored(trial).user_attrs.get(PRUNED_AFTER)  # the train stage's verdict
            if epochs is not None:
                raise optuna.TrialPruned(f"pruned after epoch {epochs}")
            reason = _reason(output.stdout)
            trial.set_user_attr("error", reason)
            raise TrialFailed(f"dvc exp run {name} failed: {reason} (log: {self._log(name)})")
        experiment = self.record.experiment
        run_record = read_output(self.project, name, f"results/{experiment}/run.json")
        trial.set_user_attr("mlflow_run_id", run_record.get("run_id") or "")
        restored = f"Running stage 'train@{experiment}'" not in output.stdout  # run-cache or baseline
        trial.set_user_attr("restored", restored)
        monitor = self.record.spec.epoch_monitor
        if restored and monitor:  # no epoch was reported: give the pruner the restored history's
            history = read_output(self.project, name, f"results/{experiment}/history.csv", parse=_csv_rows)
            for epoch, row in enumerate(history):
                if row.get(monitor):
                    trial.report(float(row[monitor]), epoch)
        metrics = read_output(self.project, name, f"results/{experiment}/metrics.json")
        objective = self.record.spec.objective
        written = metrics.get(objective.split, {})
        if objective.metric not in written:  # the same for every point: stop the study, not the trial
            raise PipelineError(
                f"tune.{experiment}.objective: {experiment} writes no {objective.split} {objective.metric}; "
                f"its {objective.split} metrics: {', '.join(sorted(written))}"
            )
        return float(written[objective.metric])

    def _run(self, name: str, values: dict[str, Any], env: TrialEnv) -> subprocess.CompletedProcess:
        target = f"evaluate@{self.record.experiment}"
        command = ["dvc", "exp", "run", "--temp", "-n", name, *space.overrides(values), target]
        result = subprocess.run(
            command, cwd=self.project, env=child_env(**env.variables()), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        storage.write_text(self._log(name), f"$ {shlex.join(command)}\n{result.stdout}")
        return result

    def _log(self, name: str) -> Path:
        return self.log_dir / f"{name.rsplit('-', 1)[1]}.log"


def _stored(trial: Any) -> Any:
    """The trial as the storage has it now: what the stages of its run wrote (a Trial object caches
    its own reports only)."""
    return next(stored for stored in trial.study.get_trials(deepcopy=False) if stored.number == trial.number)


def _reason(output: str) -> str:
    """Why the run failed: the stage's own last error (an ERROR log line or a Python exception), else
    DVC's, else the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    dvc = [line for line in lines if line.startswith("ERROR")]
    stage = [line for line in lines if " ERROR " in line or _EXCEPTION.match(line)]
    return (stage or dvc or lines or ["no output"])[-1]


def read_output(
    project: Path, experiment_name: str, path: str, parse: Callable[[str], Any] = json.loads
) -> Any:
    """An output of the DVC experiment `experiment_name` (from the DVC cache, by its git ref), parsed."""
    import dvc.api

    return parse(dvc.api.read(path, repo=str(project), rev=_exp_ref(project, experiment_name)))


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _exp_ref(project: Path, experiment_name: str) -> str:
    refs = subprocess.run(
        ["git", "for-each-ref", "--sort=-committerdate", "--format=%(refname)", "refs/exps/"],
        cwd=project, text=True, capture_output=True, check=True,
    ).stdout.split()  # fmt: skip
    return next(ref for ref in refs if ref.endswith(f"/{experiment_name}"))
