"""The MLflow run a stage logs to, one batch per call; a stand-in that does nothing in an outage."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pipeline.core.metrics import as_number
from pipeline.core.urls import mask_uri, scrub
from pipeline.tracking import dataset_logging, model_logging, values
from pipeline.tracking.store import describe_failure, is_http, server_base, unreachable_error
from pipeline.tracking.ui_links import LOCAL_UI, ui_url

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)


class Run:
    """One MLflow run, or a stand-in whose methods do nothing when tracking is unavailable.

    Every method batches its values into one MLflow call (a call costs ~50 ms over HTTP). A failure of
    a non-required tracker logs one warning and turns the run into the stand-in; the stage goes on.
    """

    def __init__(
        self,
        *,
        uri: str,
        required: bool,
        client: Any = None,
        run_id: str | None = None,
        experiment_id: str | None = None,
        experiment_name: str | None = None,
        error: str | None = None,
        worked_until_ms: int | None = None,
    ) -> None:
        self._uri = uri
        self._worked_until_ms = worked_until_ms  # a resumed run: when its earlier stages' work ended
        self._opened = time.monotonic()
        self._required = required
        self._client = client
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.experiment_name = experiment_name
        self.error = error
        self.url: str | None = None
        if run_id and experiment_id and is_http(uri):
            self.url = ui_url(server_base(uri), f"experiments/{experiment_id}/runs/{run_id}")

    def link(self) -> str:
        """Where to see the run: its UI URL, or for a SQLite store the `mlflow ui` command and URL."""
        if self.url:
            return self.url
        route = ui_url(LOCAL_UI, f"experiments/{self.experiment_id}/runs/{self.run_id}")
        return f"`mlflow ui --backend-store-uri {mask_uri(self._uri)}`, then {route}"

    @property
    def active(self) -> bool:
        return self._client is not None and self.error is None

    def record(self) -> dict[str, Any]:
        """What stages write to results/<experiment>/run.json."""
        return {
            "run_id": self.run_id,
            "experiment_id": self.experiment_id,
            "experiment_name": self.experiment_name,
            "tracking_uri": mask_uri(self._uri),
            "url": self.url,
            "status": "logged" if self.active else "unavailable",
            "error": self.error,
        }

    def _call(self, what: str, action: Callable[[], Any]) -> None:
        if not self.active:
            return
        try:
            action()
        except Exception as err:
            message = describe_failure(err, self._uri)
            if self._required:
                raise unreachable_error(self._uri, f"{what} failed: {message}") from err
            self.error = f"{what} failed: {message}"
            logger.warning(
                "MLflow tracking at %s failed (%s); the stage goes on without tracking",
                mask_uri(self._uri),
                self.error,
            )

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Nested dicts flattened with dots, lists as JSON, values cut to MLflow's limit; one call."""

        def send() -> None:
            from mlflow.entities import Param

            flat = values.flatten(params, ".")
            batch = [Param(values.key(key), values.param_value(value)) for key, value in flat.items()]
            self._client.log_batch(self.run_id, params=batch)

        self._call("log_params", send)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Tags known only once the stage has run (e.g. the device it trained on); one call."""

        def send() -> None:
            self._client.log_batch(self.run_id, tags=values.tag_list(tags))

        self._call("set_tags", send)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Nested dicts flattened with `_` ({"test": {"accuracy": x}} -> test_accuracy), non-numbers
        skipped; one call."""

        def send() -> None:
            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            batch = [
                Metric(values.key(key), number, now, step or 0)
                for key, value in values.flatten(metrics, "_").items()
                if (number := as_number(value)) is not None
            ]
            self._client.log_batch(self.run_id, metrics=batch)

        self._call("log_metrics", send)

    def log_history(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Per-epoch rows ({"epoch": 1, "loss": ..}) as one batch with step = epoch.

        This is the one path by which Keras per-epoch metrics reach MLflow (no autolog, no callback).
        """

        def send() -> None:
            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            batch = []
            for index, row in enumerate(rows):
                epoch = int(row.get("epoch", index + 1))
                for key, value in values.flatten(row, "_").items():
                    if key != "epoch" and (number := as_number(value)) is not None:
                        batch.append(Metric(values.key(key), number, now, epoch))
            if batch:
                self._client.log_batch(self.run_id, metrics=batch)

        self._call("log_history", send)

    def log_artifacts(self, paths: Iterable[Path], artifact_path: str | None = None) -> None:
        """Files and directories (a directory keeps its name under `artifact_path`)."""

        def upload() -> None:
            for path in map(Path, paths):
                if path.is_dir():
                    target = f"{artifact_path}/{path.name}" if artifact_path else path.name
                    self._client.log_artifacts(self.run_id, str(path), target)
                elif path.is_file():
                    self._client.log_artifact(self.run_id, str(path), artifact_path)
                else:
                    logger.warning("artifact %s does not exist; not logged", path)

        self._call("log_artifacts", upload)

    def log_dict(self, data: Mapping[str, Any], artifact_file: str) -> None:
        """A JSON (or .yaml) artifact of `data` at `artifact_file`, e.g. "evaluation/details.json"."""
        self._call("log_dict", lambda: self._client.log_dict(self.run_id, dict(data), artifact_file))

    def log_model(
        self, model: Any, *, flavor: Literal["keras", "sklearn"], input_example: np.ndarray
    ) -> None:
        """Log the model as `model` with a signature inferred on `input_example` (first rows suffice).

        scikit-learn models are written with skops, whose loader refuses types it was not told to
        trust; the MLmodel file lists as trusted only scikit-learn, numpy and the project's own
        `pipeline.*` steps. A model holding other types falls back to cloudpickle with a warning:
        loading a cloudpickle model runs arbitrary code, so load those only from a store you trust.
        """
        self._call(
            "log_model",
            lambda: model_logging.log_model(
                self._client, self._uri, self.run_id, self.experiment_id, model, flavor, input_example
            ),
        )

    def log_dataset(self, name: str, digest: str, source: str, schema: Mapping[str, Any]) -> None:
        """Record the run's input data set by its content hash (what the run trained on).

        MLflow caps a dataset digest at 36 characters: the digest is the hash's first 36 (144 bits),
        the full hash is the input tag `pipeline.data_hash`.
        """
        self._call(
            "log_dataset",
            lambda: dataset_logging.log_dataset(self._client, self.run_id, name, digest, source, schema),
        )

    def _end_time_ms(self) -> int:
        """Now, or for a resumed run its earlier end plus this stage's time: the run's duration is the
        work its stages did, not the wait between `train@` and `evaluate@` in the DAG."""
        if self._worked_until_ms is None:
            return int(time.time() * 1000)
        return self._worked_until_ms + int((time.monotonic() - self._opened) * 1000)

    def finish(self, status: str) -> None:
        """End the run with `status` (FINISHED, FAILED, KILLED), or try quietly if tracking failed mid-run."""

        def end() -> None:
            self._client.set_terminated(self.run_id, status=status, end_time=self._end_time_ms())

        if self.active:
            self._call("end run", end)
        elif self._client is not None and self.run_id is not None:
            # tracking failed mid-run: still try (once, quietly) not to leave the run RUNNING
            try:
                end()
            except Exception as err:
                logger.debug("could not end run %s: %s", self.run_id, scrub(str(err), self._uri))
