"""The MLflow model registry for the promote stage: a model per dataset, its alias `champion`.

A version carries the metric it was promoted on (tags `promote.metric`, `promote.value`), so the next
promote compares a challenger with the stored value without reading the champion's run, and
`download_champion` fetches its model and the data description its run logged (data/schema.json,
data/vocabulary.json) so it can be re-scored on new data.

Only the workspace changes the registry. A queued or `--temp` DVC experiment (it runs in a copy under
`<workspace>/.dvc/tmp/exps/`) and any process with PIPELINE_PROMOTE_DRY_RUN=1 (a CI sweep) may read the
champion but never register a version or move the alias: see `read_only_reason`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.core.errors import PipelineError
from pipeline.core.metrics import as_number
from pipeline.core.urls import mask_uri, scrub
from pipeline.datasets.processed import ARTIFACT_DIR
from pipeline.tracking.model_logging import MODEL_NAME
from pipeline.tracking.store import DEFAULT_TIMEOUT_SECONDS, required_client, unreachable_error

logger = logging.getLogger(__name__)
CHAMPION = "champion"
DRY_RUN_VARIABLE = "PIPELINE_PROMOTE_DRY_RUN"  # 1/true/yes: decide and record, change nothing
EXPERIMENT_COPIES = (".dvc", "tmp", "exps")  # where DVC runs queued and --temp experiments


def read_only_reason(cwd: Path | None = None, environ: Mapping[str, str] = os.environ) -> str | None:
    """Why this process must not change the registry, or None when it is the workspace."""
    if environ.get(DRY_RUN_VARIABLE, "").strip().lower() in ("1", "true", "yes"):
        return f"{DRY_RUN_VARIABLE} is set"
    parts = (cwd or Path.cwd()).resolve().parts
    n = len(EXPERIMENT_COPIES)
    if any(parts[i : i + n] == EXPERIMENT_COPIES for i in range(len(parts) - n + 1)):
        name = environ.get("DVC_EXP_NAME") or "this experiment"
        return f"{name} runs in a queued or --temp copy of the workspace, not in the workspace"
    return None


def champion(
    model_name: str, *, metric_name: str | None = None, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
) -> tuple[str, float | None, str | None] | None:
    """(version, its stored metric value, its run id) of the model's champion, or None if it has none.

    The value is the one `register` stored; with `metric_name`, a champion promoted on another
    metric has value None (not comparable), with a warning.
    """
    from mlflow.exceptions import MlflowException

    client, uri = required_client(timeout_seconds)
    try:
        try:
            registered = client.get_registered_model(model_name)
        except MlflowException as err:
            if err.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        version = registered.aliases.get(CHAMPION)
        if version is None:
            return None
        details = client.get_model_version(model_name, str(version))
    except MlflowException as err:
        raise unreachable_error(uri, scrub(str(err), uri)) from err
    value = as_number(details.tags.get("promote.value"))
    stored_metric = details.tags.get("promote.metric")
    if metric_name is not None and stored_metric != metric_name:
        logger.warning(
            "champion %s v%s was promoted on %r, not %r: its value is not comparable",
            model_name,
            version,
            stored_metric,
            metric_name,
        )
        value = None
    return str(version), value, details.run_id


def register(
    run_id: str,
    model_name: str,
    metric_name: str,
    metric_value: float,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> str:
    """Register the run's logged model as a new version of `model_name`, tagged with the metric."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client, uri = required_client(timeout_seconds)
    tags = {"promote.metric": metric_name, "promote.value": repr(float(metric_value))}
    try:
        source = _logged_model_uri(client, run_id)
        version = mlflow.register_model(source, model_name, tags=tags)
    except MlflowException as err:
        raise PipelineError(
            f"cannot register the model of run {run_id} as {model_name!r} in {mask_uri(uri)}: "
            f"{scrub(str(err), uri)}. Fix: re-run `dvc repro train@<experiment>` so the run logs its model"
        ) from err
    return str(version.version)


def _logged_model_uri(client: Any, run_id: str) -> str:
    """models:/<model_id> of the run's latest LoggedModel named `model`, else runs:/<run_id>/model."""
    outputs = client.get_run(run_id).outputs
    for output in reversed(outputs.model_outputs if outputs else []):
        if client.get_logged_model(output.model_id).name == MODEL_NAME:
            return f"models:/{output.model_id}"
    return f"runs:/{run_id}/{MODEL_NAME}"


def set_champion(model_name: str, version: str, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
    """Point the alias `champion` (models:/<model_name>@champion) at `version`."""
    from mlflow.exceptions import MlflowException

    client, uri = required_client(timeout_seconds)
    try:
        client.set_registered_model_alias(model_name, CHAMPION, str(version))
    except MlflowException as err:
        raise PipelineError(
            f"cannot point {model_name}@{CHAMPION} at version {version} in {mask_uri(uri)}: "
            f"{scrub(str(err), uri)}"
        ) from err


def download_champion(
    model_name: str,
    version: str,
    run_id: str,
    destination: Path,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> tuple[Path, Path]:
    """(model directory, data directory) of version `version` of `model_name`, downloaded under
    `destination`: the logged model (MLmodel and the backend's file) and its run's `data/` artifacts."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    client, uri = required_client(timeout_seconds)
    model_dir, data_dir = destination / MODEL_NAME, destination / ARTIFACT_DIR
    model_dir.mkdir(parents=True, exist_ok=True)
    try:
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{model_name}/{version}", dst_path=str(model_dir), tracking_uri=uri
        )
        client.download_artifacts(run_id, ARTIFACT_DIR, str(destination))
    except (MlflowException, OSError) as err:
        raise PipelineError(
            f"cannot download {model_name} v{version} (run {run_id}) from {mask_uri(uri)}: "
            f"{scrub(str(err), uri)}"
        ) from err
    return model_dir, data_dir
