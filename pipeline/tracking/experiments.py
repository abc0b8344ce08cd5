"""The MLflow experiment of a dataset (got or created, tagged for the training view) and runs in it."""

from __future__ import annotations

import logging
import os
import platform
import re
from typing import Any

from pipeline.core.errors import PipelineError
from pipeline.tracking.sqlite_store import artifact_root, sqlite_path

logger = logging.getLogger(__name__)

EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}  # UI: training view, not GenAI


def experiment_id(client: Any, name: str, uri: str) -> str:
    """Get or create the experiment (tagged for the UI's training view); safe when workers race."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None and found.lifecycle_stage == "deleted":
        raise PipelineError(
            f"MLflow experiment {name!r} (id {found.experiment_id}) is deleted: restore it with "
            f"`mlflow experiments restore --experiment-id {found.experiment_id}` or purge it with `mlflow gc`"
        )
    if found is not None:
        if found.tags.get("mlflow.experimentKind") != EXPERIMENT_KIND["mlflow.experimentKind"]:
            for key, value in EXPERIMENT_KIND.items():
                client.set_experiment_tag(found.experiment_id, key, value)
        return found.experiment_id
    db = sqlite_path(uri)
    location = (artifact_root(db) / re.sub(r"[^\w.-]", "_", name)).as_uri() if db else None
    try:
        return client.create_experiment(name, artifact_location=location, tags=EXPERIMENT_KIND)
    except MlflowException:  # another worker created it between our look-up and create
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def run_exists(client: Any, run_id: str) -> bool:
    """False when the store answers that the run does not exist (e.g. mlflow.db was deleted)."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_run(run_id)
    except MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise
    return True


def end_abandoned_runs(client: Any, experiment_id: str, name: str, *, keep: str) -> None:
    """Mark KILLED this experiment's RUNNING runs whose stage process on this host is gone (SIGKILL, OOM).

    A stage that dies in Python ends its run FAILED or KILLED itself; only an uncatchable death leaves
    one RUNNING. Runs of other hosts are left alone: their processes cannot be checked from here.
    """
    query = (
        f"attributes.status = 'RUNNING' and tags.`pipeline.experiment` = '{name}' "
        f"and tags.`pipeline.host` = '{platform.node()}'"
    )
    for found in client.search_runs([experiment_id], query, max_results=100):
        pid = found.data.tags.get("pipeline.pid", "")
        if found.info.run_id != keep and pid.isdigit() and not _alive(int(pid)):
            logger.warning("MLflow run %s lost its stage (process %s): marked KILLED", found.info.run_id, pid)
            client.set_terminated(found.info.run_id, status="KILLED")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
