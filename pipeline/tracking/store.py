"""Where the tracking store is, and a client on it that answers within `mlflow.timeout_seconds`.

The store is `MLFLOW_TRACKING_URI` when set, else `sqlite:///$DVC_ROOT/mlflow.db`, so `dvc exp run
--queue/--temp` copies log into the workspace's store. Over HTTP every MLflow call is bounded to
`timeout_seconds` per attempt and 2 retries (MLFLOW_HTTP_REQUEST_TIMEOUT / _MAX_RETRIES /
_BACKOFF_FACTOR; values you export win).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pipeline.core.errors import PipelineError
from pipeline.core.urls import mask_uri, scrub
from pipeline.tracking.sqlite_store import prepare_sqlite, sqlite_path

DEFAULT_TIMEOUT_SECONDS = 5.0
HTTP_MAX_RETRIES = 2  # MLflow's default 7 retries with back-off block one call ~4 minutes
HTTP_BACKOFF_FACTOR = 1

_env_we_set: set[str] = set()


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


def is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def server_base(uri: str) -> str:
    """scheme://host[:port]/path of an http(s) URI without credentials (for UI links)."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


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
        raise ConnectionError(_cannot_connect(err)) from err
    if response.status_code >= 500:  # a 401/404 is a live server (auth, a proxy without /health)
        raise ConnectionError(f"tracking server answered /health with HTTP {response.status_code}")


def describe_failure(error: BaseException, uri: str) -> str:
    """`Type: message` of a failed tracking call, scrubbed; a lost connection as `cannot connect: <why>`
    instead of MLflow's and urllib3's paragraph of wrappers around it."""
    import requests

    inner: BaseException | None = error
    while inner is not None:
        if isinstance(inner, requests.ConnectionError):
            return f"ConnectionError: {_cannot_connect(inner)}"
        inner = inner.__cause__ or inner.__context__
    return scrub(f"{type(error).__name__}: {error}", uri)


def _cannot_connect(error: BaseException) -> str:
    """`cannot connect: <the innermost reason>` ("Connection refused") of a requests error, without
    urllib3's wrapping."""
    while (inner := error.__cause__ or error.__context__) is not None:
        error = inner
    reason = error.args[-1] if isinstance(error, OSError) and error.args else error
    return f"cannot connect: {reason}"


def import_mlflow() -> ModuleType:
    """The mlflow module, imported on first use: the ~1 s a stage pays once, only when it tracks."""
    import mlflow

    return mlflow


def connect(uri: str, timeout_seconds: float) -> Any:
    """An MlflowClient on a reachable, ready store; raises on anything else (quickly)."""
    mlflow = import_mlflow()

    if is_http(uri):
        _bound_http(timeout_seconds)
        _check_server(uri, timeout_seconds)
    elif (db := sqlite_path(uri)) is not None:
        prepare_sqlite(db)
    # log_model goes through MLflow's fluent helpers, which read the global URI
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def required_client(timeout_seconds: float) -> tuple[Any, str]:
    """(an MlflowClient, the URI) of the tracking store, or the required-mode PipelineError."""
    uri = tracking_uri()
    try:
        return connect(uri, timeout_seconds), uri
    except Exception as err:
        raise unreachable_error(uri, scrub(f"{type(err).__name__}: {err}", uri)) from err


def check_reachable(timeout_seconds: float) -> None:
    """Raise the required-mode PipelineError unless the tracking store answers.

    For callers about to start `dvc repro` with tracking required: DVC deletes a stage's outputs
    before the stage runs, so a stage that finds the store down has already lost them.
    """
    required_client(timeout_seconds)


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
