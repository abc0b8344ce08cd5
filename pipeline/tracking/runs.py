"""MLflow tracking for the stages; with registry.py, the only modules in the project that import mlflow.

One MLflow experiment per dataset (`<mlflow.experiment_prefix><dataset>`), one run per execution of a
project experiment, named after it (and under `dvc exp run` after the point and its changed params):
`train` opens the run, `evaluate` resumes it by the id `train` wrote to `results/<experiment>/run.json`;
the run's duration is their work, not the wait between them. The store is `MLFLOW_TRACKING_URI` when
set, else `sqlite:///$DVC_ROOT/mlflow.db`, so `dvc exp run --queue/--temp` copies log into the
workspace's store.

Tracking never costs a run its outputs: when the store is unreachable (checked within
`mlflow.timeout_seconds`, not MLflow's minutes of retries) or fails mid-run, a stage logs one warning and
carries on with a `Run` whose methods do nothing, unless `mlflow.required: true` asks for a
`PipelineError` instead. Over HTTP every MLflow call is bounded to `timeout_seconds` per attempt and
2 retries (MLFLOW_HTTP_REQUEST_TIMEOUT / _MAX_RETRIES / _BACKOFF_FACTOR; values you export win).

mlflow is imported inside functions only: importing this module stays cheap for `dvc status`.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import json
import logging
import math
import os
import platform
import re
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pipeline.core.errors import PipelineError
from pipeline.core.metrics import as_number
from pipeline.models import skops_trust
from pipeline.tracking.ui_links import LOCAL_UI, ui_url

if TYPE_CHECKING:
    import numpy as np

    from pipeline.config import Experiment

logger = logging.getLogger(__name__)

EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}  # UI: training view, not GenAI
MAX_RUN_NAME = 250
MODEL_NAME = "model"  # the name every run logs its model under: runs:/<run_id>/model
DEFAULT_TIMEOUT_SECONDS = 5.0
VERSION_PACKAGES = ("tensorflow", "keras", "scikit-learn", "mlflow", "numpy", "dvc")
MAX_PARAM_VALUE = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
MAX_TAG_VALUE = 8000  # mlflow.utils.validation.MAX_TAG_VAL_LENGTH
MAX_DIGEST = 36  # MLflow's limit on a dataset digest
MAX_KEY = 250  # mlflow.utils.validation.MAX_ENTITY_KEY_LENGTH
HTTP_MAX_RETRIES = 2  # MLflow's default 7 retries with back-off block one call ~4 minutes
HTTP_BACKOFF_FACTOR = 1

_SECRET_IN_NETLOC = re.compile(r"(?<=//)([^/?#@\s:]*):[^/?#@\s]*@")
_SECRET_IN_QUERY = re.compile(
    r"((?:password|passwd|pwd|token|secret|access_key|api_key)[^=&\s]*=)[^&\s]*", re.IGNORECASE
)
_BAD_KEY_CHARACTERS = re.compile(r"[^\w\-./ :]")
_prepared_stores: set[str] = set()  # sqlite files this process created/checked under the lock
_env_we_set: set[str] = set()


# --- where the store is ----------------------------------------------------------------------


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI, else sqlite:///<root>/mlflow.db with root = DVC_ROOT, the DVC repo, or cwd."""
    if uri := os.environ.get("MLFLOW_TRACKING_URI"):
        return uri
    return f"sqlite:///{_project_root() / 'mlflow.db'}"


def _project_root() -> Path:
    if root := os.environ.get("DVC_ROOT"):
        return Path(root).resolve()
    cwd = Path.cwd().resolve()
    for directory in (cwd, *cwd.parents):
        if (directory / ".dvc").is_dir():
            return directory
    return cwd


def mask_uri(uri: str) -> str:
    """The URI with any password (user:password@ or ?password=/token=) replaced by ***."""
    return _SECRET_IN_QUERY.sub(r"\1***", _SECRET_IN_NETLOC.sub(r"\1:***@", uri))


def scrub(text: str, uri: str) -> str:
    """An error message safe to log: the raw URI and any embedded secret masked."""
    return mask_uri(text.replace(uri, mask_uri(uri)))


def _is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    raw = uri[len("sqlite:///") :].split("?", 1)[0]
    return None if raw in ("", ":memory:") else Path(raw).resolve()


def _server_base(uri: str) -> str:
    """scheme://host[:port]/path of an http(s) URI without credentials (for UI links)."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


# --- getting a store ready --------------------------------------------------------------------


def _set_env_default(name: str, value: str) -> None:
    """Set an MLflow env knob unless the user set it themselves (then theirs wins)."""
    if name in os.environ and name not in _env_we_set:
        return
    os.environ[name] = value
    _env_we_set.add(name)


def _bound_http(timeout_seconds: float) -> None:
    """Bound every MLflow HTTP call: MLflow reads these on each request."""
    _set_env_default("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, math.ceil(timeout_seconds))))
    _set_env_default("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(HTTP_MAX_RETRIES))
    _set_env_default("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", str(HTTP_BACKOFF_FACTOR))
    # MLflow prints "View run … at <uri>" on every run end: with a password in the URI, into DVC's logs
    _set_env_default("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def _check_server(uri: str, timeout_seconds: float) -> None:
    """Raise ConnectionError unless the server answers GET /health within the timeout."""
    import requests

    try:
        response = requests.get(f"{uri.rstrip('/')}/health", timeout=timeout_seconds)
    except requests.Timeout as err:
        raise ConnectionError(f"no answer within {timeout_seconds:g} s") from err
    except requests.ConnectionError as err:  # refused, unknown host, reset: at once, not a timeout
        raise ConnectionError(f"cannot connect: {_root_cause(err)}") from err
    if response.status_code >= 500:  # a 401/404 is a live server (auth, a proxy without /health)
        raise ConnectionError(f"tracking server answered /health with HTTP {response.status_code}")


def _root_cause(error: BaseException) -> str:
    """The innermost reason of a requests error ("Connection refused"), without urllib3's wrapping."""
    while (inner := error.__cause__ or error.__context__) is not None:
        error = inner
    return str(error.args[-1]) if isinstance(error, OSError) and error.args else str(error)


def _prepare_sqlite(db: Path) -> None:
    """Create and migrate a SQLite store once, under a file lock beside it.

    Several processes (e.g. `dvc queue start -j 4`) opening a fresh store at once crash in MLflow's
    schema migration; one at a time they find it ready. A migrated store takes concurrent writes.
    """
    key = str(db)
    if key in _prepared_stores and db.exists():
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _marked_ready(db):  # every stage is a new process: skip the ~2 s check when done
                from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
                from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

                uri = f"sqlite:///{db}"
                store = SqlAlchemyStore(uri, _artifact_root(db).as_uri())  # tables + default experiment
                store.engine.dispose()
                RegistryStore(uri).engine.dispose()
                _ready_marker(db).write_text(_ready_stamp(db))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _prepared_stores.add(key)


def _ready_marker(db: Path) -> Path:
    return db.with_name(db.name + ".ready")


def _ready_stamp(db: Path) -> str:
    """This MLflow version and this very database file (a new or replaced file gets prepared again)."""
    import mlflow

    return f"mlflow {mlflow.__version__}, inode {db.stat().st_ino}"


def _marked_ready(db: Path) -> bool:
    marker = _ready_marker(db)
    return db.exists() and marker.exists() and marker.read_text() == _ready_stamp(db)


def _artifact_root(db: Path) -> Path:
    """Artifacts of a SQLite store live beside it, never in a `dvc exp --temp` copy that gets deleted."""
    return db.parent / "mlartifacts"


def connect(uri: str, timeout_seconds: float) -> Any:
    """An MlflowClient on a reachable, ready store; raises on anything else (quickly)."""
    import mlflow
    from mlflow import MlflowClient

    if _is_http(uri):
        _bound_http(timeout_seconds)
        _check_server(uri, timeout_seconds)
    elif (db := _sqlite_path(uri)) is not None:
        _prepare_sqlite(db)
    # log_model goes through MLflow's fluent helpers, which read the global URI
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def check_reachable(timeout_seconds: float) -> None:
    """Raise the required-mode PipelineError unless the tracking store answers.

    For callers about to start `dvc repro` with tracking required: DVC deletes a stage's outputs
    before the stage runs, so a stage that finds the store down has already lost them.
    """
    uri = tracking_uri()
    try:
        connect(uri, timeout_seconds)
    except Exception as err:
        raise unreachable_error(uri, scrub(f"{type(err).__name__}: {err}", uri)) from err


def unreachable_error(uri: str, error: str) -> PipelineError:
    from pipeline.config import MLFLOW_REQUIRED_ENV, required_by_environment

    if required_by_environment():  # names what made tracking required: params.yaml may say false
        optional = f"or unset {MLFLOW_REQUIRED_ENV} (set in the environment, it makes tracking required)"
    else:
        optional = "or set `mlflow.required: false` in params.yaml"
    return PipelineError(
        f"MLflow tracking at {mask_uri(uri)} is unavailable ({error}). Fix: start the tracking server "
        f"(e.g. `mlflow server --host 127.0.0.1 --port 5000 --backend-store-uri sqlite:///mlflow.db`), "
        f"point MLFLOW_TRACKING_URI at a reachable store, {optional} to run without tracking."
    )


# --- tags --------------------------------------------------------------------------------------


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


def _run_tags(
    experiment: Experiment, stage: str, uri: str, changes: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Tags of a new run.

    The UI's Source column shows `mlflow.source.name` (the stage, `train@<e>`), Version the commit.
    `pipeline.changed_params` lists what a `dvc exp run -S` point changed against its baseline.

    `pipeline.group` groups the runs of one sweep point / commit (DVC_EXP_NAME, else the git commit):
    group by it in the UI. There is deliberately no parent run: `train` and `evaluate` of every
    experiment are separate DVC processes (and queue workers), so a parent would have to be created,
    found and closed across processes, racing when workers start together; a tag costs nothing.
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
        **_owner_tags(),
        **_versions(),
    }
    for variable in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"):
        if value := os.environ.get(variable):
            tags[variable.lower().replace("_", ".", 1)] = value  # dvc.exp_name, dvc.exp_baseline_rev
    if changes:
        tags["pipeline.changed_params"] = ", ".join(f"{key}={value}" for key, value in changes.items())
    return tags


def _run_name(experiment: Experiment, changes: Mapping[str, str]) -> str:
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
    old = _flatten(before.model_dump(mode="json"), ".")
    new = _flatten(experiment.model_dump(mode="json"), ".")
    return {key: _param_value(value) for key, value in new.items() if key not in old or old[key] != value}


# --- flattening for params and metrics ------------------------------------------------------


def _flatten(mapping: Mapping[str, Any], separator: str, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{separator}{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(_flatten(value, separator, name))
        else:
            flat[name] = value
    return flat


def _param_value(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, list | tuple) else str(value)
    return text[:MAX_PARAM_VALUE]


def _key(name: str) -> str:
    """A metric/param key MLflow accepts (letters, digits, _ - . / space :); others become _."""
    return _BAD_KEY_CHARACTERS.sub("_", name)[:MAX_KEY]


# --- the run ----------------------------------------------------------------------------------


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
        if run_id and experiment_id and _is_http(uri):
            self.url = ui_url(_server_base(uri), f"experiments/{experiment_id}/runs/{run_id}")

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
            message = scrub(f"{type(err).__name__}: {err}", self._uri)
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

            flat = _flatten(params, ".")
            batch = [Param(_key(key), _param_value(value)) for key, value in flat.items()]
            self._client.log_batch(self.run_id, params=batch)

        self._call("log_params", send)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Tags known only once the stage has run (e.g. the device it trained on); one call."""

        def send() -> None:
            self._client.log_batch(self.run_id, tags=_tag_list(tags))

        self._call("set_tags", send)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Nested dicts flattened with `_` ({"test": {"accuracy": x}} -> test_accuracy), non-numbers
        skipped; one call."""

        def send() -> None:
            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            batch = [
                Metric(_key(key), number, now, step or 0)
                for key, value in _flatten(metrics, "_").items()
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
                for key, value in _flatten(row, "_").items():
                    if key != "epoch" and (number := as_number(value)) is not None:
                        batch.append(Metric(_key(key), number, now, epoch))
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
        self._call("log_model", lambda: self._log_model(model, flavor, input_example))

    def _log_model(self, model: Any, flavor: str, input_example: np.ndarray) -> None:
        import mlflow
        from mlflow.models import Model, infer_signature

        mlflow.set_tracking_uri(self._uri)  # Model.log uses MLflow's global URI
        if flavor == "keras":
            import mlflow.keras

            prediction = model.predict(input_example, verbose=0)
            module, kwargs = _keras_flavor(), {"model": model}
            requirements = _keras_requirements()
        elif flavor == "sklearn":
            import mlflow.sklearn

            prediction = model.predict(input_example)
            module = mlflow.sklearn
            kwargs = {"sk_model": model, **_sklearn_serialization(model)}
            requirements = mlflow.sklearn.get_default_pip_requirements(
                include_cloudpickle=kwargs["serialization_format"] == "cloudpickle",
                include_skops=kwargs["serialization_format"] == "skops",
            )
        else:
            raise ValueError(f"flavor must be 'keras' or 'sklearn', got {flavor!r}")
        # Model.log is what mlflow.keras/mlflow.sklearn.log_model call; it takes the run id explicitly
        # rather than relying on the fluent API's thread-local active run.
        # A LoggedModel created by Model.log itself lands in the fluent API's current experiment
        # (Default), not the run's, and `runs:/<run_id>/model` then fails to resolve: create it here.
        logged = mlflow.initialize_logged_model(
            name=MODEL_NAME,
            source_run_id=self.run_id,
            experiment_id=self.experiment_id,
            params=self._client.get_run(self.run_id).data.params,
        )
        Model.log(
            artifact_path=None,
            name=MODEL_NAME,
            flavor=module,
            run_id=self.run_id,
            model_id=logged.model_id,
            signature=infer_signature(input_example, prediction),
            input_example=input_example,
            pip_requirements=requirements,  # pinned here: skips a subprocess that re-imports TF
            **kwargs,
        )

    def log_dataset(self, name: str, digest: str, source: str, schema: Mapping[str, Any]) -> None:
        """Record the run's input data set by its content hash (what the run trained on).

        MLflow caps a dataset digest at 36 characters: the digest is the hash's first 36 (144 bits),
        the full hash is the input tag `pipeline.data_hash`.
        """

        def send() -> None:
            from mlflow.entities import Dataset, DatasetInput, InputTag

            if _is_http(source):
                source_type, source_json = "http", json.dumps({"url": source})
            else:
                source_type, source_json = "local", json.dumps({"uri": source})
            entity = Dataset(
                name=name,
                digest=digest[:MAX_DIGEST],
                source_type=source_type,
                source=source_json,
                schema=_tensor_schema(schema),
                profile=json.dumps(schema, default=str)[:MAX_TAG_VALUE],
            )
            tags = [InputTag("mlflow.data.context", "training"), InputTag("pipeline.data_hash", digest)]
            self._client.log_inputs(self.run_id, datasets=[DatasetInput(entity, tags=tags)])

        self._call("log_dataset", send)

    def _end_time_ms(self) -> int:
        """Now, or for a resumed run its earlier end plus this stage's time: the run's duration is the
        work its stages did, not the wait between `train@` and `evaluate@` in the DAG."""
        if self._worked_until_ms is None:
            return int(time.time() * 1000)
        return self._worked_until_ms + int((time.monotonic() - self._opened) * 1000)

    def _finish(self, status: str) -> None:
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


def _keras_flavor() -> Any:
    """mlflow.keras whose save_model first creates the model directory.

    mlflow.keras.save_model (3.17 and earlier) writes input_example.json before it creates the
    directory, so logging a Keras model with an input example fails with FileNotFoundError
    (mlflow/mlflow#16183, still open). Creating it first is harmless once that is fixed.
    """
    import types

    import mlflow.keras

    def save_model(path: str, **kwargs: Any) -> None:
        os.makedirs(path, exist_ok=True)
        mlflow.keras.save_model(path=path, **kwargs)

    return types.SimpleNamespace(__name__=mlflow.keras.__name__, save_model=save_model)


def _keras_requirements() -> list[str]:
    import mlflow.keras

    requirements = mlflow.keras.get_default_pip_requirements()
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        requirements.append(f"tensorflow=={importlib.metadata.version('tensorflow')}")
    return requirements


def _sklearn_serialization(model: Any) -> dict[str, Any]:
    """skops with the project's trusted types when they cover the model, else cloudpickle."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    unknown = skops_trust.refused_types(untrusted)
    if not unknown:
        return {"serialization_format": "skops", "skops_trusted_types": untrusted}
    logger.warning(
        "model holds types skops does not trust (%s): logging it with cloudpickle; load it only from a "
        "trusted store",
        ", ".join(unknown),
    )
    return {"serialization_format": "cloudpickle"}


def _tensor_schema(schema: Mapping[str, Any]) -> str | None:
    """MLflow's tensor schema JSON for a processed data set's input, so the UI can show it."""
    shape = schema.get("input_shape")
    if not shape:
        return None
    try:
        import numpy as np
        from mlflow.data.schema import TensorDatasetSchema
        from mlflow.types import Schema, TensorSpec

        dtype = schema.get("splits", {}).get("train", {}).get("x", {}).get("dtype", "float32")
        features = Schema([TensorSpec(np.dtype(dtype), (-1, *shape))])
        return json.dumps(TensorDatasetSchema(features).to_dict())
    except Exception:  # the schema is decoration: never lose the dataset record over it
        return None


# --- opening a run ----------------------------------------------------------------------------


@contextlib.contextmanager
def run(experiment: Experiment, *, stage: str, run_id: str | None = None) -> Iterator[Run]:
    """Open (run_id None) or resume (run_id given, e.g. evaluate after train) the experiment's run.

    The run ends FINISHED, or FAILED when the block raises (the exception propagates). An unreachable
    or failing store raises PipelineError if `experiment.mlflow.required`, else logs one warning and
    yields a Run that does nothing and whose record says "unavailable".
    """
    uri = tracking_uri()
    settings = experiment.mlflow
    try:
        current = _start(experiment, stage=stage, run_id=run_id, uri=uri)
    except Exception as err:
        message = scrub(f"{type(err).__name__}: {err}", uri)
        if settings.required:
            raise unreachable_error(uri, message) from err
        logger.warning(
            "MLflow tracking at %s is unavailable (%s); running without tracking. Start the server, "
            "fix MLFLOW_TRACKING_URI, or set mlflow.required: true to make this an error",
            mask_uri(uri),
            message,
        )
        current = Run(uri=uri, required=False, error=message)
    else:
        logger.info("MLflow run %s of %s: %s", current.run_id, stage, current.link())
    try:
        yield current
    except BaseException as err:
        # KeyboardInterrupt / SystemExit stopped the run rather than broke it; either way the stage's
        # own exception is what propagates, never a tracking error raised while recording it
        with contextlib.suppress(PipelineError):
            current._finish("FAILED" if isinstance(err, Exception) else "KILLED")
        raise
    current._finish("FINISHED")


def _start(experiment: Experiment, *, stage: str, run_id: str | None, uri: str) -> Run:
    client = connect(uri, experiment.mlflow.timeout_seconds)
    if run_id is not None and not _run_exists(client, run_id):
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
        client.log_batch(run_id, tags=_tag_list({"dvc.stages": stages, **_owner_tags()}))
    else:
        experiment_name = f"{experiment.mlflow.experiment_prefix}{experiment.dataset}"
        experiment_id = _experiment_id(client, experiment_name, uri)
        changes = sweep_changes(experiment)
        created = client.create_run(
            experiment_id,
            run_name=_run_name(experiment, changes),
            tags=_run_tags(experiment, stage, uri, changes),
        )
        run_id = created.info.run_id
    _end_abandoned_runs(client, experiment_id, experiment.name, keep=run_id)
    return Run(
        uri=uri,
        required=experiment.mlflow.required,
        client=client,
        run_id=run_id,
        experiment_id=experiment_id,
        experiment_name=experiment_name,
        worked_until_ms=worked_until_ms,
    )


def _owner_tags() -> dict[str, str]:
    """The host and process running a stage: who may tell that a RUNNING run has lost its process."""
    return {"pipeline.host": platform.node(), "pipeline.pid": str(os.getpid())}


def _tag_list(tags: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import RunTag

    return [RunTag(_key(key), str(value)[:MAX_TAG_VALUE]) for key, value in tags.items()]


def _end_abandoned_runs(client: Any, experiment_id: str, name: str, *, keep: str) -> None:
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


def _run_exists(client: Any, run_id: str) -> bool:
    """False when the store answers that the run does not exist (e.g. mlflow.db was deleted)."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_run(run_id)
    except MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise
    return True


def _experiment_id(client: Any, name: str, uri: str) -> str:
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
    db = _sqlite_path(uri)
    location = (_artifact_root(db) / re.sub(r"[^\w.-]", "_", name)).as_uri() if db else None
    try:
        return client.create_experiment(name, artifact_location=location, tags=EXPERIMENT_KIND)
    except MlflowException:  # another worker created it between our look-up and create
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id
