"""What the fault tests share: the real params, a tree digest, processes killed with their children."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from pipeline.core import storage
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def tree_digest(root: Path) -> dict[str, str | None]:
    """Every path under `root`, hidden ones included: files by content hash, directories as None."""
    return {
        str(path.relative_to(root)): storage.sha256_file(path) if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def write_params(path: Path, params: dict) -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def popen(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A process in its own session, so os.killpg reaches it and every child it started."""
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env or subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill_group(process: subprocess.Popen) -> str:
    """SIGKILL the process and its children; return what it printed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    out, _ = process.communicate(timeout=60)
    return out or ""


def wait_for(
    condition: Callable[[], Any], process: subprocess.Popen | None, timeout: float, what: str
) -> Any:
    """Poll `condition` every 10 ms until it is truthy; fail if `process` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process ended before {what}:\n{process.communicate()[0][-3000:]}")
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# models paired with data they cannot take (in the params of the `processed_project` fixture)

PAIRINGS = {
    "iris-cnn": ({"dataset": "iris", "backend": "keras", "model": "cnn"}, "cnn needs image data"),
    "iris-lstm": ({"dataset": "iris", "backend": "keras", "model": "lstm"}, "lstm needs image or sequence"),
    "iris-ridge": ({"dataset": "iris", "backend": "sklearn", "model": "ridge"}, "'ridge' is a regressor"),
    "sunspots-logreg": (
        {"dataset": "sunspots", "backend": "sklearn", "model": "logreg"},
        "'logistic_regression' is a classifier",
    ),
}


# a Keras experiment that trains long enough to be killed mid-run
EPOCHS = 30


def shrink_to_iris_dnn(params: dict) -> None:
    """Only iris and its Keras DNN: 30 epochs of batch 8, nothing that stops or slows it early."""
    params["datasets"] = {"iris": params["datasets"]["iris"]}
    params["models"] = {"sklearn": {}, "keras": {"iris_dnn": params["models"]["keras"]["iris_dnn"]}}
    train = {"epochs": EPOCHS, "batch_size": 8, "early_stopping_patience": 0}
    params["experiments"] = {
        "iris-dnn": {"dataset": "iris", "backend": "keras", "model": "iris_dnn", "train": train}
    }
    params["train"]["keras"]["reduce_lr_patience"] = 0  # its state is not in the backup
