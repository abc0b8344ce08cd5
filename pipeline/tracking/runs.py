"""Opening a stage's MLflow run: `train` opens it, `evaluate` resumes it; an outage yields a stand-in.

One MLflow experiment per dataset (`<mlflow.experiment_prefix><dataset>`), one run per execution of a
project experiment, named after it (and under `dvc exp run` after the point and its changed params):
`train` opens the run, `evaluate` resumes it by the id `train` wrote to `results/<experiment>/run.json`;
the run's duration is their work, not the wait between them.

Tracking never costs a run its outputs: when the store is unreachable (checked within
`mlflow.timeout_seconds`, not MLflow's minutes of retries) or fails mid-run, a stage logs one warning and
carries on with a `Run` whose methods do nothing, unless `mlflow.required: true` asks for a
`PipelineError` instead. mlflow is imported inside functions only: importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
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
def run(experiment: Experiment, *, stage: str, run_id: str | None = None) -> Iterator[Run]:
    """Open (run_id None) or resume (run_id given, e.g. evaluate after train) the experiment's run.

    The run ends FINISHED, or FAILED when the block raises (the exception propagates). An unreachable
    or failing store raises PipelineError if `experiment.mlflow.required`, else logs one warning and
    yields a Run that does nothing and whose record says "unavailable".
    """
    uri = tracking_uri()
    with tracked(experiment, uri, lambda: _start(experiment, stage=stage, run_id=run_id, uri=uri)) as current:
        if current.active:
            logger.info("MLflow run %s of %s: %s", current.run_id, stage, current.link())
        yield current


@contextlib.contextmanager
def tracked(experiment: Experiment, uri: str, start: Callable[[], Run]) -> Iterator[Run]:
    """The run `start()` opens, ended FINISHED, or FAILED (KILLED) when the block raises an exception
    (is interrupted). When `start` fails: PipelineError if tracking is required, else one warning and a
    Run that does nothing."""
    try:
        current = start()
    except Exception as err:
        message = scrub(f"{type(err).__name__}: {err}", uri)
        if experiment.mlflow.required:
            raise unreachable_error(uri, message) from err
        logger.warning(
            "MLflow tracking at %s is unavailable (%s); running without tracking. Start the server, "
            "fix MLFLOW_TRACKING_URI, or set mlflow.required: true to make this an error",
            mask_uri(uri),
            message,
        )
        current = Run(uri=uri, required=False, error=message)
    try:
        yield current
    except BaseException as err:
        # KeyboardInterrupt / SystemExit stopped the run rather than broke it; either way the stage's
        # own exception is what propagates, never a tracking error raised while recording it
        with contextlib.suppress(PipelineError):
            current.finish("FAILED" if isinstance(err, Exception) else "KILLED")
        raise
    current.finish("FINISHED")


def _start(experiment: Experiment, *, stage: str, run_id: str | None, uri: str) -> Run:
    client = connect(uri, experiment.mlflow.timeout_seconds)
    if run_id is not None and not experiments.run_exists(client, run_id):
        logger.warning(
            "MLflow run %s (from the train stage) is not in %s; %s opens a new run",
            run_id,
            mask_uri(uri),
            stage,
        )
        run_id = None
    worked_until_ms = None
    if run_id is not None:
        existing = client.get_run(run_id)
        worked_until_ms = existing.info.end_time
        experiment_id = existing.info.experiment_id
        experiment_name = client.get_experiment(experiment_id).name
        stages = existing.data.tags.get("dvc.stages", "")
        if stage not in stages.split(","):
            stages = f"{stages},{stage}" if stages else stage
        client.update_run(run_id, status="RUNNING")
        client.log_batch(run_id, tags=values.tag_list({"dvc.stages": stages, **tags.owner_tags()}))
    else:
        experiment_name = f"{experiment.mlflow.experiment_prefix}{experiment.dataset}"
        experiment_id = experiments.experiment_id(client, experiment_name, uri)
        changes = tags.sweep_changes(experiment)
        created = client.create_run(
            experiment_id,
            run_name=tags.run_name(experiment, changes),
            tags=tags.run_tags(experiment, stage, uri, changes),
        )
        run_id = created.info.run_id
    experiments.end_abandoned_runs(client, experiment_id, experiment.name, keep=run_id)
    return Run(
        uri=uri,
        required=experiment.mlflow.required,
        client=client,
        run_id=run_id,
        experiment_id=experiment_id,
        experiment_name=experiment_name,
        worked_until_ms=worked_until_ms,
    )
