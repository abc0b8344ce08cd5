"""The team stack of `scripts/services` (PostgreSQL, an S3 store, MLflow with login) for tests and
benchmarks: a throw-away one on free ports in a fresh folder, or a running one named by its folder."""

from __future__ import annotations

import contextlib
import random
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.workflow.environment import child_env
from pipeline.workflow.mlflow_server import free_port
from pipeline.workflow.project_copy import ROOT

SCRIPT = ROOT / "scripts" / "services"
S3_PORTS = 10  # the S3 store takes S3_PORT and the nine ports above it


@dataclass(frozen=True)
class Stack:
    """A running stack: its state folder, the env file's values and the seconds `up` took."""

    state: Path
    env: dict[str, str]  # MLFLOW_TRACKING_*, AWS_* (the developers' keys), PIPELINE_DVC_REMOTE
    ready_seconds: int

    @property
    def env_file(self) -> Path:
        return self.state / "env"

    @property
    def tracking_uri(self) -> str:
        return self.env["MLFLOW_TRACKING_URI"]

    @property
    def s3_endpoint(self) -> str:
        return self.env["AWS_ENDPOINT_URL"]

    @property
    def dvc_remote(self) -> str:
        return self.env["PIPELINE_DVC_REMOTE"]

    def s3_keys(self, who: str) -> tuple[str, str]:
        """(access key, secret) of "SERVER" (bucket mlflow) or "DEVELOPER" (bucket dvc)."""
        keys = read_env_file(self.state / "s3" / "keys")
        return keys[f"{who}_ACCESS_KEY"], keys[f"{who}_SECRET_KEY"]

    def script(
        self, command: str, *args: str, cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        """`scripts/services COMMAND ARGS` on this stack; PipelineError with its stderr unless check=False."""
        return _services(script_env(self.state), command, *args, cwd=cwd, check=check)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as a dict."""
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def script_env(state: Path, **overrides: str) -> dict[str, str]:
    """The environment scripts/services runs in: this stack's folder, no checkout's DVC config touched."""
    return child_env(isolated=True, SERVICES_STATE_DIR=str(state), SERVICES_DVC_PROJECT="", **overrides)


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free ports on 127.0.0.1, below the ephemeral range."""
    for _ in range(200):
        first = random.randrange(20000, 32000 - count)
        if all(_is_free(first + offset) for offset in range(count)):
            return first
    raise PipelineError(f"no {count} consecutive free ports between 20000 and 32000")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _services(env: dict[str, str], command: str, *args: str, cwd: Path | None = None, check: bool = True):
    result = subprocess.run([SCRIPT, command, *args], env=env, cwd=cwd, text=True, capture_output=True)
    if check and result.returncode != 0:
        raise PipelineError(
            f"scripts/services {command} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result


def _up(state: Path, env: dict[str, str]) -> Stack:
    said = _services(env, "up")
    ready = int(re.search(r"stack ready in (\d+) s", said.stdout).group(1))
    return Stack(state, read_env_file(state / "env"), ready)


@contextlib.contextmanager
def running(parent: Path, shared: Path | None = None) -> Iterator[Stack]:
    """The stack in folder `shared` (brought up if needed, left running), or without it a throw-away
    stack on free ports in a new folder under `parent`, stopped and deleted at the end. `parent` must
    be short (Unix socket paths) and enterable by the `postgres` user: the system's temp folder is."""
    if shared is not None:
        yield _up(shared, script_env(shared))
        return
    state = Path(tempfile.mkdtemp(prefix="stack-", dir=parent))
    state.chmod(0o755)
    ports = {"POSTGRES_PORT": free_port(), "S3_PORT": free_port_block(S3_PORTS), "MLFLOW_PORT": free_port()}
    try:
        yield _up(state, script_env(state, **{name: str(port) for name, port in ports.items()}))
    finally:
        _services(script_env(state), "down", check=False)
        shutil.rmtree(state, ignore_errors=True)
