"""The MLflow run of a tuning study: trial runs nest under it, and it ends with the study's report.

One per study, in the tuned experiment's MLflow experiment, named `tune <study>`; `make tune` opens it
once before its workers start (its id goes into the study's record) and reopens it when the study is
resumed. Unavailable tracking gives the same warning or error as a stage's run.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pipeline.core.errors import PipelineError
from pipeline.core.urls import mask_uri, scrub
from pipeline.tracking import experiments, tags, values
from pipeline.tracking.run import Run
from pipeline.tracking.store import connect, tracking_uri, unreachable_error

if TYPE_CHECKING:
    from pipeline.config import Experiment

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def study_run(experiment: Experiment, study: str, run_id: str = "") -> Iterator[Run]:
    """Open (or with `run_id` reopen) the study's run; it ends FINISHED, or KILLED / FAILED when the
    block raises."""
    uri = tracking_uri()
    try:
        current = _start(experiment, study, run_id, uri)
    except Exception as err:
        message = scrub(f"{type(err).__name__}: {err}", uri)
        if experiment.mlflow.required:
            raise unreachable_error(uri, message) from err
        logger.warning(
            "MLflow tracking at %s is unavailable (%s); the study goes on untracked", mask_uri(uri), message
        )
        current = Run(uri=uri, required=False, error=message)
    try:
        yield current
    except BaseException as err:
        with contextlib.suppress(PipelineError):
            current.finish("FAILED" if isinstance(err, Exception) else "KILLED")
        raise
    current.finish("FINISHED")


def _start(experiment: Experiment, study: str, run_id: str, uri: str) -> Run:
    client = connect(uri, experiment.mlflow.timeout_seconds)
    name = f"{experiment.mlflow.experiment_prefix}{experiment.dataset}"
    experiment_id = experiments.experiment_id(client, name, uri)
    if run_id and experiments.run_exists(client, run_id):
        client.update_run(run_id, status="RUNNING")
    else:
        run_tags = {**tags.run_tags(experiment, "tune", uri), "pipeline.study": study}
        run_id = client.create_run(experiment_id, run_name=f"tune {study}", tags=run_tags).info.run_id
    client.log_batch(run_id, tags=values.tag_list(tags.owner_tags()))
    return Run(
        uri=uri, required=experiment.mlflow.required, client=client, run_id=run_id,
        experiment_id=experiment_id, experiment_name=name,
    )  # fmt: skip
