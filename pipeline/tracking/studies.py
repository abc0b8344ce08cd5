"""The MLflow run of a tuning study: trial runs nest under it, and it ends with the study's report.

One per study, in the tuned experiment's MLflow experiment, named `tune <study>`; `make tune` opens it
once before its workers start (its id goes into the study's record) and reopens it when the study is
resumed. Unavailable tracking gives the same warning or error as a stage's run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pipeline.tracking import experiments, runs, tags, values
from pipeline.tracking.run import Run
from pipeline.tracking.store import connect, tracking_uri

if TYPE_CHECKING:
    from pipeline.config import Experiment


@contextlib.contextmanager
def study_run(experiment: Experiment, study: str, run_id: str = "") -> Iterator[Run]:
    """Open (or with `run_id` reopen) the study's run; it ends as a stage's run does (runs.tracked)."""
    uri = tracking_uri()
    with runs.tracked(experiment, uri, lambda: _start(experiment, study, run_id, uri)) as current:
        yield current


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
