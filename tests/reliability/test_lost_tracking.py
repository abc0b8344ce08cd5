"""A tracking server that dies mid-run, or that nobody answers for: outputs kept, the user told once."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import config
from pipeline.core import paths, storage
from pipeline.core.errors import PipelineError
from pipeline.tracking import runs
from stages import evaluate as evaluate_stage
from stages import train as train_stage
from tests.conftest import free_port, in_process, run, subprocess_env
from tests.reliability.faults import PARAMS, tree_digest, write_params

# --- the tracking server dies mid-run ------------------------------------------------------


class Outage:
    """A TCP relay in front of a live server that can go down for good, open connections included.

    Stages see the relay's address as the tracking server; `kill()` does to them what a crashed
    server does (connections reset, then refused) without stopping a server other tests share.
    """

    def __init__(self, upstream: str) -> None:
        host, port = upstream.split("//", 1)[1].rsplit(":", 1)
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.upstream)
            except OSError:
                return
            with self.lock:
                self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(): no new connections
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
                    sock.close()


@pytest.fixture
def restore_mlflow_env() -> Iterator[None]:
    """tracking sets MLFLOW_HTTP_* defaults in os.environ; leave the worker as it was."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    yield
    for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
        del os.environ[key]
    os.environ.update(saved)


@pytest.mark.e2e
def test_tracking_server_dying_mid_run_costs_no_output(
    processed_project: Path,
    tmp_path: Path,
    mlflow_server: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    restore_mlflow_env: None,
) -> None:
    outage = Outage(mlflow_server)
    uri, masked = f"http://alice:s3cret@127.0.0.1:{outage.port}", f"http://alice:***@127.0.0.1:{outage.port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    params = copy.deepcopy(PARAMS)
    params["experiments"] = {"iris-logreg": {"dataset": "iris", "backend": "sklearn", "model": "logreg"}}
    params["mlflow"].update(timeout_seconds=2, experiment_prefix="reliability-")
    params_file = write_params(tmp_path / "params.yaml", params)
    argv = ["iris-logreg", "--params", str(params_file)]
    results = processed_project / paths.results_dir("iris-logreg")

    with contextlib.chdir(processed_project):
        assert in_process(train_stage.main, argv) == (0, [])
    record = storage.read_json(results / "run.json")
    assert record["status"] == "logged" and record["tracking_uri"] == masked
    from mlflow import MlflowClient

    logged = MlflowClient(tracking_uri=mlflow_server).get_run(record["run_id"])
    assert logged.data.tags["tracking.uri"] == masked
    assert "s3cret" not in json.dumps([logged.data.tags, logged.data.params])

    # evaluate resumes the run, then the server goes down while the figures are drawn
    original_assess = evaluate_stage.assessment.assess

    def assess_then_lose_the_server(*args, **kwargs):
        result = original_assess(*args, **kwargs)
        outage.kill()
        return result

    monkeypatch.setattr(evaluate_stage.assessment, "assess", assess_then_lose_the_server)
    with contextlib.chdir(processed_project), caplog.at_level(logging.WARNING, logger="pipeline.tracking"):
        assert in_process(evaluate_stage.main, argv) == (0, [])
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("pipeline.tracking")]
    assert len(warnings) == 1 and masked in warnings[0] and "log_metrics failed" in warnings[0], warnings
    details = storage.read_json(results / "details.json")
    assert details["tracking"]["status"] == "unavailable" and "log_metrics" in details["tracking"]["error"]
    assert set(storage.read_json(results / "metrics.json")) >= {"train", "val", "test"}
    assert (results / "plots" / "confusion.csv").is_file()
    assert "s3cret" not in json.dumps(details)

    # the next stage (a real process) finds it down: one warning naming the masked URI, every output
    for name in ("metrics.json", "details.json"):
        (results / name).unlink()
    command = [sys.executable, "-m", "stages.evaluate", *argv]
    evaluated = run(command, processed_project, env={**subprocess_env(), "MLFLOW_TRACKING_URI": uri})
    lines = [line for line in evaluated.stderr.splitlines() if " WARNING pipeline.tracking" in line]
    assert len(lines) == 1 and masked in lines[0], evaluated.stderr
    assert "s3cret" not in evaluated.stderr and "Traceback" not in evaluated.stderr
    assert storage.read_json(results / "details.json")["tracking"]["status"] == "unavailable"
    assert (results / "metrics.json").is_file()

    # with mlflow.required: true the stages stop with a clear message and change nothing
    params["mlflow"]["required"] = True
    write_params(params_file, params)
    before = tree_digest(processed_project)
    with contextlib.chdir(processed_project):
        for main in (evaluate_stage.main, train_stage.main):
            code, errors = in_process(main, argv)
            assert code == 2 and len(errors) == 1, errors
            message = errors[0].getMessage()
            assert f"MLflow tracking at {masked} is unavailable" in message and "s3cret" not in message
            assert "mlflow.required: false" in message
    assert tree_digest(processed_project) == before


@pytest.mark.e2e
def test_tracking_password_never_reaches_stdout(
    mlflow_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture,
    restore_mlflow_env: None,
) -> None:

    relay = Outage(mlflow_server)  # a relay only: the URI then carries a password the server ignores
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://alice:s3cret@127.0.0.1:{relay.port}")
    params = copy.deepcopy(PARAMS)
    params["mlflow"]["experiment_prefix"] = "reliability-"
    experiment = config.experiment(config.Params.model_validate(params), "iris-dnn")
    with runs.run(experiment, stage="train@iris-dnn") as tracked:
        tracked.log_params({"seed": 0})
    relay.kill()
    assert tracked.record()["status"] == "logged"
    out, err = capfd.readouterr()
    assert "s3cret" not in out + err


# --- a tracking server nobody answers for: what the user is told ------------------------------


def iris_experiment(required: bool) -> config.Experiment:
    params = copy.deepcopy(PARAMS)
    params["mlflow"]["required"] = required
    return config.experiment(config.Params.model_validate(params), "iris-dnn")


def test_refused_connection_is_named_at_once_not_as_a_timeout(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, restore_mlflow_env: None
) -> None:

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")  # nobody listens
    started = time.monotonic()
    experiment = iris_experiment(required=False)
    with (
        caplog.at_level(logging.WARNING, logger="pipeline.tracking"),
        runs.run(experiment, stage="train@iris-dnn") as tracked,
    ):
        pass
    assert time.monotonic() - started < 3
    assert tracked.record()["status"] == "unavailable"
    [warning] = [r.getMessage() for r in caplog.records if r.name.startswith("pipeline.tracking")]
    assert "Connection refused" in warning and "no answer within" not in warning, warning


@pytest.mark.parametrize("required_by", ["params", "environment"])
def test_required_tracking_hint_names_what_made_it_required(
    monkeypatch: pytest.MonkeyPatch, restore_mlflow_env: None, required_by: str
) -> None:

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv(config.MLFLOW_REQUIRED_ENV, raising=False)
    if required_by == "environment":
        monkeypatch.setenv(config.MLFLOW_REQUIRED_ENV, "true")
    experiment = iris_experiment(required=required_by == "params")
    with pytest.raises(PipelineError) as raised, runs.run(experiment, stage="train@iris-dnn"):
        pass
    message = str(raised.value)
    if required_by == "environment":
        assert f"unset {config.MLFLOW_REQUIRED_ENV}" in message and "mlflow.required" not in message
    else:
        assert "set `mlflow.required: false` in params.yaml" in message
        assert config.MLFLOW_REQUIRED_ENV not in message
