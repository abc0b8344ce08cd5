"""Tags and names of a run: git commit, package versions, DVC stage, the owning process, sweep changes."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pipeline.core import trial_env
from pipeline.core.errors import PipelineError
from pipeline.core.urls import mask_uri
from pipeline.tracking.values import flatten, param_value

if TYPE_CHECKING:
    from pipeline.config import Experiment

MAX_RUN_NAME = 250
VERSION_PACKAGES = ("tensorflow", "keras", "scikit-learn", "mlflow", "numpy", "dvc")


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def _versions() -> dict[str, str]:
    """Package versions from their metadata: reading them never imports TensorFlow."""
    versions = {"version.python": platform.python_version()}
    for package in VERSION_PACKAGES:
        try:
            versions[f"version.{package}"] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def run_tags(
    experiment: Experiment, stage: str, uri: str, changes: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Tags of a new run.

    The UI's Source column shows `mlflow.source.name` (the stage, `train@<e>`), Version the commit.
    `pipeline.changed_params` lists what a `dvc exp run -S` point changed against its baseline.

    `pipeline.group` groups the runs of one sweep point / commit (DVC_EXP_NAME, else the git commit):
    group by it in the UI. A tuning trial's run is tagged with its study and trial number and nests under
    the study's run, which `make tune` opens once before its workers start. A sweep has no parent run:
    `train` and `evaluate` of every experiment are separate DVC processes (and queue workers), so a
    parent would have to be created, found and closed across processes, racing when workers start
    together; a tag costs nothing.
    """
    commit = _git("rev-parse", "HEAD") or "unknown"
    status = _git("status", "--porcelain")
    tags = {
        "git.commit": commit,
        "mlflow.source.git.commit": commit,  # MLflow sets it only in some launch modes
        "git.dirty": "unknown" if status is None else str(bool(status)).lower(),
        "mlflow.source.name": stage,
        "mlflow.source.type": "LOCAL",
        "dvc.stage": stage,
        "dvc.stages": stage,
        "pipeline.experiment": experiment.name,
        "pipeline.dataset": experiment.dataset,
        "pipeline.model": experiment.model_name,
        "pipeline.family": experiment.model.family,
        "pipeline.backend": experiment.backend,
        "pipeline.group": os.environ.get("DVC_EXP_NAME") or commit,
        "tracking.uri": mask_uri(uri),
        **owner_tags(),
        **_versions(),
        **trial_env.run_tags(),
    }
    for variable in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"):
        if value := os.environ.get(variable):
            tags[variable.lower().replace("_", ".", 1)] = value  # dvc.exp_name, dvc.exp_baseline_rev
    if changes:
        tags["pipeline.changed_params"] = ", ".join(f"{key}={value}" for key, value in changes.items())
    return tags


def owner_tags() -> dict[str, str]:
    """The host and process running a stage: who may tell that a RUNNING run has lost its process."""
    return {"pipeline.host": platform.node(), "pipeline.pid": str(os.getpid())}


def run_name(experiment: Experiment, changes: Mapping[str, str]) -> str:
    """`<experiment>`, or under `dvc exp run` `<experiment> <dvc exp name> <changed keys>=<values>`."""
    exp_name = os.environ.get("DVC_EXP_NAME")
    if not exp_name:
        return experiment.name
    changed = " ".join(f"{key.rsplit('.', 1)[-1]}={value}" for key, value in changes.items())
    return " ".join(filter(None, (experiment.name, exp_name, changed)))[:MAX_RUN_NAME]


def sweep_changes(experiment: Experiment) -> dict[str, str]:
    """The experiment's resolved settings that differ from its `dvc exp run` baseline commit.

    Empty outside `dvc exp run`, for an experiment the baseline does not have, or without git.
    """
    baseline = os.environ.get("DVC_EXP_BASELINE_REV")
    text = _git("show", f"{baseline}:./params.yaml") if baseline else None
    if text is None:
        return {}
    from pipeline import config

    try:
        where = f"{baseline}:params.yaml"
        before = config.experiment(config.validate(config.parse_yaml(text, where), where), experiment.name)
    except PipelineError:  # the baseline's params are invalid or lack this experiment
        return {}
    old = flatten(before.model_dump(mode="json"), ".")
    new = flatten(experiment.model_dump(mode="json"), ".")
    return {key: param_value(value) for key, value in new.items() if key not in old or old[key] != value}
