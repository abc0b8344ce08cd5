"""The `team_stack` fixture: scripts/services' PostgreSQL, S3 store and MLflow server (with login).

A throw-away stack on free ports in a fresh state folder, stopped and deleted at the end of the session;
or, when SERVICES_STATE_DIR is set (`make test STACK=1`), that stack, brought up if needed and left
running.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.workflow.environment import child_env
from pipeline.workflow.mlflow_server import free_port

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "services"
S3_PORTS = 10  # the S3 store takes S3_PORT and the nine ports above it


@dataclass(frozen=True)
class Stack:
    """A running stack: its state folder, the env file's values and `scripts/services` bound to it."""

    state: Path
    env: dict[str, str]  # MLFLOW_TRACKING_*, AWS_* (the developer's keys), PIPELINE_DVC_REMOTE
    tracking_uri: str
    s3_endpoint: str
    dvc_remote: str
    script: Callable[..., subprocess.CompletedProcess]  # script("remote", env_file, cwd=clone)
    ready_seconds: int  # what `up` reported

    @property
    def env_file(self) -> Path:
        return self.state / "env"

    def s3_keys(self, who: str) -> tuple[str, str]:
        """(access key, secret) of "SERVER" (bucket mlflow) or "DEVELOPER" (bucket dvc)."""
        keys = read_env_file(self.state / "s3" / "keys")
        return keys[f"{who}_ACCESS_KEY"], keys[f"{who}_SECRET_KEY"]


def read_env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free ports on 127.0.0.1, below the ephemeral range."""
    for _ in range(200):
        first = random.randrange(20000, 32000 - count)
        if all(_is_free(first + offset) for offset in range(count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports between 20000 and 32000")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def services(env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess]:
    """scripts/services with `env`; fails the test with the script's error unless check=False."""

    def script(command: str, *args: str, cwd: Path | None = None, check: bool = True):
        result = subprocess.run([SCRIPT, command, *args], env=env, cwd=cwd, text=True, capture_output=True)
        if check and result.returncode != 0:
            pytest.fail(f"scripts/services {command} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    return script


@pytest.fixture(scope="session")
def team_stack() -> Iterator[Stack]:
    shared = os.environ.get("SERVICES_STATE_DIR")
    if shared:
        state = Path(shared)
        env = child_env(isolated=True, SERVICES_DVC_PROJECT="")
    else:  # mkdtemp, not tmp_path: short (Unix socket paths) and enterable by the `postgres` user
        state = Path(tempfile.mkdtemp(prefix="stack-"))
        state.chmod(0o755)
        env = child_env(
            isolated=True,
            SERVICES_STATE_DIR=str(state),
            SERVICES_DVC_PROJECT="",  # not this checkout's .dvc/config.local
            POSTGRES_PORT=str(free_port()),
            S3_PORT=str(free_port_block(S3_PORTS)),
            MLFLOW_PORT=str(free_port()),
        )
    script = services(env)
    try:
        ready = int(re.search(r"stack ready in (\d+) s", script("up").stdout).group(1))
        values = read_env_file(state / "env")
        yield Stack(
            state=state,
            env=values,
            tracking_uri=values["MLFLOW_TRACKING_URI"],
            s3_endpoint=values["AWS_ENDPOINT_URL"],
            dvc_remote=values["PIPELINE_DVC_REMOTE"],
            script=script,
            ready_seconds=ready,
        )
    finally:
        if not shared:
            script("down", check=False)
            shutil.rmtree(state, ignore_errors=True)
