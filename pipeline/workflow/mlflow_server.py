"""A local `mlflow server` on a free port, for tests and benchmarks; stopped by its process id."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from pipeline.core.errors import PipelineError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(directory: Path, timeout: float = 60) -> Iterator[tuple[str, float]]:
    """(URI, seconds until /health answered) of a one-worker server whose SQLite store, artifacts and
    log (server.log) are in `directory`. MLFLOW_* variables of the caller are not passed on; MLflow's
    job execution is off."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # else a job runner and 7 workers (~2 GB) start too
    cmd = [
        str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--backend-store-uri", f"sqlite:///{directory / 'mlflow.db'}",
        "--default-artifact-root", (directory / "artifacts").as_uri(),
    ]  # fmt: skip
    uri, log_file = f"http://127.0.0.1:{port}", directory / "server.log"
    with open(log_file, "w") as server_log:
        start = time.perf_counter()
        server = subprocess.Popen(  # its own process group: stopped with its workers by its id
            cmd, cwd=directory, env=env, stdout=server_log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            while not _healthy(uri):
                failed = "exited" if server.poll() is not None else None
                if failed is None and time.perf_counter() - start > timeout:
                    failed = f"did not answer /health within {timeout:.0f} s"
                if failed:
                    raise PipelineError(f"mlflow server {failed}:\n{log_file.read_text()[-3000:]}")
                time.sleep(0.25)
            yield uri, time.perf_counter() - start
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def _healthy(uri: str) -> bool:
    try:
        return requests.get(f"{uri}/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False
