"""The team stack (`scripts/services`) for a benchmark: up on free ports in its own folder, down after."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.commands import BenchError, log, project_env
from pipeline.workflow.mlflow_server import free_port
from tests.team_stack import S3_PORTS, SCRIPT, free_port_block, read_env_file


@dataclass(frozen=True)
class Services:
    """A running stack: the env file's values (tracking URI and login, S3 endpoint and developer keys)."""

    state: Path
    env: dict[str, str]
    ready_seconds: int

    @property
    def env_file(self) -> Path:
        return self.state / "env"

    def script(self, command: str, *args: str, cwd: Path | None = None) -> str:
        """`scripts/services COMMAND ARGS` on this stack; its stdout, or BenchError with its stderr."""
        result = subprocess.run(
            [SCRIPT, command, *args], cwd=cwd, env=self._env(), text=True, capture_output=True
        )
        if result.returncode != 0:
            raise BenchError(f"scripts/services {command} failed: {result.stderr.strip()}")
        return result.stdout

    def _env(self) -> dict[str, str]:
        return project_env(SERVICES_STATE_DIR=str(self.state), SERVICES_DVC_PROJECT="")


@contextlib.contextmanager
def running() -> Iterator[Services]:
    """PostgreSQL, the S3 store and the MLflow server (with login) on free ports; deleted when done."""
    # mkdtemp of its own: a short path (Unix sockets) whose parents the `postgres` user can enter
    state = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    state.chmod(0o755)
    ports = {"POSTGRES_PORT": free_port(), "S3_PORT": free_port_block(S3_PORTS), "MLFLOW_PORT": free_port()}
    starting = Services(state, {}, 0)
    try:
        env = {**starting._env(), **{name: str(port) for name, port in ports.items()}}  # then remembered
        said = subprocess.run([SCRIPT, "up"], env=env, text=True, capture_output=True)
        if said.returncode != 0:
            raise BenchError(f"scripts/services up failed: {said.stderr.strip()}")
        ready = int(re.search(r"stack ready in (\d+) s", said.stdout).group(1))
        log.info("team stack ready in %d s (state in %s)", ready, state)
        yield Services(state, read_env_file(state / "env"), ready)
    finally:
        subprocess.run([SCRIPT, "down"], env=starting._env(), capture_output=True)
        shutil.rmtree(state, ignore_errors=True)
