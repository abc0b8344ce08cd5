"""How a tuning worker tells the stages of its trial's `dvc exp run` which study and trial they serve.

Environment variables, not params: they reach every stage of the run and change no stage's hash, so a
point the run-cache already holds is restored, not retrained.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

STORAGE = "PIPELINE_TUNE_STORAGE"  # the study's storage URL
STUDY = "PIPELINE_TUNE_STUDY"
TRIAL = "PIPELINE_TUNE_TRIAL"  # the trial's number in its study
TRIAL_ID = "PIPELINE_TUNE_TRIAL_ID"  # its id in the storage
PARENT_RUN = "PIPELINE_TUNE_PARENT_RUN"  # the study's MLflow run, under which trial runs nest


@dataclass(frozen=True)
class TrialEnv:
    storage: str
    study: str
    number: int
    trial_id: int
    parent_run: str

    def variables(self) -> dict[str, str]:
        return {
            STORAGE: self.storage,
            STUDY: self.study,
            TRIAL: str(self.number),
            TRIAL_ID: str(self.trial_id),
            PARENT_RUN: self.parent_run,
        }


def current() -> TrialEnv | None:
    """The trial this process serves, or None outside a tuning worker's `dvc exp run`."""
    if not os.environ.get(STUDY):
        return None
    return TrialEnv(
        storage=os.environ[STORAGE],
        study=os.environ[STUDY],
        number=int(os.environ[TRIAL]),
        trial_id=int(os.environ[TRIAL_ID]),
        parent_run=os.environ.get(PARENT_RUN, ""),
    )


def run_tags() -> dict[str, str]:
    """MLflow tags of a trial's run: its study and number, nested under the study's run."""
    trial = current()
    if trial is None:
        return {}
    tags = {"pipeline.study": trial.study, "pipeline.trial": str(trial.number)}
    if trial.parent_run:
        tags["mlflow.parentRunId"] = trial.parent_run
    return tags
